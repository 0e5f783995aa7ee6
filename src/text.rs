//! Cleaning of untrusted text: what strangers type must never drive anyone's terminal.
//!
//! The server cleans names and message text before storing or broadcasting them, and the
//! client cleans again before drawing, so a buggy or hostile server cannot reach the
//! terminal either.

/// Longest name, in characters, after cleaning.
pub const MAX_NAME_CHARS: usize = 32;

/// Characters that are never kept: they move the cursor, change colours, reorder text or hide it.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // bidi embeddings, overrides and isolates
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            // zero-width and invisible format characters
            | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
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
