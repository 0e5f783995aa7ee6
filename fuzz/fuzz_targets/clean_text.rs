//! The cleaner on arbitrary text: it never panics, and its output is stable under a second
//! cleaning and free of control characters (beyond newlines and tabs in message text).
#![no_main]

use chatroom::text::{MAX_NAME_CHARS, clean_name, clean_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let text = clean_text(raw);
    assert_eq!(clean_text(&text), text);
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    );

    if let Some(name) = clean_name(raw) {
        assert_eq!(clean_name(&name).as_deref(), Some(name.as_str()));
        assert!(name.chars().count() <= MAX_NAME_CHARS);
        assert!(!name.chars().any(char::is_control));
    }
});
