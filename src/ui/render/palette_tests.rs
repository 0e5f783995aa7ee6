//! The screen drawn in the theme's colours: the light palette, and the mention highlight
//! on both palettes.

use ratatui::style::Color;
use ratatui::{Terminal, backend::TestBackend};

use crate::ui::app::App;
use crate::ui::app::room_tests::{in_rooms, say};
use crate::ui::render::draw;
use crate::ui::theme::{Palette, Theme};

fn screen(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| draw(app, frame)).unwrap();
    terminal
}

/// bob in #general and #dev: a line from alice, one from carol naming him, and a
/// mention waiting in #dev.
fn mentioned_app(palette: Palette) -> App {
    let mut app = in_rooms(&["#dev"]);
    app.theme = Theme::new(palette, None);
    app.handle_net(say("#dev", 1, "carol", "bob: review please"));
    app.handle_net(say("#general", 1, "alice", "morning all"));
    app.handle_net(say("#general", 2, "carol", "bob: lunch?"));
    app
}

/// The row of the screen whose text contains `text`.
fn row_of(terminal: &Terminal<TestBackend>, text: &str) -> u16 {
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .find(|&y| {
            let row: String = (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect();
            row.contains(text)
        })
        .unwrap_or_else(|| panic!("{text:?} is not on screen"))
}

#[test]
fn light_palette_screen() {
    let terminal = screen(&mentioned_app(Palette::Light), 60, 8);
    // The cells with their colours: the text alone is the same on either palette.
    insta::assert_debug_snapshot!(terminal.backend().buffer());
}

#[test]
fn a_mention_is_a_background_across_the_line_on_either_palette() {
    for palette in [Palette::Dark, Palette::Light] {
        let app = mentioned_app(palette);
        let terminal = screen(&app, 60, 8);
        let buffer = terminal.backend().buffer();
        let mention = app.theme.mention().bg.expect("a background");
        let y = row_of(&terminal, "lunch?");
        // From the time to the end of the text: the name keeps its colour, on the
        // highlight's background.
        let line = "00:00 <carol> bob: lunch?";
        let x0 = 18; // after the room list
        for x in x0..x0 + line.len() as u16 {
            assert_eq!(buffer[(x, y)].bg, mention, "{palette:?} column {x}");
        }
        let name = &buffer[(x0 + 7, y)];
        assert_eq!(name.symbol(), "c");
        assert_eq!(name.fg, app.theme.nick_colour("carol"), "{palette:?}");
        // A line that does not name us has no background.
        let y = row_of(&terminal, "morning all");
        assert_eq!(buffer[(x0 + 14, y)].bg, Color::Reset, "{palette:?}");
        // The room list's flag for #dev is the same highlight.
        let y = row_of(&terminal, "#dev");
        assert_eq!(buffer[(2, y)].bg, mention, "{palette:?}");
    }
}

#[test]
fn in_a_conversation_only_the_lines_that_name_us_stand_out() {
    use crate::ui::app::ident_tests::{DM, conversation};
    let mut app = in_rooms(&[]);
    app.handle_net(conversation("alice", Vec::new(), 0, 0));
    let at = app.rooms.iter().position(|room| room.name == DM).unwrap();
    app.switch_to(at);
    app.handle_net(say(DM, 1, "alice", "are you around"));
    app.handle_net(say(DM, 2, "alice", "bob: ping"));
    let terminal = screen(&app, 60, 8);
    let buffer = terminal.backend().buffer();
    let mention = app.theme.mention().bg.expect("a background");
    // Every direct message is for us (it notifies, it flags the room), but a line that
    // does not name us is drawn as any other.
    let y = row_of(&terminal, "are you around");
    assert_ne!(buffer[(30, y)].bg, mention);
    let y = row_of(&terminal, "bob: ping");
    assert_eq!(buffer[(30, y)].bg, mention);
}
