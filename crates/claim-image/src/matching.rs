//! Scoring a segmentation against annotated objects: one-to-one matches at an IoU threshold
//! (the Data Science Bowl 2018 / BBBC038 rule).

use crate::error::{Error, Result};
use crate::image::{Image, Labels};
use std::collections::HashMap;

/// Counts of a match between predicted and true objects, and the scores made from them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchCounts {
    /// Predicted objects matched to a true one.
    pub tp: usize,
    /// Predicted objects matched to none.
    pub fp: usize,
    /// True objects matched to none.
    pub fn_: usize,
}

impl MatchCounts {
    /// TP / (TP + FP); 1 when nothing was predicted.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// TP / (TP + FN); 1 when there is nothing to find.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// 2TP / (2TP + FP + FN); 1 when both sides are empty.
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// Match the objects of `pred` to those of `truth`: a pair matches when its intersection over
/// union is strictly above `iou` (≥ 0.5 makes a match unique, so no assignment is needed).
/// Labels need not be consecutive; 0 is background in both.
pub fn match_labels(pred: &Labels, truth: &Labels, iou: f64) -> Result<MatchCounts> {
    if (pred.width, pred.height) != (truth.width, truth.height) {
        return Err(Error::Argument(format!(
            "match_labels: the prediction is {}x{} but the truth is {}x{}",
            pred.width, pred.height, truth.width, truth.height
        )));
    }
    if !(0.5..1.0).contains(&iou) {
        return Err(Error::Argument(format!(
            "match_labels: iou must be in 0.5..1 (a match is then unique), got {iou}"
        )));
    }
    let (pred_area, truth_area, overlap) = areas(pred, truth);
    let mut pred_matched: HashMap<u32, bool> = pred_area.keys().map(|&k| (k, false)).collect();
    let mut tp = 0;
    for (&(p, t), &inter) in &overlap {
        let union = pred_area[&p] + truth_area[&t] - inter;
        if inter as f64 > iou * union as f64 && !pred_matched[&p] {
            pred_matched.insert(p, true);
            tp += 1;
        }
    }
    Ok(MatchCounts {
        tp,
        fp: pred_area.len() - tp,
        fn_: truth_area.len() - tp,
    })
}

type Areas = HashMap<u32, u64>;

/// Pixels per predicted label, per true label, and per overlapping (pred, truth) pair.
fn areas(pred: &Labels, truth: &Labels) -> (Areas, Areas, HashMap<(u32, u32), u64>) {
    let (mut pa, mut ta, mut both) = (HashMap::new(), HashMap::new(), HashMap::new());
    for (&p, &t) in pred.data.iter().zip(&truth.data) {
        if p > 0 {
            *pa.entry(p).or_insert(0) += 1;
        }
        if t > 0 {
            *ta.entry(t).or_insert(0) += 1;
        }
        if p > 0 && t > 0 {
            *both.entry((p, t)).or_insert(0) += 1;
        }
    }
    (pa, ta, both)
}

impl Labels {
    /// A label image read as an image (e.g. a 16-bit TIFF of annotations): every pixel value
    /// must be a whole number ≥ 0.
    pub fn from_image(img: &Image) -> Result<Labels> {
        let mut data = Vec::with_capacity(img.data.len());
        for &v in &img.data {
            if !(v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f32) {
                return Err(Error::Argument(format!(
                    "labels: pixel value {v} is not a label (whole number ≥ 0); \
                     load a label image (16-bit TIFF/PNG), not an intensity image"
                )));
            }
            data.push(v as u32);
        }
        Ok(Labels {
            width: img.width,
            height: img.height,
            data: data.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(w: u32, rows: &[&[u32]]) -> Labels {
        Labels {
            width: w,
            height: rows.len() as u32,
            data: rows.concat().into(),
        }
    }

    #[test]
    fn counts_follow_the_iou_rule() {
        // truth: 1 = 4 px, 2 = 2 px; pred 5 covers truth 1 by 3/4 (IoU 0.75), pred 6 covers
        // half of truth 2 plus 2 extra pixels (IoU 1/3), pred 7 is a pure false positive.
        let truth = labels(
            4,
            &[&[1, 1, 0, 0], &[1, 1, 0, 0], &[0, 0, 2, 2], &[0, 0, 0, 0]],
        );
        let pred = labels(
            4,
            &[&[5, 5, 0, 7], &[5, 0, 0, 0], &[0, 6, 6, 0], &[0, 6, 0, 0]],
        );
        let m = match_labels(&pred, &truth, 0.5).unwrap();
        assert_eq!((m.tp, m.fp, m.fn_), (1, 2, 1));
        assert!((m.f1() - 2.0 / 5.0).abs() < 1e-12);
        assert!((m.precision() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.recall(), 0.5);
        // A stricter IoU loses the 0.75 match too.
        let strict = match_labels(&pred, &truth, 0.8).unwrap();
        assert_eq!((strict.tp, strict.fp, strict.fn_), (0, 3, 2));
    }

    #[test]
    fn iou_exactly_one_half_is_not_a_match() {
        let truth = labels(4, &[&[1, 1, 0, 0]]);
        let pred = labels(4, &[&[0, 3, 0, 0]]);
        let m = match_labels(&pred, &truth, 0.5).unwrap();
        assert_eq!((m.tp, m.fp, m.fn_), (0, 1, 1));
    }

    #[test]
    fn empty_sides_score_one_and_bad_arguments_are_errors() {
        let empty = labels(2, &[&[0, 0]]);
        assert_eq!(match_labels(&empty, &empty, 0.5).unwrap().f1(), 1.0);
        let other = labels(3, &[&[0, 0, 0]]);
        assert!(match_labels(&empty, &other, 0.5).is_err());
        assert!(match_labels(&empty, &empty, 0.3).is_err());
        let img = Image::from_fn(2, 1, 32, |_, c| c as f32 + 0.5);
        assert!(Labels::from_image(&img).is_err());
    }
}
