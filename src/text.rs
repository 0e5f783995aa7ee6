//! Cleaning of untrusted text: what strangers type must never drive anyone's terminal.
//!
//! The server cleans names and message text before storing or broadcasting them, and the
//! client cleans again before drawing, so a buggy or hostile server cannot reach the
//! terminal either.

/// Longest name, in characters, after cleaning.
pub const MAX_NAME_CHARS: usize = 32;

/// Characters that are never kept: they move the cursor, change colours, reorder text or hide it.
fn is_unsafe(c: char) -> bool {
    // C0 and C1 controls and DEL: escape sequences, BEL, carriage-return overwrites.
    c.is_control()
        || matches!(
            c,
            // bidi embeddings, overrides, isolates and marks
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}'
            // zero-width and invisible format characters
            | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{206A}'..='\u{206F}'
            | '\u{FEFF}' | '\u{00AD}' | '\u{180E}' | '\u{FFF9}'..='\u{FFFB}'
            // blank "letters" that make a name look empty
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
            // line and paragraph separators would break a line behind the renderer's back
            | '\u{2028}' | '\u{2029}'
        )
}

/// Cleans message text: drops every unsafe character but newlines and tabs, turns `\r\n`
/// and lone `\r` into `\n`, and trims surrounding whitespace.
///
/// Returns an empty string when nothing printable is left; callers decide whether that is an error.
pub fn clean_text(raw: &str) -> String {
    let normalised = raw.replace("\r\n", "\n").replace('\r', "\n");
    let kept: String = normalised
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !is_unsafe(c))
        .collect();
    kept.trim().to_owned()
}

/// Cleans a requested name: drops unsafe characters, folds every run of whitespace into one
/// space, trims, and cuts to [`MAX_NAME_CHARS`] characters. `None` when nothing is left.
pub fn clean_name(raw: &str) -> Option<String> {
    let visible: String = raw
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|&c| !is_unsafe(c))
        .collect();
    let folded = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    let name: String = folded.chars().take(MAX_NAME_CHARS).collect();
    let name = name.trim_end().to_owned();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the protocol promises never reaches anyone, written out independently of
    /// `is_unsafe` so a slip in one is caught by the other.
    fn forbidden(c: char) -> bool {
        let code = c as u32;
        (code < 0x20 && c != '\n' && c != '\t')
            || (0x7F..=0x9F).contains(&code)
            || (0x202A..=0x202E).contains(&code)
            || (0x2066..=0x2069).contains(&code)
            || (0x200B..=0x200F).contains(&code)
            || code == 0x2060
            || code == 0xFEFF
    }

    /// Strings heavy in the characters that matter, mixed with ordinary text.
    fn nasty_text() -> impl Strategy<Value = String> {
        let nasty = prop_oneof![
            (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap()),
            (0x7Fu32..0xA0).prop_map(|c| char::from_u32(c).unwrap()),
            (0x2000u32..0x2070).prop_map(|c| char::from_u32(c).unwrap()),
            Just('\u{FEFF}'),
            Just('\r'),
            Just(' '),
        ];
        proptest::collection::vec(prop_oneof![nasty, any::<char>()], 0..64)
            .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn cleaned_text_has_no_forbidden_character(raw in nasty_text()) {
            let clean = clean_text(&raw);
            prop_assert!(!clean.chars().any(forbidden), "{clean:?}");
        }

        #[test]
        fn cleaning_text_twice_changes_nothing(raw in nasty_text()) {
            let once = clean_text(&raw);
            prop_assert_eq!(clean_text(&once), once);
        }

        #[test]
        fn cleaned_names_are_short_tidy_and_stable(raw in nasty_text()) {
            if let Some(name) = clean_name(&raw) {
                prop_assert!(!name.chars().any(|c| forbidden(c) || c == '\n' || c == '\t'));
                prop_assert!(name.chars().count() <= MAX_NAME_CHARS);
                prop_assert_eq!(name.trim(), name.as_str());
                prop_assert_eq!(clean_name(&name), Some(name.clone()));
            }
        }
    }

    #[test]
    fn escape_sequences_lose_their_escape() {
        assert_eq!(clean_text("\x1b[31mred\x1b[0m"), "[31mred[0m");
        assert_eq!(clean_text("a\x07b\x7fc\u{9b}d"), "abcd");
    }

    #[test]
    fn newlines_and_tabs_survive_in_text() {
        assert_eq!(
            clean_text("one\r\ntwo\rthree\n\tfour"),
            "one\ntwo\nthree\n\tfour"
        );
    }

    #[test]
    fn bidi_and_invisible_characters_are_removed() {
        assert_eq!(
            clean_text("a\u{202E}b\u{2066}c\u{200B}d\u{FEFF}e\u{2028}f"),
            "abcdef"
        );
    }

    #[test]
    fn invisible_and_blank_letters_are_removed() {
        assert_eq!(clean_text("a\u{00AD}b\u{3164}c\u{FFA0}d\u{061C}e"), "abcde");
        assert_eq!(clean_name("\u{3164}\u{115F}"), None);
    }

    #[test]
    fn text_of_only_whitespace_cleans_to_empty() {
        assert_eq!(clean_text("  \n\t \u{200B} "), "");
    }

    #[test]
    fn wide_and_combining_text_is_kept() {
        assert_eq!(clean_text("日本語 e\u{301} 👋"), "日本語 e\u{301} 👋");
    }

    #[test]
    fn names_fold_whitespace_and_drop_controls() {
        assert_eq!(
            clean_name("  al\tice \n bob ").as_deref(),
            Some("al ice bob")
        );
        assert_eq!(clean_name("\x1b[2Jmallory").as_deref(), Some("[2Jmallory"));
        assert_eq!(clean_name(" \u{200B}\n"), None);
    }

    #[test]
    fn names_are_cut_to_the_limit() {
        let long = "x".repeat(100);
        assert_eq!(clean_name(&long).unwrap().chars().count(), MAX_NAME_CHARS);
        // a cut that lands on a space leaves no trailing whitespace
        let spaced = format!("{} y", "x".repeat(MAX_NAME_CHARS - 1));
        assert_eq!(clean_name(&spaced).unwrap(), "x".repeat(MAX_NAME_CHARS - 1));
    }
}
