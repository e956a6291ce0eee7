//! A gallery for checking a batch by eye: one self-contained HTML page (thumbnails embedded as
//! data URIs, a few lines of plain JavaScript, no network) with one card per image: its overlay,
//! its name and the other columns of its row, sortable by any column, the outliers marked.

use crate::error::Result;
use base64::Engine as _;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIZE: u32 = 256;

/// Robust z-score above which a value marks its card as an outlier (Iglewicz and Hoaglin's 3.5).
pub const OUTLIER_Z: f64 = 3.5;

/// One cell of a card's table.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number (sorted numerically, checked for outliers).
    Number(f64),
    /// Anything else.
    Text(String),
}

/// One image of the gallery.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// The image's name (the card's title).
    pub name: String,
    /// The overlay shown as the thumbnail (PNG or TIFF).
    pub overlay: PathBuf,
    /// The other columns of its row, in display order.
    pub columns: Vec<(String, Value)>,
}

/// Write the gallery page for `cards` to `path` (atomically; parent folders are created). An
/// overlay that cannot be read does not stop the page: its card says "missing overlay" and why.
pub fn write_gallery(cards: &[Card], path: &Path) -> Result<()> {
    let columns = column_names(cards);
    let outliers = outlier_scores(cards, &columns);
    let thumbnails = thumbnails(cards);
    let mut body = String::new();
    for (i, card) in cards.iter().enumerate() {
        body.push_str(&card_html(card, i, &outliers[i], &thumbnails[i]));
    }
    let html = page_html(cards, &columns, &outliers, &body);
    crate::io::write_file_atomic(path, html.as_bytes())
}

