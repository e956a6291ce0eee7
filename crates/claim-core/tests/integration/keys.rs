//! Property tests of the key → file name mapping.

use claim_core::key::{MAX_READABLE, file_name, key_from_file_name};
use proptest::prelude::*;

proptest! {
    #[test]
    fn names_never_escape_the_directory(key in any::<String>()) {
        let name = file_name(&key);
        prop_assert!(!name.is_empty());
        prop_assert!(name != "." && name != "..");
        prop_assert!(!name.starts_with('.'));
        prop_assert!(!name.contains('/'));
        prop_assert!(!name.chars().any(|c| c.is_control() || c == '\0'));
        prop_assert!(name.len() <= MAX_READABLE.max(130));
    }

    #[test]
    fn distinct_keys_get_distinct_names(a in any::<String>(), b in any::<String>()) {
        prop_assume!(a != b);
        prop_assert_ne!(file_name(&a), file_name(&b));
    }

    #[test]
    fn near_identical_long_keys_stay_distinct(prefix in "[a-z/]{150,300}", x in any::<char>(), y in any::<char>()) {
        prop_assume!(x != y);
        prop_assert_ne!(file_name(&format!("{prefix}{x}")), file_name(&format!("{prefix}{y}")));
    }

    #[test]
    fn readable_names_decode_to_their_key(key in "[ -~]{0,100}") {
        if let Some(back) = key_from_file_name(&file_name(&key)) {
            prop_assert_eq!(back, key);
        }
    }
}
