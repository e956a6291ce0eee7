//! Small text helpers for messages: plurals, shell quoting, nearest names.

/// `1 item`, `2 items`, `0 items`.
pub fn count(n: u64, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// One word for bash: as it is when plain, else in single quotes.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A path as one bash word.
pub fn quote_path(path: &std::path::Path) -> String {
    quote(&path.display().to_string())
}

/// Levenshtein distance between two names (by characters).
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Up to three of `names` close to `name` (a typo away: distance at most a third of its length,
/// at least 1), nearest first.
pub fn nearest<'a>(name: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    let mut close: Vec<(usize, &str)> = names
        .into_iter()
        .map(|n| (distance(name, n), n))
        .filter(|(d, n)| *d <= limit && *n != name)
        .collect();
    close.sort();
    close.dedup();
    close.into_iter().take(3).map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_agree_with_the_count() {
        assert_eq!(count(1, "item", "items"), "1 item");
        assert_eq!(count(0, "item", "items"), "0 items");
        assert_eq!(count(2, "item", "items"), "2 items");
    }

    #[test]
    fn words_with_spaces_or_quotes_are_quoted_for_bash() {
        assert_eq!(quote("/a/b.rhai"), "/a/b.rhai");
        assert_eq!(quote("/my dir/b.rhai"), "'/my dir/b.rhai'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn a_typo_finds_the_name_it_meant() {
        assert_eq!(distance("gausian", "gaussian"), 1);
        let names = ["gaussian", "threshold", "otsu", "li", "load_image"];
        assert_eq!(nearest("gausian", names), ["gaussian"]);
        assert_eq!(nearest("treshold", names), ["threshold"]);
        assert!(nearest("completely_else", names).is_empty());
    }
}
