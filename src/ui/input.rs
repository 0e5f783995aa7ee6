//! The input: text being typed, possibly several lines of it, and a cursor that always sits
//! on a grapheme boundary.

use unicode_segmentation::UnicodeSegmentation;

use super::cells::cluster_width;

/// Columns a grapheme takes in the input box, which draws a tab (a paste keeps its tabs)
/// as one blank.
fn columns(grapheme: &str) -> usize {
    if grapheme == "\t" {
        1
    } else {
        cluster_width(grapheme)
    }
}

/// Editable text; `\n` separates its lines. Line-wise keys (Home/End, kills, Up/Down) work
/// on the line the cursor is in.
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

    /// Byte offset of the cursor in [`Self::text`].
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Display columns between the start of the cursor's line and the cursor.
    pub fn cursor_column(&self) -> usize {
        self.text[self.line_start()..self.cursor]
            .graphemes(true)
            .map(columns)
            .sum()
    }

    pub fn insert(&mut self, c: char) {
        self.insert_str(c.encode_utf8(&mut [0; 4]));
    }

    /// Inserts text at the cursor (a paste, a newline) and moves the cursor past it.
    pub fn insert_str(&mut self, s: &str) {
        self.text.insert_str(self.cursor, s);
        self.cursor += s.len();
        // A combining mark joins the grapheme before it; keep the cursor after the whole cluster.
        self.cursor = self.next_boundary(self.prev_boundary(self.cursor));
    }

    pub fn backspace(&mut self) {
        let start = self.prev_boundary(self.cursor);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
        self.snap();
    }

    /// After a deletion joined what was on either side (a combining mark after a removed
    /// newline), moves the cursor to the end of the grapheme it landed inside, if any.
    fn snap(&mut self) {
        let cursor = self.cursor;
        self.cursor = self
            .text
            .grapheme_indices(true)
            .map(|(at, _)| at)
            .chain([self.text.len()])
            .find(|&at| at >= cursor)
            .unwrap_or(self.text.len());
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

    /// To the start of the cursor's line.
    pub fn home(&mut self) {
        self.cursor = self.line_start();
    }

    /// To the end of the cursor's line.
    pub fn end(&mut self) {
        self.cursor = self.line_end();
    }

    /// Whether the text has more than one line.
    pub fn is_multiline(&self) -> bool {
        self.text.contains('\n')
    }

    /// To the line above, as near the same column as its graphemes allow; false on the
    /// first line (where Up recalls history instead).
    pub fn up(&mut self) -> bool {
        let start = self.line_start();
        if start == 0 {
            return false;
        }
        let column = self.cursor_column();
        let above = self.text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
        self.cursor = self.at_column(above, start - 1, column);
        true
    }

    /// To the line below; false on the last line.
    pub fn down(&mut self) -> bool {
        let end = self.line_end();
        if end == self.text.len() {
            return false;
        }
        let column = self.cursor_column();
        let below = end + 1;
        let below_end = self.text[below..]
            .find('\n')
            .map_or(self.text.len(), |i| below + i);
        self.cursor = self.at_column(below, below_end, column);
        true
    }

    /// The last grapheme boundary in `start..end` whose column is not past `column`.
    fn at_column(&self, start: usize, end: usize, column: usize) -> usize {
        let mut at = start;
        let mut width = 0;
        for (i, grapheme) in self.text[start..end].grapheme_indices(true) {
            width += columns(grapheme);
            if width > column {
                break;
            }
            at = start + i + grapheme.len();
        }
        at
    }

    fn line_start(&self) -> usize {
        self.text[..self.cursor].rfind('\n').map_or(0, |i| i + 1)
    }

    fn line_end(&self) -> usize {
        self.text[self.cursor..]
            .find('\n')
            .map_or(self.text.len(), |i| self.cursor + i)
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

    /// Deletes from the start of the line to the cursor (Ctrl-U); at the start of a line,
    /// joins it to the line above.
    pub fn kill_to_start(&mut self) {
        let start = match self.line_start() {
            start if start == self.cursor => start.saturating_sub(1),
            start => start,
        };
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
        self.snap();
    }

    /// Deletes from the cursor to the end of the line (Ctrl-K); at the end of a line, joins
    /// the next one to it, as Emacs does.
    pub fn kill_to_end(&mut self) {
        let end = match self.line_end() {
            end if end == self.cursor && end < self.text.len() => end + 1,
            end => end,
        };
        self.text.replace_range(self.cursor..end, "");
        self.snap();
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

    #[test]
    fn a_paste_lands_at_the_cursor_with_its_newlines() {
        let mut input = typed("ab");
        input.left();
        input.insert_str("1\n2");
        assert_eq!(input.text(), "a1\n2b");
        assert_eq!(input.before_cursor(), "a1\n2");
        assert!(input.is_multiline());
        assert_eq!(
            input.cursor_column(),
            1,
            "columns count from the line's start"
        );
    }

    #[test]
    fn home_end_and_kills_work_on_the_cursor_line() {
        let mut input = typed("one\ntwo\nthree");
        input.up();
        input.home();
        assert_eq!(input.before_cursor(), "one\n");
        input.end();
        assert_eq!(input.before_cursor(), "one\ntwo");
        input.kill_to_end();
        assert_eq!(
            input.text(),
            "one\ntwothree",
            "at a line's end, Ctrl-K joins the next"
        );
        input.kill_to_start();
        assert_eq!(input.text(), "one\nthree");
        input.kill_to_start();
        assert_eq!(
            input.text(),
            "onethree",
            "at a line's start, Ctrl-U joins the one above"
        );
    }

    #[test]
    fn up_and_down_move_between_lines_keeping_the_column() {
        let mut input = typed("日本語\nab\nxyz");
        input.left();
        assert_eq!(input.cursor_column(), 2);
        assert!(input.up());
        assert_eq!(input.before_cursor(), "日本語\nab");
        assert!(input.up());
        assert_eq!(
            input.before_cursor(),
            "日",
            "column 2 is after the first wide character"
        );
        assert!(!input.up(), "the first line has nothing above");
        assert!(input.down());
        assert!(input.down());
        assert_eq!(input.before_cursor(), "日本語\nab\nxy");
        assert!(!input.down(), "the last line has nothing below");
        assert!(!typed("single").up());
    }

    #[test]
    fn joining_lines_never_leaves_the_cursor_inside_a_grapheme() {
        // A combining mark at the start of the second line joins the "a" above once the
        // newline between them goes.
        for join in [InputLine::kill_to_start, InputLine::backspace] {
            let mut input = typed("a\n\u{301}b");
            input.home();
            join(&mut input);
            assert_eq!(input.text(), "a\u{301}b");
            assert_eq!(input.before_cursor(), "a\u{301}");
        }
        let mut input = typed("a\n\u{301}");
        input.up();
        input.end();
        input.kill_to_end();
        assert_eq!(input.before_cursor(), "a\u{301}");
    }

    #[test]
    fn up_keeps_the_column_as_drawn_past_a_tab() {
        // The input box draws a pasted tab as one blank column.
        let mut input = InputLine::default();
        input.set("12345\n\tab");
        assert_eq!(input.cursor_column(), 3);
        assert!(input.up());
        assert_eq!(input.before_cursor(), "123");
        assert!(input.down());
        assert_eq!(input.before_cursor(), "12345\n\tab");
    }

    #[test]
    fn up_keeps_the_column_as_drawn_past_an_emoji_sequence() {
        // 👍🏽 takes four columns on screen, so column 4 below is just after it.
        let mut input = InputLine::default();
        input.set("👍🏽x\n12345");
        input.left();
        assert!(input.up());
        assert_eq!(input.before_cursor(), "👍🏽");
    }
}
