//! Room names: `#` and then lowercase letters, digits, `-` and `_`, unique by look-alike.

use crate::text::{clean_name, is_room_name_char, look_alike_keys, starts_room_name};

/// Longest room name, in characters after the `#`.
pub const MAX_ROOM_NAME_CHARS: usize = 32;

/// Why a room name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomNameError {
    #[error("a room name starts with # (as in #general)")]
    NoHash,
    #[error("a room name needs at least one character after the #")]
    Empty,
    #[error("a room name is at most {MAX_ROOM_NAME_CHARS} characters after the #")]
    TooLong,
    #[error("a room name may hold only letters, digits, - and _ (not {0:?})")]
    BadChar(char),
    #[error("a room name begins with a letter or a digit after the #")]
    BadStart,
    #[error("a room name may not stack that many marks on one letter")]
    TooManyMarks,
}

/// Checks a room name as typed, lowercased (`#Ops` is `#ops`, as on IRC). Nothing is
/// cleaned away silently: a name with anything else in it is refused.
pub fn parse_room_name(raw: &str) -> Result<String, RoomNameError> {
    let name = raw.trim().to_lowercase();
    let rest = name.strip_prefix('#').ok_or(RoomNameError::NoHash)?;
    if rest.is_empty() {
        return Err(RoomNameError::Empty);
    }
    if rest.chars().count() > MAX_ROOM_NAME_CHARS {
        return Err(RoomNameError::TooLong);
    }
    if let Some(bad) = rest.chars().find(|&c| !is_room_name_char(c)) {
        return Err(RoomNameError::BadChar(bad));
    }
    if !rest.starts_with(starts_room_name) {
        return Err(RoomNameError::BadStart);
    }
    // Marks stacked past what text keeps would draw as a smear.
    if clean_name(rest).as_deref() != Some(rest) {
        return Err(RoomNameError::TooManyMarks);
    }
    Ok(name)
}

/// The keys two room names share when people could mistake one for the other
/// (`#0ps` and `#ops`), as for member names.
pub fn room_keys(name: &str) -> [String; 4] {
    look_alike_keys(name.trim_start_matches('#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercased_and_checked() {
        assert_eq!(parse_room_name("#Ops").unwrap(), "#ops");
        assert_eq!(parse_room_name(" #dev_team-2 ").unwrap(), "#dev_team-2");
        assert_eq!(parse_room_name("#café").unwrap(), "#café");
        assert_eq!(parse_room_name("ops"), Err(RoomNameError::NoHash));
        assert_eq!(parse_room_name("#"), Err(RoomNameError::Empty));
        assert_eq!(parse_room_name("#a b"), Err(RoomNameError::BadChar(' ')));
        assert_eq!(parse_room_name("#a.b"), Err(RoomNameError::BadChar('.')));
        assert_eq!(
            parse_room_name("#a\u{200b}b"),
            Err(RoomNameError::BadChar('\u{200b}'))
        );
        assert_eq!(parse_room_name("##x"), Err(RoomNameError::BadChar('#')));
        // Invisible letters (the Hangul filler is one) and look-alike punctuation.
        assert_eq!(
            parse_room_name("#\u{3164}"),
            Err(RoomNameError::BadChar('\u{3164}'))
        );
        assert_eq!(
            parse_room_name("#a\u{3164}b"),
            Err(RoomNameError::BadChar('\u{3164}'))
        );
        assert_eq!(parse_room_name("#aǃb"), Err(RoomNameError::BadChar('ǃ')));
        assert_eq!(parse_room_name("#-ops"), Err(RoomNameError::BadStart));
        assert_eq!(parse_room_name("#日本語").unwrap(), "#日本語");
        assert_eq!(
            parse_room_name("#b\u{301}\u{301}").unwrap(),
            "#b\u{301}\u{301}"
        );
        assert_eq!(
            parse_room_name(&format!("#b{}", "\u{301}".repeat(20))),
            Err(RoomNameError::TooManyMarks)
        );
        let longest = format!("#{}", "x".repeat(MAX_ROOM_NAME_CHARS));
        assert_eq!(parse_room_name(&longest).unwrap(), longest);
        assert_eq!(
            parse_room_name(&format!("{longest}x")),
            Err(RoomNameError::TooLong)
        );
    }

    #[test]
    fn look_alike_room_names_share_a_key() {
        let shares = |a: &str, b: &str| {
            let (a, b) = (room_keys(a), room_keys(b));
            a.iter().any(|k| b.contains(k))
        };
        assert!(shares("#ops", "#0ps"));
        assert!(shares("#general", "#genera1"));
        assert!(shares("#ops", "#оps")); // Cyrillic о
        assert!(!shares("#ops", "#dev"));
    }
}
