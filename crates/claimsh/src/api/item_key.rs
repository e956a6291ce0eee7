//! The canonical text form of an item that is not a string — the key it is claimed under, so
//! `claimed(grid(#{growth: [..], capacity: [..]}))` can hand the script the maps themselves.
//!
//! The form is part of the ledger's stable naming: changing it renames every such item on disk.
//! The `golden_keys` test below pins it.
//!
//! # The form
//!
//! | item | key |
//! |---|---|
//! | string `s` | `s` itself |
//! | char `'c'` | `c` (as a one-character string) |
//! | int | decimal: `42`, `-7` |
//! | float | shortest text that reads back as the same float (`ryu`): `0.1`, `1.0`, `-0.0`, `1e300`, `1.5e-7`; never `inf` or `NaN` (an error) |
//! | bool | `true`, `false` |
//! | map (top level) | `key=value` pairs joined by `,`, keys in sorted (byte) order: `capacity=50,growth=0.1`; the empty map is `{}` |
//! | map (inside another value) | the same in braces: `{a=1,b=2}` |
//! | array | values joined by `,` in brackets: `[1,2.5,"x"]` |
//! | string or char inside a map or array | JSON-quoted: `"x"`, `"a\"b"` |
//! | map key | as it is when an identifier (`[A-Za-z_][A-Za-z0-9_]*`), else JSON-quoted |
//!
//! A top-level string is its own key, so a non-string item and the string of its key name the
//! same item: `claimed([1, 2])` and `claimed(["1", "2"])` claim the same two items. Inside maps
//! and arrays strings are quoted, so nested values never run together (`#{a: "1,b=2"}` is
//! `a="1,b=2"`, not `a=1,b=2`). Ints and floats differ (`1` against `1.0`), as they do in Rhai.
//! A top-level map has no braces so the ledger's file name stays readable: `capacity=50,growth=0.1`
//! is kept as is on disk.
//!
//! Unit `()`, function pointers, blobs, timestamps and other native types have no key (an error).

use super::{R, script_error};
use rhai::plugin::*;
use rhai::{Array, Dynamic, Map};
use std::fmt::Write as _;

/// The key an item is claimed under.
#[export_module]
pub mod item_key_functions {
    use super::*;

    /// The canonical text of an item, the key it is claimed under (also a readable, stable file
    /// name part): a string is itself; maps are sorted `key=value` pairs; numbers, bools and
    /// arrays have a stable form.
    ///
    /// ```rhai
    /// item_key(#{growth: 0.1, capacity: 50})   // "capacity=50,growth=0.1"
    /// ```
    #[rhai_fn(return_raw)]
    pub fn item_key(item: Dynamic) -> R<String> {
        canonical_key(&item).map_err(|e| script_error(format!("item_key: {e}")))
    }
}

/// The canonical key of `item` (see the module docs for the form), or why it cannot be an item.
/// `#{growth: 0.1, capacity: 50}` → `capacity=50,growth=0.1`; `[1, "a"]` → `[1,"a"]`.
pub fn canonical_key(item: &Dynamic) -> Result<String, String> {
    let item = item.flatten_clone();
    if let Some(text) = as_text(&item) {
        return Ok(text);
    }
    let mut out = String::new();
    if item.is_map() {
        let map = item.cast::<Map>();
        if map.is_empty() {
            return Ok("{}".into());
        }
        write_pairs(&mut out, &map)?;
    } else {
        write_value(&mut out, &item)?;
    }
    Ok(out)
}

/// A string or char as its text; None for anything else.
fn as_text(item: &Dynamic) -> Option<String> {
    if item.is_string() {
        item.clone().into_string().ok()
    } else if item.is_char() {
        item.as_char().ok().map(String::from)
    } else {
        None
    }
}

/// A value inside a map or array (and a top-level number, bool or array).
fn write_value(out: &mut String, value: &Dynamic) -> Result<(), String> {
    let value = value.flatten_clone();
    if let Some(text) = as_text(&value) {
        quote(out, &text);
    } else if let Ok(i) = value.as_int() {
        let _ = write!(out, "{i}");
    } else if let Ok(f) = value.as_float() {
        if !f.is_finite() {
            return Err(format!("{f} cannot be an item (not a finite number)"));
        }
        out.push_str(ryu::Buffer::new().format_finite(f));
    } else if let Ok(b) = value.as_bool() {
        out.push_str(if b { "true" } else { "false" });
    } else if value.is_map() {
        out.push('{');
        write_pairs(out, &value.cast::<Map>())?;
        out.push('}');
    } else if value.is_array() {
        out.push('[');
        for (i, v) in value.cast::<Array>().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_value(out, v)?;
        }
        out.push(']');
    } else {
        return Err(format!(
            "a value of type {} cannot be an item",
            value.type_name()
        ));
    }
    Ok(())
}

