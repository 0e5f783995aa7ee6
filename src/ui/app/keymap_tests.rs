//! Tests of the keys the config file's `[keys]` rebinds, as `App::handle_key` takes them.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::room_tests::in_rooms;
use crate::ui::keymap::{KeyAction, Keymap};

fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

#[test]
fn a_rebound_key_moves_rooms_and_the_old_key_then_does_not() {
    let mut app = in_rooms(&["#ops", "#random"]);
    let bound = HashMap::from([
        (KeyAction::NextRoom, vec!["alt-right".parse().unwrap()]),
        (KeyAction::Room(1), vec!["f2".parse().unwrap()]),
    ]);
    app.keymap = Keymap::new(&bound).unwrap();
    app.handle_key(press(KeyCode::Right, KeyModifiers::ALT));
    assert_eq!(app.room().name, "#ops");
    app.handle_key(press(KeyCode::Char('n'), KeyModifiers::CONTROL));
    assert_eq!(app.room().name, "#ops", "Ctrl-N is no longer next_room");
    app.handle_key(press(KeyCode::Char('1'), KeyModifiers::ALT));
    assert_eq!(app.room().name, "#general", "room_1 keeps its default");
    app.handle_key(press(KeyCode::F(2), KeyModifiers::NONE));
    assert_eq!(
        app.room().name,
        "#ops",
        "F2 was the members' toggle; now room_2"
    );
    app.handle_key(press(KeyCode::Char('2'), KeyModifiers::ALT));
    app.handle_key(press(KeyCode::Char('3'), KeyModifiers::ALT));
    assert_eq!(app.room().name, "#random");
    app.handle_key(press(KeyCode::Char('2'), KeyModifiers::ALT));
    assert_eq!(app.room().name, "#random", "Alt-2 is no longer room_2");
    assert!(app.input.is_empty(), "an unbound Alt key types nothing");
}

#[test]
fn rebound_scrolling_keys_scroll_and_the_old_ones_do_not() {
    let mut app = in_rooms(&[]);
    let bound = HashMap::from([
        (KeyAction::PageUp, vec!["ctrl-b".parse().unwrap()]),
        (KeyAction::LineUp, vec!["alt-k".parse().unwrap()]),
        (KeyAction::Bottom, vec!["alt-g".parse().unwrap()]),
    ]);
    app.keymap = Keymap::new(&bound).unwrap();
    app.page_rows = 10;
    app.handle_key(press(KeyCode::PageUp, KeyModifiers::NONE));
    app.handle_key(press(KeyCode::Up, KeyModifiers::SHIFT));
    assert_eq!(app.pane().scroll_by, 0, "PageUp and Shift-Up are unbound");
    app.handle_key(press(KeyCode::Char('b'), KeyModifiers::CONTROL));
    app.handle_key(press(KeyCode::Char('k'), KeyModifiers::ALT));
    assert_eq!(app.pane().scroll_by, 11);
    app.handle_key(press(KeyCode::Esc, KeyModifiers::NONE));
    assert_eq!(app.pane().scroll_by, 11, "Esc is no longer bottom");
    app.handle_key(press(KeyCode::Char('g'), KeyModifiers::ALT));
    assert_eq!(app.pane().scroll_by, 0);
}
