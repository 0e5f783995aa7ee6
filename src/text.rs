//! Cleaning of untrusted text: what strangers type must never drive anyone's terminal, hide
//! text from the people reading it, or let one name pass for another.
//!
//! The server cleans names and message text before storing or broadcasting them, and the
//! client cleans again before drawing, so a buggy or hostile server cannot reach the
//! terminal either. What counts as invisible is read from Unicode properties (the Unicode 17
//! Character Database as compiled into `icu_properties` 2.1), not from a hand-written list, so
//! the rule covers every such character the tables know.

use icu_properties::props::{
    BinaryProperty, CanonicalCombiningClass, DefaultIgnorableCodePoint, Emoji, EmojiModifier,
    EnumeratedProperty, ExtendedPictographic, GeneralCategory, GeneralCategoryGroup, JoiningType,
    SoftDotted,
};

/// Longest name, in characters, after cleaning.
pub const MAX_NAME_CHARS: usize = 32;

/// The punctuation a name may hold besides letters, marks and digits: nothing that could
/// imitate the line formats (`<name>`, `* name`, `-!-`), a mention (`@`) or a completion (`:`).
const NAME_PUNCTUATION: [char; 3] = ['-', '_', '.'];

/// What a run of whitespace in a requested name becomes.
const NAME_SPACE: char = '_';

const ZWNJ: char = '\u{200C}';
const ZWJ: char = '\u{200D}';
/// Variation selector 16: asks for the emoji (colour) form of the character before it.
const VS16: char = '\u{FE0F}';
/// Braille pattern blank: a cell with no dots, which draws as a space but is not whitespace.
const BRAILLE_BLANK: char = '\u{2800}';

/// Most combining marks kept on one character. Real writing stacks two or three (Vietnamese
/// `ệ`, Arabic with its vowel marks, Tibetan stacks); "Zalgo" text piles up dozens, which
/// terminals draw over the rows above and below.
pub const MAX_MARKS_PER_CHAR: usize = 6;