/// Every column of any card, in order of first appearance, after `image`.
fn column_names(cards: &[Card]) -> Vec<String> {
    let mut names = vec!["image".to_string()];
    for card in cards {
        for (name, _) in &card.columns {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

/// A card's worst robust z-score over the numeric columns and its column, if any.
#[derive(Debug, Clone, PartialEq)]
struct Outlier {
    z: f64,
    column: String,
}

/// For each card its largest |robust z| (0.6745 (x − median) / MAD, the MAD replaced by
/// 1.2533 × the mean absolute deviation when more than half the values are equal).
fn outlier_scores(cards: &[Card], columns: &[String]) -> Vec<Option<Outlier>> {
    let mut worst: Vec<Option<Outlier>> = vec![None; cards.len()];
    for column in columns {
        let values: Vec<Option<f64>> = cards.iter().map(|c| number(c, column)).collect();
        let mut present: Vec<f64> = values.iter().flatten().copied().collect();
        let Some(scale) = robust_scale(&mut present) else {
            continue;
        };
        for (slot, v) in worst.iter_mut().zip(&values) {
            let Some(v) = v else { continue };
            let z = ((v - scale.0) / scale.1).abs();
            if slot.as_ref().is_none_or(|o| z > o.z) {
                *slot = Some(Outlier {
                    z,
                    column: column.clone(),
                });
            }
        }
    }
    worst
}

fn number(card: &Card, column: &str) -> Option<f64> {
    card.columns.iter().find_map(|(name, v)| match v {
        Value::Number(x) if name == column && x.is_finite() => Some(*x),
        _ => None,
    })
}

/// (median, the spread that makes (x − median) / spread a robust z-score), or `None` when the
/// values do not vary or are too few to judge (fewer than 4).
fn robust_scale(values: &mut [f64]) -> Option<(f64, f64)> {
    if values.len() < 4 {
        return None;
    }
    let median = median_of(values);
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    let mad = median_of(&mut deviations);
    let spread = if mad > 0.0 {
        mad / 0.6745
    } else {
        1.2533 * deviations.iter().sum::<f64>() / deviations.len() as f64
    };
    (spread > 0.0).then_some((median, spread))
}

fn median_of(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Every card's thumbnail, made on every core: decoding the overlays is most of a gallery's
/// time, and it is made once at the end of a run, when the other workers have finished.
fn thumbnails(cards: &[Card]) -> Vec<std::result::Result<String, String>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = cards.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = cards
            .chunks(chunk)
            .map(|part| {
                let made = scope.spawn(|| part.iter().map(|c| thumbnail(&c.overlay)).collect());
                (part.len(), made)
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|(len, made)| {
                made.join()
                    .unwrap_or_else(|_| vec![Err("the image decoder panicked".to_string()); len])
            })
            .collect()
    })
}

/// The overlay as a JPEG thumbnail data URI (about 10 kB: a page of 10 000 cards stays near
/// 100 MB, where PNG thumbnails of noisy images took 120 kB each), or why it cannot be shown.
fn thumbnail(overlay: &Path) -> std::result::Result<String, String> {
    let img = image::open(overlay).map_err(|e| e.to_string())?.into_rgb8();
    let small = shrink(&img, img.width().max(img.height()).div_ceil(THUMBNAIL_SIZE));
    let mut jpeg = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY);
    small
        .write_with_encoder(encoder)
        .map_err(|e| e.to_string())?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(jpeg);
    Ok(format!("data:image/jpeg;base64,{encoded}"))
}

/// `img` shrunk `k` times (at most to one pixel across its shorter side): each pixel the mean of a k × k block (a partial block at the right
/// and bottom edges is left out). Twice as fast as `image`'s `thumbnail` filter, which was half
/// of a gallery's time, and as sharp for whole-number factors.
fn shrink(img: &image::RgbImage, k: u32) -> image::RgbImage {
    let k = k.clamp(1, img.width().min(img.height()).max(1));
    let (w, h) = (img.width() / k, img.height() / k);
    let area = k * k;
    let mut out = image::RgbImage::new(w, h);
    let mut sums = vec![[0u32; 3]; w as usize];
    for row in 0..h {
        sums.iter_mut().for_each(|s| *s = [0; 3]);
        for y in row * k..row * k + k {
            for (x, sum) in sums.iter_mut().enumerate() {
                for dx in 0..k {
                    let p = img.get_pixel(x as u32 * k + dx, y).0;
                    (0..3).for_each(|c| sum[c] += p[c] as u32);
                }
            }
        }
        for (x, sum) in sums.iter().enumerate() {
            let mean = sum.map(|v| ((v + area / 2) / area) as u8);
            out.put_pixel(x as u32, row, image::Rgb(mean));
        }
    }
    out
}

/// Thumbnail JPEG quality: the outlines stay crisp enough to judge a segmentation.
const JPEG_QUALITY: u8 = 85;

fn card_html(
    card: &Card,
    index: usize,
    outlier: &Option<Outlier>,
    thumbnail: &std::result::Result<String, String>,
) -> String {
    let flagged = outlier.as_ref().filter(|o| o.z > OUTLIER_Z);
    let mut html = format!(
        "<article class=\"card{}\" id=\"card-{index}\" data-index=\"{index}\" data-outlier=\"{}\"",
        if flagged.is_some() { " outlier" } else { "" },
        outlier.as_ref().map_or(0.0, |o| o.z),
    );
    html.push_str(&thumbnail_html(card, thumbnail));
    let _ = write!(html, "<h2>{}</h2>", escape(&card.name));
    if let Some(o) = flagged {
        let _ = write!(
            html,
            "<p class=\"badge\">outlier: {} (robust z {:.1})</p>",
            escape(&o.column),
            o.z
        );
    }
    html.push_str(&table_html(card));
    html.push_str("</article>\n");
    html
}

/// The card's thumbnail, marked `data-thumb` loading → loaded/broken by the browser, or a
/// visible "missing overlay" placeholder saying why.
fn thumbnail_html(card: &Card, thumbnail: &std::result::Result<String, String>) -> String {
    match thumbnail {
        Ok(uri) => format!(
            " data-thumb=\"loading\"><img src=\"{uri}\" alt=\"{name}\" \
             onload=\"this.closest('.card').dataset.thumb='loaded'\" \
             onerror=\"this.closest('.card').dataset.thumb='broken'\">",
            name = escape(&card.name)
        ),
        Err(why) => format!(
            " data-thumb=\"missing\"><div class=\"missing\">missing overlay<br><small>{}: \
             {}</small></div>",
            escape(&card.overlay.display().to_string()),
            escape(why)
        ),
    }
}

/// The card's columns as a table whose cells carry their sort values.
fn table_html(card: &Card) -> String {
    let mut html = String::from("<table>");
    let _ = write!(
        html,
        "<tr hidden><th>image</th><td data-col=\"image\" data-v=\"{}\"></td></tr>",
        escape(&card.name)
    );
    for (name, value) in &card.columns {
        let (sort, shown) = match value {
            Value::Number(x) => (format!("{x}"), number_text(*x)),
            Value::Text(t) => (t.clone(), t.clone()),
        };
        let kind = if matches!(value, Value::Number(_)) {
            "n"
        } else {
            "t"
        };
        let _ = write!(
            html,
            "<tr><th>{n}</th><td data-col=\"{n}\" data-kind=\"{kind}\" data-v=\"{}\">{}</td></tr>",
            escape(&sort),
            escape(&shown),
            n = escape(name),
        );
    }
    html.push_str("</table>");
    html
}

/// A number for people: integers as they are, others to 4 significant digits after the point.
fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{x}");
    }
    let digits = if x.abs() >= 100.0 { 1 } else { 4 };
    let text = format!("{x:.digits$}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page_html(
    cards: &[Card],
    columns: &[String],
    outliers: &[Option<Outlier>],
    body: &str,
) -> String {
    let mut ranked: Vec<(usize, &Outlier)> = outliers
        .iter()
        .enumerate()
        .filter_map(|(i, o)| o.as_ref().filter(|o| o.z > OUTLIER_Z).map(|o| (i, o)))
        .collect();
    ranked.sort_by(|a, b| b.1.z.total_cmp(&a.1.z));
    let worst: Vec<String> = ranked
        .iter()
        .take(10)
        .map(|(i, o)| {
            format!(
                "{} ({} z {:.1})",
                escape(&cards[*i].name),
                escape(&o.column),
                o.z
            )
        })
        .collect();
    let summary = match ranked.len() {
        0 => "no outliers (robust z above 3.5 in any column)".to_string(),
        n => format!(
            "{n} outlier{}: {}",
            if n == 1 { "" } else { "s" },
            worst.join(", ")
        ),
    };
    let mut buttons = String::new();
    for column in columns
        .iter()
        .chain(std::iter::once(&"outlier".to_string()))
    {
        let _ = write!(
            buttons,
            "<button data-sort=\"{c}\">{c}</button>",
            c = escape(column)
        );
    }
    PAGE.replace("{{count}}", &cards.len().to_string())
        .replace("{{summary}}", &summary)
        .replace("{{buttons}}", &buttons)
        .replace("{{cards}}", body)
}

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>claimsh gallery ({{count}} images)</title>
<style>
body{font:14px system-ui,sans-serif;margin:1em;background:#f4f4f4;color:#222}
header{position:sticky;top:0;background:#f4f4f4;padding:.5em 0;z-index:1}
h1{font-size:1.2em;margin:0 0 .3em}
#summary{margin:.2em 0 .5em}
button{margin:0 .2em .2em 0;padding:.2em .6em;border:1px solid #999;border-radius:4px;background:#fff;cursor:pointer}
button.asc::after{content:" \25B2"}button.desc::after{content:" \25BC"}
#cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:10px}
.card{background:#fff;border:2px solid #ddd;border-radius:6px;padding:6px}
.card.outlier{border-color:#d22;background:#fff4f4}
.card img{display:block;width:256px;max-width:100%;image-rendering:pixelated}
.card[data-thumb=broken] img{display:none}
.card[data-thumb=broken]::before,.missing{display:flex;align-items:center;justify-content:center;flex-direction:column;height:120px;background:#fdd;color:#900;text-align:center}
.card[data-thumb=broken]::before{content:"missing overlay (the image did not load)"}
h2{font-size:1em;margin:.3em 0;word-break:break-all}
.badge{color:#b00;font-weight:bold;margin:.2em 0}
table{border-collapse:collapse;width:100%}th{text-align:left;font-weight:normal;color:#666;padding-right:1em}td{text-align:right;font-variant-numeric:tabular-nums}
</style></head><body>
<header><h1>{{count}} images</h1><p id="summary">{{summary}}</p>
<div id="sorts">sort by: {{buttons}}</div></header>
<main id="cards">
{{cards}}</main>
<script>
(function () {
  var grid = document.getElementById('cards');
  function value(card, key) {
    if (key === 'outlier') return {n: true, v: -parseFloat(card.dataset.outlier)};
    var cell = card.querySelector('td[data-col="' + CSS.escape(key) + '"]');
    if (!cell) return null;
    var kind = cell.dataset.kind;
    return kind === 'n' ? {n: true, v: parseFloat(cell.dataset.v)} : {n: false, v: cell.dataset.v};
  }
  function sortBy(spec) {
    var desc = spec.charAt(0) === '-', key = desc ? spec.slice(1) : spec;
    var cards = Array.prototype.slice.call(grid.children);
    cards.sort(function (a, b) {
      var x = value(a, key), y = value(b, key);
      if (!x || !y) return (!x) - (!y) || a.dataset.index - b.dataset.index;
      var c = x.n && y.n ? x.v - y.v : String(x.v).localeCompare(String(y.v), undefined, {numeric: true});
      return (desc ? -c : c) || a.dataset.index - b.dataset.index;
    });
    cards.forEach(function (c) { grid.appendChild(c); });
    document.querySelectorAll('#sorts button').forEach(function (b) {
      b.className = b.dataset.sort === key ? (desc ? 'desc' : 'asc') : '';
    });
    document.body.dataset.sorted = spec;
    if (history.replaceState) history.replaceState(null, '', '#sort=' + encodeURIComponent(spec));
  }
  document.querySelectorAll('#sorts button').forEach(function (b) {
    b.addEventListener('click', function () {
      var now = document.body.dataset.sorted || '';
      sortBy(now === b.dataset.sort ? '-' + b.dataset.sort : b.dataset.sort);
    });
  });
  var asked = /[#?&]sort=([^&#]*)/.exec(location.hash + '&' + location.search);
  if (asked) sortBy(decodeURIComponent(asked[1]));
})();
</script>
</body></html>
"#;

impl Card {
    /// A card for `name` with its overlay at `overlay` and no columns yet.
    pub fn new(name: impl Into<String>, overlay: impl Into<PathBuf>) -> Card {
        Card {
            name: name.into(),
            overlay: overlay.into(),
            columns: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(name: &str, count: f64) -> Card {
        let mut card = Card::new(name, "nowhere.png");
        card.columns.push(("count".into(), Value::Number(count)));
        card.columns
            .push(("note".into(), Value::Text("<b>".into())));
        card
    }

    #[test]
    fn the_one_image_far_from_the_others_is_marked_an_outlier() {
        let counts = [40.0, 41.0, 39.0, 40.0, 42.0, 38.0, 3.0];
        let cards: Vec<Card> = (0..counts.len())
            .map(|i| card(&format!("img{i}"), counts[i]))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g/index.html");
        write_gallery(&cards, &path).unwrap();
        let html = std::fs::read_to_string(&path).unwrap();
        assert_eq!(html.matches("class=\"card outlier\"").count(), 1);
        assert!(html.contains("id=\"card-6\" data-index=\"6\""));
        assert!(
            html.contains("1 outlier: img6 (count z"),
            "the summary names it"
        );
        assert!(!html.contains("<b>"), "text is escaped");
    }

    #[test]
    fn numbers_are_shown_short() {
        assert_eq!(number_text(40.0), "40");
        assert_eq!(number_text(312.456), "312.5");
        assert_eq!(number_text(0.123456), "0.1235");
    }
}

#[cfg(test)]
mod shrink_tests {
    use super::shrink;

    /// Each thumbnail pixel is the rounded mean of its block; a partial block at the edge is left
    /// out, and a factor of 1 keeps the image.
    #[test]
    fn shrinking_averages_whole_blocks() {
        let img = image::RgbImage::from_fn(5, 4, |x, y| {
            image::Rgb([(x * 10) as u8, (y * 20) as u8, 255])
        });
        let small = shrink(&img, 2);
        assert_eq!(small.dimensions(), (2, 2));
        assert_eq!(small.get_pixel(0, 0).0, [5, 10, 255]); // mean of 0,10,0,10 and 0,0,20,20
        assert_eq!(small.get_pixel(1, 1).0, [25, 50, 255]);
        assert_eq!(shrink(&img, 1), img);
        assert_eq!(shrink(&img, 99).dimensions(), (1, 1));
    }
}
