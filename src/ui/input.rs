//! The input line: text being typed and a cursor that always sits on a grapheme boundary.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// A single line of editable text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputLine {
    text: String,
    /// Byte offset into `text`, always on a grapheme boundary.
    cursor: usize,
}

impl InputLine {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Display columns between the start of the line and the cursor.
    pub fn cursor_column(&self) -> usize {
        self.text[..self.cursor].width()
    }

    pub fn insert(&mut self, c: char) {
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
        // A combining mark joins the grapheme before it; keep the cursor after the whole cluster.
        self.cursor = self.next_boundary(self.prev_boundary(self.cursor));
    }

    pub fn backspace(&mut self) {
        let start = self.prev_boundary(self.cursor);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    pub fn delete(&mut self) {
        let end = self.next_boundary(self.cursor);
        self.text.replace_range(self.cursor..end, "");
    }

    pub fn left(&mut self) {
        self.cursor = self.prev_boundary(self.cursor);
    }

    pub fn right(&mut self) {
        self.cursor = self.next_boundary(self.cursor);
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.text.len();
    }

    /// Back to the start of this word, or of the previous one (Alt-B).
    pub fn word_left(&mut self) {
        self.cursor = self.word_start_before(self.cursor);
    }

    /// On to the end of this word, or of the next one (Alt-F).
    pub fn word_right(&mut self) {
        let rest = &self.text[self.cursor..];
        let skipped_space = rest.len() - rest.trim_start().len();
        let word = rest[skipped_space..]
            .find(char::is_whitespace)
            .unwrap_or(rest.len() - skipped_space);
        self.cursor += skipped_space + word;
    }

    /// Deletes back to the start of the word (Ctrl-W, Alt-Backspace).
    pub fn delete_word_before(&mut self) {
        let start = self.word_start_before(self.cursor);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Deletes from the start of the line to the cursor (Ctrl-U).
    pub fn kill_to_start(&mut self) {
        self.text.replace_range(..self.cursor, "");
        self.cursor = 0;
    }

    /// Deletes from the cursor to the end of the line (Ctrl-K).
    pub fn kill_to_end(&mut self) {
        self.text.truncate(self.cursor);
    }

    /// Replaces the whole line, cursor at the end (history recall, completion).
    pub fn set(&mut self, text: &str) {
        self.text = text.to_owned();
        self.cursor = self.text.len();
    }

    /// The text before the cursor, where completion looks.
    pub fn before_cursor(&self) -> &str {
        &self.text[..self.cursor]
    }

    /// Replaces the text from byte `start` to the cursor with `with`, cursor after it.
    pub fn replace_before_cursor(&mut self, start: usize, with: &str) {
        self.text.replace_range(start..self.cursor, with);
        self.cursor = start + with.len();
    }

    /// Where the word ending at (or the whitespace before) `at` starts.
    fn word_start_before(&self, at: usize) -> usize {
        let before = self.text[..at].trim_end();
        before.rfind(char::is_whitespace).map_or(0, |i| {
            i + before[i..].chars().next().map_or(1, char::len_utf8)
        })
    }

    /// Empties the line and returns what it held.
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    fn prev_boundary(&self, at: usize) -> usize {
        self.text[..at]
            .grapheme_indices(true)
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    fn next_boundary(&self, at: usize) -> usize {
        self.text[at..]
            .graphemes(true)
            .next()
            .map_or(at, |g| at + g.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> InputLine {
        let mut input = InputLine::default();
        s.chars().for_each(|c| input.insert(c));
        input
    }

    #[test]
    fn typing_appends_and_moves_the_cursor() {
        let input = typed("héllo");
        assert_eq!(input.text(), "héllo");
        assert_eq!(input.cursor_column(), 5);
    }

    #[test]
    fn insert_in_the_middle() {
        let mut input = typed("hllo");
        input.home();
        input.right();
        input.insert('e');
        assert_eq!(input.text(), "hello");
        assert_eq!(input.cursor_column(), 2);
    }

    #[test]
    fn backspace_removes_a_whole_grapheme() {
        let mut input = typed("ae\u{301}");
        assert_eq!(input.cursor_column(), 2);
        input.backspace();
        assert_eq!(input.text(), "a");
        let mut family = typed("x👨‍👩‍👧");
        family.backspace();
        assert_eq!(family.text(), "x");
    }

    #[test]
    fn delete_removes_the_grapheme_under_the_cursor() {
        let mut input = typed("ab日c");
        input.home();
        input.right();
        input.right();
        input.delete();
        assert_eq!(input.text(), "abc");
        input.end();
        input.delete();
        assert_eq!(input.text(), "abc", "delete at the end does nothing");
    }

    #[test]
    fn wide_characters_move_the_cursor_two_columns() {
        let mut input = typed("日本");
        assert_eq!(input.cursor_column(), 4);
        input.left();
        assert_eq!(input.cursor_column(), 2);
    }

    #[test]
    fn cursor_stops_at_both_ends() {
        let mut input = typed("ab");
        input.right();
        assert_eq!(input.cursor_column(), 2);
        input.home();
        input.left();
        input.backspace();
        assert_eq!(input.cursor_column(), 0);
        assert_eq!(input.text(), "ab");
    }

    #[test]
    fn word_moves_skip_whole_words() {
        let mut input = typed("one  twö three");
        input.word_left();
        assert_eq!(input.before_cursor(), "one  twö ");
        input.word_left();
        assert_eq!(input.before_cursor(), "one  ");
        input.word_left();
        input.word_left();
        assert_eq!(input.before_cursor(), "");
        input.word_right();
        assert_eq!(input.before_cursor(), "one");
        input.word_right();
        assert_eq!(input.before_cursor(), "one  twö");
        input.end();
        input.word_right();
        assert_eq!(input.before_cursor(), "one  twö three");
    }

    #[test]
    fn delete_word_before_takes_the_word_and_its_trailing_space() {
        let mut input = typed("hello big world ");
        input.delete_word_before();
        assert_eq!(input.text(), "hello big ");
        input.delete_word_before();
        assert_eq!(input.text(), "hello ");
        input.home();
        input.delete_word_before();
        assert_eq!(input.text(), "hello ", "nothing before the cursor");
    }

    #[test]
    fn kills_to_either_end() {
        let mut input = typed("abcdef");
        input.home();
        input.right();
        input.right();
        input.kill_to_end();
        assert_eq!(input.text(), "ab");
        input.set("abcdef");
        input.left();
        input.kill_to_start();
        assert_eq!(input.text(), "f");
        assert_eq!(input.cursor_column(), 0);
    }

    #[test]
    fn take_empties_the_line() {
        let mut input = typed("hi");
        assert_eq!(input.take(), "hi");
        assert!(input.is_empty());
        assert_eq!(input.cursor_column(), 0);
    }
}