/// Characters that are never kept as they stand: controls, which move the cursor or change
/// colours; the line and paragraph separators, which would break a line behind the
/// renderer's back; and what draws as nothing: every Default_Ignorable_Code_Point (the
/// zero-width characters, bidi controls, variation selectors, tags, the Hangul fillers…)
/// and every other character of general category Format (the Arabic number signs, the
/// Egyptian hieroglyph joiners, the musical-symbol beams…).
///
/// ZWJ, ZWNJ and VS16 are among them; [`does_work`] keeps them where they are needed.
fn is_unsafe(c: char) -> bool {
    // ASCII holds no format or default-ignorable character: skip the tables.
    if c.is_ascii() {
        return c.is_control();
    }
    c.is_control()
        || DefaultIgnorableCodePoint::for_char(c)
        || matches!(
            GeneralCategory::for_char(c),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
}

/// A filter that keeps at most [`MAX_MARKS_PER_CHAR`] combining marks after each character.
/// Joiners and VS16 count as neither mark nor character, so they cannot start a new stack.
fn cap_marks() -> impl FnMut(&char) -> bool {
    let mut marks = 0;
    move |&c| {
        if depends_on_context(c) {
            return true;
        }
        if c.is_ascii() || !is_in(c, GeneralCategoryGroup::Mark) {
            marks = 0;
            return true;
        }
        marks += 1;
        marks <= MAX_MARKS_PER_CHAR
    }
}

/// Whether an unsafe character is one that [`does_work`] may keep.
fn depends_on_context(c: char) -> bool {
    matches!(c, ZWJ | ZWNJ | VS16)
}

/// Whether a ZWJ, ZWNJ or VS16 changes what its neighbours look like. `prev` is the
/// character kept just before it; `left` finds the nearest kept one that is not
/// [`transparent`] (maybe `prev`); `after` is what follows it, nearest first.
///
/// - VS16 right after an emoji-capable character (`❤️`, the keycap `1️⃣`).
/// - ZWJ between two pieces of an emoji sequence (`👩‍💻`, `🏳️‍🌈`, `👩🏽‍💻`).
/// - ZWJ or ZWNJ right after a virama, where they choose the form of an Indic conjunct, and
///   ZWNJ between a letter that joins to the left and one that joins to the right, where it
///   keeps Persian or Arabic letters apart: the CONTEXTJ rules of IDNA (RFC 5892,
///   appendix A.1 and A.2).
///
/// Anywhere else (at an edge, beside a space, in a run, inside a Latin word) they only hide.
fn does_work(
    c: char,
    prev: Option<char>,
    left: impl FnOnce() -> Option<char>,
    mut after: impl Iterator<Item = char>,
) -> bool {
    let Some(prev) = prev else {
        return false;
    };
    match c {
        VS16 => prev != VS16 && Emoji::for_char(prev),
        ZWJ | ZWNJ
            if CanonicalCombiningClass::for_char(prev) == CanonicalCombiningClass::Virama =>
        {
            true
        }
        ZWJ => {
            (prev == VS16 || ExtendedPictographic::for_char(prev) || EmojiModifier::for_char(prev))
                && after.next().is_some_and(ExtendedPictographic::for_char)
        }
        ZWNJ => {
            let left = left().map(JoiningType::for_char);
            let right = after.find(|&c| !transparent(c)).map(JoiningType::for_char);
            matches!(
                left,
                Some(JoiningType::LeftJoining | JoiningType::DualJoining)
            ) && matches!(
                right,
                Some(JoiningType::RightJoining | JoiningType::DualJoining)
            )
        }
        _ => false,
    }
}

/// Whether joining passes through the character (a mark, VS16), so a ZWNJ looks past it.
fn transparent(c: char) -> bool {
    JoiningType::for_char(c) == JoiningType::Transparent
}

#[cfg(test)]
thread_local! {
    /// How many kept characters ZWNJs have looked back over, on this thread.
    static LOOKED_BACK: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts one character looked back over, for the tests that bound that work.
fn looked_back() {
    #[cfg(test)]
    LOOKED_BACK.with(|n| n.set(n.get() + 1));
}

/// Keeps every character but the joiners and VS16 that do no work where they stand.
fn drop_idle_joiners(chars: &[char]) -> Vec<char> {
    let mut kept: Vec<char> = Vec::with_capacity(chars.len());
    // The nearest character in `kept[..seen]` that is not transparent. A ZWNJ looks back
    // only as far as the one before it did, so marks and dropped ZWNJs taking turns (64 KiB
    // of them in a request) are looked over once, not once a ZWNJ.
    let (mut seen, mut solid) = (0, None);
    for (i, &c) in chars.iter().enumerate() {
        let left = || {
            let nearer = kept[seen..].iter().rev().copied();
            solid = nearer
                .inspect(|_| looked_back())
                .find(|&c| !transparent(c))
                .or(solid);
            seen = kept.len();
            solid
        };
        if !depends_on_context(c)
            || does_work(
                c,
                kept.last().copied(),
                left,
                chars[i + 1..].iter().copied(),
            )
        {
            kept.push(c);
        }
    }
    kept
}

/// Cleans message text: drops every unsafe character but newlines and tabs (and the joiners
/// and VS16 that do work), turns `\r\n` and lone `\r` into `\n` and a braille blank into a
/// space, and trims surrounding whitespace.
///
/// Returns an empty string when nothing visible is left; callers decide whether that is an error.
pub fn clean_text(raw: &str) -> String {
    let normalised = raw.replace("\r\n", "\n").replace('\r', "\n");
    let safe: Vec<char> = normalised
        .chars()
        .map(|c| if c == BRAILLE_BLANK { ' ' } else { c })
        .filter(|&c| c == '\n' || c == '\t' || depends_on_context(c) || !is_unsafe(c))
        .filter(cap_marks())
        .collect();
    let kept: String = if safe.iter().any(|&c| depends_on_context(c)) {
        drop_idle_joiners(&safe).into_iter().collect()
    } else {
        safe.into_iter().collect()
    };
    kept.trim().to_owned()
}

/// Whether a character may stand in a name: a letter, a mark that does not enclose, a
/// decimal digit or one of [`NAME_PUNCTUATION`]; never an unsafe one, and never one whose
/// look-alike skeleton is something else (`ǃ` looks like `!`, `ᐳ` like `>`, `ʼ` like `'`).
fn is_name_char(c: char) -> bool {
    // Every ASCII letter and digit has a skeleton of letters and digits.
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || NAME_PUNCTUATION.contains(&c);
    }
    let looks_allowed = |c: char| NAME_PUNCTUATION.contains(&c) || is_in(c, LOOKS_ALLOWED);
    (NAME_PUNCTUATION.contains(&c) || is_in(c, NAME_CATEGORIES))
        && !is_unsafe(c)
        && unicode_security::skeleton(c.encode_utf8(&mut [0; 4])).all(looks_allowed)
}

/// Whether a character may stand in a room name after its `#`: what a member name may hold
/// (so nothing invisible and nothing that looks like punctuation), but no `.` and no
/// capital, and `-` and `_`.
pub fn is_room_name_char(c: char) -> bool {
    c == '-' || c == '_' || (c != '.' && is_name_char(c) && !c.is_uppercase())
}

/// Whether a room name may begin (after its `#`) with the character: a letter or a digit.
pub fn starts_room_name(c: char) -> bool {
    starts_name(c)
}

/// The general categories of [`is_name_char`].
const NAME_CATEGORIES: GeneralCategoryGroup = GeneralCategoryGroup::Letter
    .union(GeneralCategoryGroup::NonspacingMark)
    .union(GeneralCategoryGroup::SpacingMark)
    .union(GeneralCategoryGroup::DecimalNumber);

/// What a name character's skeleton may be made of.
const LOOKS_ALLOWED: GeneralCategoryGroup = GeneralCategoryGroup::Letter
    .union(GeneralCategoryGroup::Mark)
    .union(GeneralCategoryGroup::Number);

/// Whether a name may begin with the character: a letter or a digit.
fn starts_name(c: char) -> bool {
    is_in(c, GeneralCategoryGroup::Letter) || is_in(c, GeneralCategoryGroup::DecimalNumber)
}

fn is_in(c: char, group: GeneralCategoryGroup) -> bool {
    group.contains(GeneralCategory::for_char(c))
}

/// Cleans a requested name down to what cannot imitate anything: letters, marks, digits,
/// `-`, `_` and `.`, starting with a letter or digit (see [`is_name_char`]). Every run of
/// whitespace becomes one `_`, everything else outside that set is dropped, and the result
/// is cut to [`MAX_NAME_CHARS`] characters. `None` when nothing is left.
pub fn clean_name(raw: &str) -> Option<String> {
    let safe: Vec<char> = raw
        .chars()
        .map(|c| if c == BRAILLE_BLANK { ' ' } else { c })
        .filter(|&c| c.is_whitespace() || c == ZWJ || c == ZWNJ || is_name_char(c))
        .filter(cap_marks())
        .collect();
    let visible: String = drop_idle_joiners(&safe).into_iter().collect();
    let mut name: Vec<char> = Vec::new();
    for word in visible.split_whitespace() {
        let word = if name.is_empty() {
            word.trim_start_matches(|c| !starts_name(c))
        } else {
            word
        };
        if word.is_empty() {
            continue;
        }
        if !name.is_empty() {
            if name.len() + 2 > MAX_NAME_CHARS {
                break;
            }
            name.push(NAME_SPACE);
        }
        name.extend(word.chars().take(MAX_NAME_CHARS - name.len()));
    }
    // A cut can leave a ZWNJ with nothing to join on its right.
    let name: String = drop_idle_joiners(&name).into_iter().collect();
    (!name.is_empty()).then_some(name)
}

/// What a name is compared by to tell whether people could mistake it for another: two
/// names that share any key are look-alikes. Each key is a Unicode confusables skeleton
/// (UTS #39), lower-cased, with the marks that do not show dropped (see [`fold`]).
///
/// One key cannot do: a skeleton maps `I` to `l` (so `aIice` is `alice`), lower-casing maps
/// it to `i` (so `ALICE` is `alice`), and Cherokee capitals have a Latin skeleton only
/// before lower-casing (`ᎪDMIN` is `ADMIN`, but its lower case `ꭺdmin` is no Latin word).
/// So there are four: skeleton first; ASCII lower-cased first, then skeleton (`ᎪDMIN`);
/// lower-cased first, then skeleton (`ΑΛΙΚΗ` beside `αλικη`); and upper-cased first, then
/// skeleton, which carries the `I`/`l` likeness over to the name in either case (`ALlCE`,
/// with a small l, is `ALICE`, and so `alice`; `ADMlN` is `ADMIN`).
pub fn look_alike_keys(name: &str) -> [String; 4] {
    [
        fold(&fold(name)),
        fold(&fold(&name.to_ascii_lowercase())),
        fold(&name.to_lowercase()),
        fold(&fold(&name.to_uppercase())),
    ]
}

/// The lower-cased skeleton of `s`, without the marks a reader cannot see: a dot above a
/// soft-dotted letter such as `i`, which draws in place of the letter's own dot (dotless `ı`
/// with a dot above has the skeleton `i` with a dot above, and looks just like `i`), and
/// overlay strokes (Cherokee `Ꮎ` has the skeleton `O` with a stroke through).
fn fold(s: &str) -> String {
    let mut folded = String::with_capacity(s.len());
    let mut base = None;
    for c in unicode_security::skeleton(s) {
        let overlay = CanonicalCombiningClass::for_char(c) == CanonicalCombiningClass::Overlay;
        let second_dot = c == '\u{307}' && base.is_some_and(SoftDotted::for_char);
        if overlay || second_dot {
            continue;
        }
        if !is_in(c, GeneralCategoryGroup::Mark) {
            base = Some(c);
        }
        folded.push(c);
    }
    folded.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the protocol promises never reaches anyone, whatever surrounds it, written out by
    /// hand from the Unicode 17 tables (Default_Ignorable_Code_Point, general category Cf)
    /// independently of `is_unsafe`, so a slip in one is caught by the other.
    fn forbidden(c: char) -> bool {
        let code = c as u32;
        (code < 0x20 && c != '\n' && c != '\t')
            || matches!(
                code,
                0x7F..=0x9F
                    | 0xAD
                    | 0x34F
                    | 0x600..=0x605
                    | 0x61C
                    | 0x6DD
                    | 0x70F
                    | 0x890..=0x891
                    | 0x8E2
                    | 0x115F..=0x1160
                    | 0x17B4..=0x17B5
                    | 0x180B..=0x180F
                    | 0x200B
                    | 0x200E..=0x200F
                    | 0x2028..=0x202E
                    | 0x2060..=0x206F
                    | 0x2800
                    | 0x3164
                    | 0xFE00..=0xFE0E
                    | 0xFEFF
                    | 0xFFA0
                    | 0xFFF0..=0xFFFB
                    | 0x110BD
                    | 0x110CD
                    | 0x13430..=0x1343F
                    | 0x1BCA0..=0x1BCA3
                    | 0x1D173..=0x1D17A
                    | 0xE0000..=0xE0FFF
            )
    }

    /// Where a ZWJ, ZWNJ or VS16 can do nothing but hide: at the start, after whitespace or
    /// another of them; a ZWJ or ZWNJ after ASCII with nothing visible after it, or between
    /// two ASCII letters; a VS16 after an ASCII letter. (After a virama a joiner may end a
    /// word.) `prev` and `next` are the neighbours in the cleaned text.
    fn idle(prev: Option<char>, c: char, next: Option<char>) -> bool {
        let joiner = |c: char| matches!(c, '\u{200C}' | '\u{200D}' | '\u{FE0F}');
        let blank = |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || joiner(c));
        let letter = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphabetic());
        match c {
            '\u{200C}' | '\u{200D}' => {
                blank(prev)
                    || (blank(next) && prev.is_some_and(|c| c.is_ascii()))
                    || (letter(prev) && letter(next))
            }
            '\u{FE0F}' => blank(prev) || letter(prev),
            _ => false,
        }
    }

    fn has_idle_joiner(text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        (0..chars.len()).any(|i| {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            idle(prev, chars[i], chars.get(i + 1).copied())
        })
    }

    /// Strings heavy in the characters that matter, mixed with ordinary text.
    fn nasty_text() -> impl Strategy<Value = String> {
        let nasty = prop_oneof![
            (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap()),
            (0x7Fu32..0xA0).prop_map(|c| char::from_u32(c).unwrap()),
            (0x2000u32..0x2070).prop_map(|c| char::from_u32(c).unwrap()),
            (0xFE00u32..0xFE10).prop_map(|c| char::from_u32(c).unwrap()),
            (0xE0000u32..0xE0080).prop_map(|c| char::from_u32(c).unwrap()),
            (0xE0100u32..0xE01F0).prop_map(|c| char::from_u32(c).unwrap()),
            (0x13430u32..0x13441).prop_map(|c| char::from_u32(c).unwrap()),
            (0x1D173u32..0x1D17B).prop_map(|c| char::from_u32(c).unwrap()),
            (0x600u32..0x606).prop_map(|c| char::from_u32(c).unwrap()),
            prop::sample::select(vec![
                '\u{FEFF}',
                '\u{034F}',
                '\u{180E}',
                '\u{17B4}',
                '\u{2800}',
                '\u{3164}',
                '\u{1BCA0}',
                '\u{06DD}',
                '\u{070F}',
                '\u{08E2}',
                '\r',
                ' ',
                'a',
                'I',
                'l',
                '<',
                '>',
                '*',
                '!',
                '-',
                '_',
                '.',
                'ǃ',
                'ᐳ',
                '\u{301}',
                '\u{307}',
                'ı',
                // pieces of emoji sequences, Persian and Devanagari words
                '👩',
                '💻',
                '🏳',
                '🌈',
                '❤',
                '🏽',
                '1',
                '\u{20E3}',
                'ب',
                'ی',
                'خ',
                'क',
                'ष',
                '\u{94D}',
                '\u{200C}',
                '\u{200D}',
                '\u{FE0F}',
            ]),
        ];
        proptest::collection::vec(prop_oneof![nasty, any::<char>()], 0..64)
            .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn cleaned_text_has_no_forbidden_character(raw in nasty_text()) {
            let clean = clean_text(&raw);
            prop_assert!(!clean.chars().any(forbidden), "{clean:?}");
            prop_assert!(!has_idle_joiner(&clean), "{clean:?}");
        }

        #[test]
        fn cleaning_text_twice_changes_nothing(raw in nasty_text()) {
            let once = clean_text(&raw);
            prop_assert_eq!(clean_text(&once), once);
        }

        #[test]
        fn cleaned_names_are_short_tidy_and_stable(raw in nasty_text()) {
            if let Some(name) = clean_name(&raw) {
                prop_assert!(!name.chars().any(|c| forbidden(c) || c.is_whitespace()), "{name:?}");
                prop_assert!(!has_idle_joiner(&name), "{name:?}");
                prop_assert!(!name.chars().any(|c| c.is_ascii_punctuation() && !"-_.".contains(c)));
                let first = name.chars().next().unwrap();
                prop_assert!(first.is_alphanumeric(), "{name:?}");
                prop_assert!(name.chars().count() <= MAX_NAME_CHARS);
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

    /// Every kind of invisible character the hand-written list used to miss.
    const HIDDEN: [(&str, &str); 16] = [
        (
            "tag characters, which spell ASCII nobody sees",
            "\u{E0001}\u{E0068}\u{E0069}\u{E007F}",
        ),
        ("variation selectors", "\u{FE00}\u{FE0E}\u{E0100}\u{E01EF}"),
        ("the combining grapheme joiner", "\u{034F}"),
        (
            "Mongolian free variation selectors and vowel separator",
            "\u{180B}\u{180D}\u{180E}\u{180F}",
        ),
        ("Khmer inherent vowels", "\u{17B4}\u{17B5}"),
        ("an unassigned default-ignorable", "\u{2065}"),
        ("shorthand format controls", "\u{1BCA0}\u{1BCA3}"),
        ("musical symbol beams", "\u{1D173}\u{1D17A}"),
        (
            "Egyptian hieroglyph format controls",
            "\u{13430}\u{13436}\u{1343F}",
        ),
        ("Arabic number signs", "\u{0600}\u{0605}"),
        ("the Arabic end of ayah", "\u{06DD}"),
        ("the Syriac abbreviation mark", "\u{070F}"),
        ("the Arabic disputed end of ayah", "\u{08E2}"),
        ("a Kaithi number sign", "\u{110BD}"),
        ("a ZWJ that joins nothing", "\u{200D}"),
        ("a VS16 after nothing", "\u{FE0F}"),
    ];

    #[test]
    fn the_property_tables_hold_every_character_the_protocol_names() {
        let missing: Vec<String> = (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|&c| forbidden(c) && c != BRAILLE_BLANK && !is_unsafe(c))
            .map(|c| format!("U+{:04X}", c as u32))
            .collect();
        assert!(missing.is_empty(), "{missing:?}");
    }

    #[test]
    fn every_kind_of_invisible_character_is_removed() {
        for (what, hidden) in HIDDEN {
            assert_eq!(clean_text(&format!("a{hidden}b")), "ab", "{what}");
            assert_eq!(
                clean_name(&format!("a{hidden}b")).as_deref(),
                Some("ab"),
                "{what}"
            );
        }
    }

    #[test]
    fn text_or_names_of_only_invisible_characters_are_empty() {
        for (what, hidden) in HIDDEN {
            assert_eq!(clean_text(hidden), "", "{what}");
            assert_eq!(clean_name(hidden), None, "{what}");
        }
        let all: String = HIDDEN.iter().map(|(_, hidden)| *hidden).collect();
        assert_eq!(clean_text(&format!(" {all}\u{2800} \n{all}")), "");
        assert_eq!(clean_name(&format!("{all}\u{2800}")), None);
    }

    #[test]
    fn a_stack_of_combining_marks_is_cut_but_real_writing_keeps_its_marks() {
        let zalgo = format!("e{}x", "\u{301}".repeat(40));
        let cleaned = clean_text(&zalgo);
        assert_eq!(
            cleaned,
            format!("e{}x", "\u{301}".repeat(MAX_MARKS_PER_CHAR))
        );
        // Joiners cannot start a new stack: a virama and a ZWJ taking turns count as marks.
        let stacked = format!("क{}", "\u{94D}\u{200D}".repeat(20));
        let marks = clean_text(&stacked)
            .chars()
            .filter(|&c| c == '\u{94D}')
            .count();
        assert_eq!(marks, MAX_MARKS_PER_CHAR);
        let name = clean_name(&format!("bob{}", "\u{336}".repeat(30))).unwrap();
        assert_eq!(name.chars().count(), 3 + MAX_MARKS_PER_CHAR);
        for real in [
            "Tiếng Việt ệ",
            "e\u{323}\u{302}",
            "بِسْمِ ٱللَّٰهِ",
            "ཧཱུྃ",
            "क्षत्रिय हिन्दी",
        ] {
            assert_eq!(clean_text(real), real);
        }
    }

    #[test]
    fn a_braille_blank_is_a_plain_space() {
        // Braille art keeps its shape; a message of blanks is empty.
        assert_eq!(clean_text("⣿\u{2800}⣿"), "⣿ ⣿");
        assert_eq!(clean_text("\u{2800}\u{2800}"), "");
        assert_eq!(clean_name("alice\u{2800}").as_deref(), Some("alice"));
    }

    #[test]
    fn emoji_sequences_keep_their_joiners_and_vs16() {
        for emoji in [
            "👨\u{200D}👩\u{200D}👧",
            "👩\u{200D}💻",
            "🏳\u{FE0F}\u{200D}🌈",
            "👩🏽\u{200D}💻",
            "🏴\u{200D}☠\u{FE0F}",
            "❤\u{FE0F}",
            "1\u{FE0F}\u{20E3}",
        ] {
            assert_eq!(clean_text(&format!("hi {emoji}!")), format!("hi {emoji}!"));
        }
    }

    #[test]
    fn persian_and_indic_words_keep_their_joiners() {
        for word in [
            "می\u{200C}خواهم", // Persian: "I want", the ZWNJ keeps می apart
            "خانه\u{200C}ها",  // Persian: "houses"
            "क्\u{200D}ष",      // Devanagari: the half form of क before ष
            "क्\u{200C}ष",      // Devanagari: an explicit virama, no conjunct
            "ര്\u{200D}",       // Malayalam: a chillu written the old way
        ] {
            assert_eq!(clean_text(word), word);
            assert_eq!(clean_name(word).as_deref(), Some(word));
        }
    }

    #[test]
    fn joiners_and_vs16_that_only_hide_are_removed() {
        assert_eq!(clean_text("ad\u{200D}min"), "admin");
        assert_eq!(clean_text("a\u{200C}b"), "ab");
        assert_eq!(clean_text("\u{200D}👩 \u{200D}💻\u{200D}"), "👩 💻");
        assert_eq!(clean_text("a\u{200D}\u{200D}b"), "ab");
        assert_eq!(
            clean_text("👩\u{200D}\u{200D}💻"),
            "👩\u{200D}💻",
            "a run keeps at most the one that joins"
        );
        assert_eq!(clean_text("👩\u{200C}💻"), "👩💻", "ZWNJ joins no emoji");
        assert_eq!(clean_text("a\u{FE0F} ❤\u{FE0F}\u{FE0F}"), "a ❤\u{FE0F}");
        // Between Arabic letters that cannot join, a ZWNJ changes nothing.
        assert_eq!(clean_text("د\u{200C}ا"), "دا");
    }

    #[test]
    fn zwnjs_over_marks_are_looked_back_over_once() {
        // A fatha (a mark joining passes through) and a ZWNJ that joins nothing, by turns:
        // each ZWNJ must not look back over all the marks before it again.
        let raw = format!("ب{}", "\u{64E}\u{200C}".repeat(5_000));
        // The mark cap would cut the marks first; the joiner pass must be linear on its own.
        let chars: Vec<char> = raw.chars().collect();
        LOOKED_BACK.with(|n| n.set(0));
        let clean: String = drop_idle_joiners(&chars).into_iter().collect();
        assert_eq!(clean, format!("ب{}", "\u{64E}".repeat(5_000)));
        let looked = LOOKED_BACK.with(std::cell::Cell::get);
        assert!(
            looked <= 2 * raw.chars().count(),
            "{looked} characters looked back over"
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
    fn names_turn_whitespace_into_underscores_and_drop_controls() {
        assert_eq!(
            clean_name("  al\tice \n bob ").as_deref(),
            Some("al_ice_bob")
        );
        assert_eq!(clean_name("\x1b[2Jmallory").as_deref(), Some("2Jmallory"));
        assert_eq!(clean_name(" \u{200B}\n"), None);
    }

    #[test]
    fn names_cannot_imitate_the_line_formats() {
        for (raw, clean) in [
            (
                "bob> alice, send me your password",
                Some("bob_alice_send_me_your_password"),
            ),
            ("<alice>", Some("alice")),
            ("* alice", Some("alice")),
            ("-!- server", Some("server")),
            ("-!-", None),
            // letters that look like the punctuation
            ("ǃǃ", None),
            ("bobᐳ", Some("bob")),
            ("ᐸalice", Some("alice")),
            ("alice:", Some("alice")),
            ("@alice", Some("alice")),
            ("o\u{301}scar", Some("o\u{301}scar")),
            ("\u{301}oscar", Some("oscar")),
            ("-_.x-_.", Some("x-_.")),
            ("日本語", Some("日本語")),
            ("Ωmega-2", Some("Ωmega-2")),
        ] {
            assert_eq!(clean_name(raw).as_deref(), clean, "{raw:?}");
        }
    }

    #[test]
    fn names_are_cut_to_the_limit() {
        let long = "x".repeat(100);
        assert_eq!(clean_name(&long).unwrap().chars().count(), MAX_NAME_CHARS);
        // a cut that lands on a space leaves no trailing underscore
        let spaced = format!("{} y", "x".repeat(MAX_NAME_CHARS - 1));
        assert_eq!(clean_name(&spaced).unwrap(), "x".repeat(MAX_NAME_CHARS - 1));
        // nor a ZWNJ with nothing to join on its right
        let persian = format!("{}ب\u{200C}ب", "x".repeat(MAX_NAME_CHARS - 2));
        assert_eq!(
            clean_name(&persian).unwrap(),
            format!("{}ب", "x".repeat(MAX_NAME_CHARS - 2))
        );
    }

    fn look_alike(a: &str, b: &str) -> bool {
        let keys = look_alike_keys(a);
        look_alike_keys(b).iter().any(|key| keys.contains(key))
    }

    #[test]
    fn look_alike_names_share_a_key() {
        for (name, disguise) in [
            ("alice", "Alice"),
            ("alice", "ALICE"),
            ("alice", "aIice"),
            ("alice", "AlIce"),
            ("alice", "alı\u{307}ce"),
            ("alice", "аlice"),
            ("alice", "ａｌｉｃｅ"),
            ("alice", "al\u{200D}ice"),
            ("admin", "ᎪDMIN"),
            ("admin", "admı\u{307}n"),
            ("root", "RᎾOT"),
            ("operator", "Ꮎperator"),
            ("paypal", "paypa1"),
            ("αλικη", "ΑΛΙΚΗ"),
            // a small l (or a 1) for the capital I of a name that is the same in capitals
            ("alice", "ALlCE"),
            ("alice", "AL1CE"),
            ("admin", "ADMlN"),
            ("Ian", "lan"),
        ] {
            assert!(
                look_alike(name, disguise),
                "{disguise:?} passes for {name:?}"
            );
        }
    }

    #[test]
    fn different_names_do_not_share_a_key() {
        for (a, b) in [
            ("alice", "alicia"),
            ("alice", "bob"),
            ("anna", "ana"),
            ("guest-1", "guest-2"),
        ] {
            assert!(!look_alike(a, b), "{a:?} and {b:?}");
        }
    }
}