/// `key=value` pairs in sorted key order (Rhai's maps are already sorted by key bytes).
fn write_pairs(out: &mut String, map: &Map) -> Result<(), String> {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if is_identifier(key) {
            out.push_str(key);
        } else {
            quote(out, key);
        }
        out.push('=');
        write_value(out, value)?;
    }
    Ok(())
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// JSON string quoting: `"` and `\` escaped, control characters as `\n`, `\t`, `\u00XX`.
fn quote(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(script: &str) -> Result<String, String> {
        let value: Dynamic = Engine::new().eval(script).unwrap();
        canonical_key(&value)
    }

    /// The golden keys: the ledger names items by these, so each line is a promise to users
    /// whose state directories hold them. Change one only with a migration.
    #[test]
    fn golden_keys() {
        for (item, key) in [
            (r#""image_0412.tif""#, "image_0412.tif"),
            (r#""a b/c""#, "a b/c"),
            ("'x'", "x"),
            ("42", "42"),
            ("-7", "-7"),
            ("0", "0"),
            ("0.1", "0.1"),
            ("1.0", "1.0"),
            ("-0.0", "-0.0"),
            ("1e300", "1e300"),
            ("1.5e-7", "1.5e-7"),
            ("0.1 + 0.2", "0.30000000000000004"),
            ("123456789.0", "123456789.0"),
            ("1e16", "1e16"),
            ("true", "true"),
            ("false", "false"),
            ("#{growth: 0.1, capacity: 50}", "capacity=50,growth=0.1"),
            ("#{b: 1, a: #{d: 2, c: [1, 2.5]}}", "a={c=[1,2.5],d=2},b=1"),
            (r#"#{name: "x,y=z", n: 1}"#, r#"n=1,name="x,y=z""#),
            (
                r#"#{"two words": 1, Z: 2, a: 3}"#,
                r#"Z=2,a=3,"two words"=1"#,
            ),
            ("#{}", "{}"),
            ("#{a: #{}}", "a={}"),
            ("[]", "[]"),
            (r#"[1, "a", 'c', true, [2.0]]"#, r#"[1,"a","c",true,[2.0]]"#),
            (
                r#"["q\"uote", "back\\slash", "new\nline", "\t"]"#,
                r#"["q\"uote","back\\slash","new\nline","\t"]"#,
            ),
        ] {
            assert_eq!(key_of(item).as_deref(), Ok(key), "key of {item}");
        }
    }

    #[test]
    fn values_without_a_key_are_errors() {
        for (item, says) in [
            ("()", "()"),
            ("1.0 / 0.0", "not a finite number"),
            ("[1, 0.0 / 0.0]", "not a finite number"),
            ("#{f: |x| x}", "Fn"),
            ("blob(2)", "blob"),
        ] {
            let err = key_of(item).unwrap_err();
            assert!(err.contains(says), "{item}: {err:?} should say {says:?}");
        }
    }

    /// Distinct nested values never share a key (strings inside are quoted; ints and floats
    /// differ); a top-level string and a value whose key it spells are one item by design.
    #[test]
    fn nested_values_do_not_run_together() {
        let pairs = [
            (r#"#{a: "1,b=2"}"#, "#{a: 1, b: 2}"),
            (r#"#{a: "1"}"#, "#{a: 1}"),
            ("#{a: 1}", "#{a: 1.0}"),
            (r#"["1,2"]"#, "[1, 2]"),
            ("[[1], 2]", "[1, [2]]"),
        ];
        for (x, y) in pairs {
            assert_ne!(key_of(x), key_of(y), "{x} and {y}");
        }
        assert_eq!(key_of("5"), key_of(r#""5""#));
    }

    /// A captured (shared) value has the key of its contents.
    #[test]
    fn shared_values_have_the_key_of_their_contents() {
        let value = Dynamic::from(rhai::Array::from([Dynamic::from(1_i64)])).into_shared();
        assert_eq!(canonical_key(&value).as_deref(), Ok("[1]"));
    }
}
