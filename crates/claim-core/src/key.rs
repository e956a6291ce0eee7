//! Item key → file name mapping.
//!
//! Names must be injective (two keys never share a file), readable where possible (a person
//! browsing the state directory recognises `image_0412.tif`), bounded in length (file systems cap
//! names at 255 bytes) and unable to leave the state directory (no `/`, no `.`/`..`, no NUL or
//! control characters).
//!
//! Scheme: ASCII letters, digits and `-_.,=` are kept (a leading `.` is escaped); every other byte
//! becomes `%XX`. `%` itself is escaped, so decoding is unambiguous. Names longer than
//! [`MAX_READABLE`] (and the empty key) become a readable prefix, `~` and a SHA-256 digest; `~` is
//! always escaped in the readable form, so hashed and unhashed names never collide. Block claims use
//! `+`, which is also always escaped, as their separator.

use sha2::{Digest, Sha256};

/// Longest name kept in readable form; longer ones are shortened with a digest.
pub const MAX_READABLE: usize = 160;
const PREFIX_KEPT: usize = 96;

fn is_plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b',' | b'=')
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, &byte) in text.as_bytes().iter().enumerate() {
        if is_plain(byte) && !(i == 0 && byte == b'.') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn digest_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The file name that stands for `key` inside the ledger's directories.
pub fn file_name(key: &str) -> String {
    let escaped = escape(key);
    if !escaped.is_empty() && escaped.len() <= MAX_READABLE {
        return escaped;
    }
    // Cut the readable prefix at an escape boundary so it stays valid text.
    let mut cut = escaped.len().min(PREFIX_KEPT);
    while cut > 0 && escaped[..cut].rfind('%').is_some_and(|p| p + 3 > cut) {
        cut -= 1;
    }
    format!("{}~{}", &escaped[..cut], digest_hex(key))
}

/// The key a name stands for, when the name is in readable form (not hashed, not a block).
pub fn key_from_file_name(name: &str) -> Option<String> {
    if name.contains('~') || name.contains('+') || name.starts_with('.') {
        return None;
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = name.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The name of the claim on the block of list `list` that starts at item `start`.
pub fn block_name(list: &str, start: u64) -> String {
    format!("+{}+{start}", file_name(list))
}

/// The `(list file name, start)` of a block claim name, or `None` for an item name.
pub fn parse_block_name(name: &str) -> Option<(&str, u64)> {
    let rest = name.strip_prefix('+')?;
    let (list, start) = rest.rsplit_once('+')?;
    Some((list, start.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_stay_readable() {
        assert_eq!(file_name("image_0412.tif"), "image_0412.tif");
        assert_eq!(file_name("a=1,b=2"), "a=1,b=2");
    }

    #[test]
    fn separators_and_dots_are_escaped() {
        assert_eq!(file_name("data/x.tif"), "data%2Fx.tif");
        assert_eq!(file_name(".."), "%2E.");
        assert_eq!(file_name("."), "%2E");
        assert_eq!(file_name("a\0b"), "a%00b");
    }

    #[test]
    fn long_and_empty_keys_are_hashed_and_bounded() {
        let long = "é".repeat(500);
        let name = file_name(&long);
        assert!(name.len() <= PREFIX_KEPT + 1 + 32, "{name}");
        assert!(name.contains('~'));
        assert!(file_name("").starts_with('~'));
    }

    #[test]
    fn readable_names_decode_back() {
        for key in ["x", "dir/file name.tif", "%41", "ü/ø", ".hidden"] {
            assert_eq!(key_from_file_name(&file_name(key)).as_deref(), Some(key));
        }
    }

    #[test]
    fn block_names_round_trip_and_never_decode_as_keys() {
        let name = block_name("boot strap", 4096);
        assert_eq!(parse_block_name(&name), Some(("boot%20strap", 4096)));
        assert_eq!(key_from_file_name(&name), None);
        assert_eq!(parse_block_name("plain"), None);
    }
}
