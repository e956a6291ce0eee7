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
    ItemId::of(text).hex()
}

/// The identity of an item everywhere in the ledger: the first 128 bits of the SHA-256 of its
/// key. Stable across machines, compilers and releases (a golden test pins it); block records
/// and list files name their items by it, and the hashed form of a long key's file name ends
/// with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(pub u128);

impl ItemId {
    /// The id of `key`.
    pub fn of(key: &str) -> ItemId {
        let digest = Sha256::digest(key.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        ItemId(u128::from_be_bytes(bytes))
    }

    /// 32 lowercase hex digits.
    pub fn hex(self) -> String {
        format!("{:032x}", self.0)
    }

    /// Parse 32 hex digits.
    pub fn parse(hex: &str) -> Option<ItemId> {
        (hex.len() == 32)
            .then(|| u128::from_str_radix(hex, 16).ok())
            .flatten()
            .map(ItemId)
    }

    /// The id of the item a per-item file name stands for (readable or hashed form).
    pub fn of_file_name(name: &str) -> Option<ItemId> {
        if let Some((_, hex)) = name.rsplit_once('~') {
            return ItemId::parse(hex);
        }
        key_from_file_name(name).map(|key| ItemId::of(&key))
    }
}

/// The stable name of an ordered list of keys: `L` and the first 128 bits of the SHA-256 of the
/// keys, each preceded by its length (so `["ab"]` and `["a", "b"]` differ).
pub fn list_name<'a>(keys: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for key in keys {
        hasher.update((key.len() as u64).to_le_bytes());
        hasher.update(key.as_bytes());
    }
    let digest = hasher.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("L{hex}")
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
    fn on_disk_names_are_pinned() {
        // Golden values (checked with Python's hashlib): changing them changes the ledger
        // format (a new FORMAT number).
        assert_eq!(
            ItemId::of("images/a.tif").hex(),
            "bef57ea39f36cdcbef0081c485d6f704"
        );
        assert_eq!(list_name(["a", "b"]), "Lcf6ab613e3942391f88ed698557e1680");
        let long = "x/".repeat(100);
        let name = file_name(&long);
        assert_eq!(ItemId::of_file_name(&name), Some(ItemId::of(&long)));
        assert_eq!(
            ItemId::of_file_name("images%2Fa.tif"),
            Some(ItemId::of("images/a.tif"))
        );
    }
}
