//! The colours of everything but the nicks, per palette: dim text, the status and header
//! bars, the client's own info and error lines, and the mention highlight, which is a
//! background (nick colours are only ever foregrounds, so the two cannot be confused).

use ratatui::style::{Color, Modifier, Style};

use super::theme::{Palette, Theme};

impl Theme {
    /// Text that stands back: times, brackets round names, joins and leaves, borders.
    pub fn dim(&self) -> Style {
        Style::new().fg(match self.palette {
            Palette::Dark => Color::DarkGray,
            Palette::Light => Color::Indexed(244),
        })
    }

    /// The status line above the input.
    pub fn status_bar(&self) -> Style {
        match self.palette {
            Palette::Dark => Style::new().fg(Color::White).bg(Color::Blue),
            Palette::Light => Style::new().fg(Color::Black).bg(Color::Indexed(153)),
        }
    }

    /// The header line with the room in view and its topic.
    pub fn header_bar(&self) -> Style {
        match self.palette {
            Palette::Dark => Style::new().fg(Color::White).bg(Color::DarkGray),
            Palette::Light => Style::new().fg(Color::Black).bg(Color::Indexed(252)),
        }
    }

    /// The client's own notes, and unread counts in the room list.
    pub fn info(&self) -> Style {
        Style::new().fg(match self.palette {
            Palette::Dark => Color::Cyan,
            Palette::Light => Color::Indexed(24),
        })
    }

    /// What went wrong, said by the client.
    pub fn error(&self) -> Style {
        Style::new().fg(match self.palette {
            Palette::Dark => Color::Red,
            Palette::Light => Color::Indexed(160),
        })
    }

    /// The "new messages" and day-change lines.
    pub fn rule(&self) -> Style {
        Style::new().fg(match self.palette {
            Palette::Dark => Color::LightRed,
            Palette::Light => Color::Indexed(160),
        })
    }

    /// A room with nothing new, in the room list.
    pub fn quiet(&self) -> Style {
        match self.palette {
            Palette::Dark => Style::new().fg(Color::Gray),
            // Grey on white is hard to read: the terminal's own colour instead.
            Palette::Light => Style::new(),
        }
    }

    /// A line that names us, and a room where someone did: bold on a background of its own
    /// across the whole line, never a foreground colour, so that it can never pass for a
    /// nick's colour.
    pub fn mention(&self) -> Style {
        let background = match self.palette {
            Palette::Dark => Color::Indexed(52),
            Palette::Light => Color::Indexed(224),
        };
        Style::new().bg(background).add_modifier(Modifier::BOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mention_highlight_is_a_background_and_no_nick_colour_has_one() {
        for palette in [Palette::Dark, Palette::Light] {
            let theme = Theme::new(palette, None);
            let mention = theme.mention();
            assert_eq!(mention.fg, None, "{palette:?}");
            let background = mention.bg.expect("a background");
            assert!(!theme.nick_colours.contains(&background), "{palette:?}");
        }
    }

    #[test]
    fn the_light_palette_has_no_light_grey_text() {
        let theme = Theme::new(Palette::Light, None);
        for style in [theme.dim(), theme.info(), theme.error(), theme.quiet()] {
            assert!(
                !matches!(
                    style.fg,
                    Some(Color::Gray | Color::White | Color::Yellow | Color::LightYellow)
                ),
                "{style:?}"
            );
        }
    }
}
