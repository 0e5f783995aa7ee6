//! `/search`: its results view and jumping from a hit to its line. The view lists what the
//! server found, newest first; Up, Down, PageUp, PageDown (Home, End) move the pick, Enter
//! jumps to the picked line in its room, Esc closes. Jumping switches to the room (entering
//! it first if it is not open: a conversation is opened as `/query` opens it), asks for the
//! history around the line, and anchors the pane on it, marked; from there it scrolls as
//! any pane does (see `pane.rs`).

use crossterm::event::{KeyCode, KeyEvent};

use super::{Action, App, LineKind};
use crate::rpc::types::{Event, SearchHit, SearchResult};

/// Lines shown below the one jumped to, when there are as many.
pub const BELOW_JUMPED: usize = 5;

/// What `/search` found, as the results view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Results {
    /// What was asked, as typed.
    pub query: String,
    /// The room searched; `None` for everything (`-all`).
    pub room: Option<String>,
    /// Newest first.
    pub hits: Vec<SearchHit>,
    /// The server has more, older.
    pub more: bool,
    /// The words to highlight in each hit, lower case.
    pub words: Vec<String>,
    /// The hit picked, an index into `hits`.
    pub picked: usize,
}

/// A jump to a hit, until its history arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Jump {
    room: String,
    seq: u64,
    /// The history around it has been asked for.
    asked: bool,
}

/// Search's state in the app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// The results view, while it is open.
    pub results: Option<Results>,
    jump: Option<Jump>,
    /// The line last jumped to, marked in its room's pane.
    pub marked: Option<(String, u64)>,
}

impl App {
    /// `/search [-all] TEXT`: asks the server, in the room in view or everywhere.
    pub(super) fn search_command(&mut self, all: bool, query: &str) -> Action {
        if query.is_empty() {
            let usage = "usage: /search [-all] TEXT (words, \"a phrase\", from:NAME)";
            self.push_local(LineKind::Error, usage.into());
            return Action::None;
        }
        match self.connected_room() {
            Some(room) => Action::Search {
                room,
                all,
                query: query.to_owned(),
            },
            None => Action::None,
        }
    }

    /// What the server found: the results view opens on the newest hit.
    pub(super) fn search_results(
        &mut self,
        room: String,
        all: bool,
        query: String,
        mut found: SearchResult,
    ) {
        // Those you ignore are hidden here as in the panes.
        found.hits.retain(|hit| !self.is_ignored(hit.from.id));
        if found.hits.is_empty() {
            let place = if all {
                "anywhere you can read".into()
            } else {
                room
            };
            self.inform(format!("nothing found for {query} in {place}"));
            return;
        }
        let words = highlighted_words(&query);
        self.search.results = Some(Results {
            query,
            room: (!all).then_some(room),
            hits: found.hits,
            more: found.more,
            words,
            picked: 0,
        });
    }

    /// A key while the results view is open: what it does, or `None` for a key that is not
    /// the view's (it goes on to the input line as ever).
    pub(super) fn search_key(&mut self, key: KeyEvent) -> Option<Action> {
        let page = self.page_rows.max(1);
        let results = self.search.results.as_mut()?;
        let (picked, last) = (results.picked, results.hits.len().saturating_sub(1));
        results.picked = match key.code {
            KeyCode::Up => picked.saturating_sub(1),
            KeyCode::Down => (picked + 1).min(last),
            KeyCode::PageUp => picked.saturating_sub(page),
            KeyCode::PageDown => (picked + page).min(last),
            KeyCode::Home => 0,
            KeyCode::End => last,
            KeyCode::Esc => {
                self.search.results = None;
                return Some(Action::None);
            }
            KeyCode::Enter if self.input.is_empty() => {
                let hit = results.hits[picked].clone();
                self.search.results = None;
                return Some(self.jump_to(hit.room, hit.seq));
            }
            _ => return None,
        };
        Some(Action::None)
    }

    /// Goes to the line `seq` of `room`: into view at once if the room is open, entered
    /// first if not. The history around it is asked for once the room is open
    /// ([`App::wants_jump`]).
    pub fn jump_to(&mut self, room: String, seq: u64) -> Action {
        let open = self.room_index(&room);
        self.search.jump = Some(Jump {
            room: room.clone(),
            seq,
            asked: false,
        });
        match open {
            Some(at) => {
                self.switch_to(at);
                Action::None
            }
            None => Action::Enter(room),
        }
    }

    /// The history a jump waits for, once its room is open: asked for once.
    pub fn wants_jump(&mut self) -> Option<(String, u64)> {
        let jump = self.search.jump.as_mut()?;
        if jump.asked || self.rooms.iter().all(|r| r.name != jump.room) {
            return None;
        }
        jump.asked = true;
        Some((jump.room.clone(), jump.seq))
    }

    /// The history around a line jumped to: it replaces the room's pane, the view anchored
    /// on the line, which is marked.
    pub(super) fn around(&mut self, room: String, seq: u64, events: Vec<Event>) {
        let wanted = self
            .search
            .jump
            .as_ref()
            .is_some_and(|jump| jump.room == room && jump.seq == seq);
        let Some(at) = self.room_index(&room).filter(|_| wanted) else {
            return;
        };
        self.search.jump = None;
        let lines = self.lines_for(events);
        self.rooms[at].pane.around_page(lines, seq, BELOW_JUMPED);
        self.search.marked = Some((room, seq));
        self.switch_to(at);
    }

    /// Whether a line of the room in view is the one last jumped to.
    pub fn is_marked(&self, seq: Option<u64>) -> bool {
        match (&self.search.marked, seq) {
            (Some((room, marked)), Some(seq)) => *room == self.room().name && *marked == seq,
            _ => false,
        }
    }

    /// A jump whose history could not be had: given up, so it is not asked for again.
    pub(super) fn jump_failed(&mut self, room: &str) {
        if self
            .search
            .jump
            .as_ref()
            .is_some_and(|jump| jump.room == room)
        {
            self.search.jump = None;
        }
    }
}

/// The words of a query's text terms, lower case: what the results view highlights.
pub fn highlighted_words(query: &str) -> Vec<String> {
    match crate::domain::SearchQuery::parse(query) {
        Ok(parsed) => parsed.text_words(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyModifiers;

    use super::*;
    use crate::rpc::types::{EventKind, MemberInfo};
    use crate::ui::app::room_tests::{entered, event, in_rooms, say, texts};
    use crate::ui::app::{NetEvent, ScrollPos};

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn type_line(app: &mut App, text: &str) -> Action {
        for c in text.chars() {
            app.handle_key(key(KeyCode::Char(c)));
        }
        app.handle_key(key(KeyCode::Enter))
    }

    fn hit(room: &str, seq: u64) -> SearchHit {
        SearchHit {
            room: room.into(),
            seq,
            ts: seq * 1000,
            from: MemberInfo::new(uuid::Uuid::from_u128(1), "carol".into()),
            text: format!("deploy number {seq}"),
            action: false,
        }
    }

    fn found(hits: Vec<SearchHit>) -> NetEvent {
        NetEvent::SearchResults {
            room: "#general".into(),
            all: true,
            query: "deploy".into(),
            result: Box::new(SearchResult { hits, more: false }),
        }
    }

    #[test]
    fn search_asks_the_server_in_the_room_in_view_or_everywhere() {
        let mut app = in_rooms(&["#ops"]);
        assert_eq!(
            type_line(&mut app, "/search deploy \"green build\""),
            Action::Search {
                room: "#general".into(),
                all: false,
                query: "deploy \"green build\"".into()
            }
        );
        assert_eq!(
            type_line(&mut app, "/search -all from:carol"),
            Action::Search {
                room: "#general".into(),
                all: true,
                query: "from:carol".into()
            }
        );
        assert_eq!(type_line(&mut app, "/search"), Action::None);
        assert!(texts(&app).last().unwrap().starts_with("usage: /search"));
    }

    #[test]
    fn the_ignored_are_not_among_the_hits() {
        let mut app = App::new("test");
        app.ignored = vec![MemberInfo::new(uuid::Uuid::from_u128(2), "mallory".into())];
        let mut theirs = hit("#general", 2);
        theirs.from = app.ignored[0].clone();
        app.handle_net(found(vec![hit("#general", 3), theirs, hit("#general", 1)]));
        let results = app.search.results.as_ref().expect("a view");
        let seqs: Vec<u64> = results.hits.iter().map(|hit| hit.seq).collect();
        assert_eq!(seqs, [3, 1]);
    }

    #[test]
    fn nothing_found_is_said_and_opens_no_view() {
        let mut app = in_rooms(&[]);
        app.handle_net(found(Vec::new()));
        assert_eq!(app.search.results, None);
        assert!(
            texts(&app)
                .last()
                .unwrap()
                .starts_with("nothing found for deploy")
        );
    }

    #[test]
    fn keys_move_the_pick_and_esc_closes_the_view() {
        let mut app = in_rooms(&[]);
        app.handle_net(found(
            (1..=5).rev().map(|seq| hit("#general", seq)).collect(),
        ));
        let picked = |app: &App| app.search.results.as_ref().map(|r| r.picked);
        assert_eq!(picked(&app), Some(0), "the newest first");
        app.handle_key(key(KeyCode::Down));
        app.handle_key(key(KeyCode::Down));
        assert_eq!(picked(&app), Some(2));
        app.handle_key(key(KeyCode::Up));
        assert_eq!(picked(&app), Some(1));
        app.handle_key(key(KeyCode::End));
        assert_eq!(picked(&app), Some(4));
        app.handle_key(key(KeyCode::Down));
        assert_eq!(picked(&app), Some(4), "stops at the oldest");
        app.handle_key(key(KeyCode::PageUp));
        assert_eq!(picked(&app), Some(0));
        assert_eq!(app.handle_key(key(KeyCode::Esc)), Action::None);
        assert_eq!(app.search.results, None);
    }

    #[test]
    fn enter_jumps_to_the_line_in_its_room_with_the_history_around_it() {
        let mut app = in_rooms(&["#ops"]);
        for seq in 1..=40 {
            app.handle_net(say("#ops", seq, "carol", &format!("line {seq}")));
        }
        app.switch_to(0);
        app.handle_net(found(vec![hit("#general", 30), hit("#ops", 9)]));
        app.handle_key(key(KeyCode::Down));
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
        assert_eq!(app.search.results, None, "the view closes");
        assert_eq!(app.room().name, "#ops", "its room comes into view");
        assert_eq!(app.wants_jump(), Some(("#ops".to_owned(), 9)));
        assert_eq!(app.wants_jump(), None, "asked for once");

        // The history around it: 20 either side (from 1, as it is near the start).
        let events: Vec<_> = (1..=29)
            .map(|seq| event("#ops", seq, EventKind::Message, "carol", Some("around")))
            .collect();
        app.handle_net(NetEvent::Around {
            room: "#ops".into(),
            seq: 9,
            events,
        });
        let pane = app.pane();
        let seqs: Vec<u64> = pane.lines.iter().filter_map(|l| l.seq).collect();
        assert_eq!(
            seqs,
            (1..=29).collect::<Vec<_>>(),
            "the pane is that history"
        );
        assert_eq!(
            pane.scroll,
            ScrollPos {
                lines: 29 - 9 - BELOW_JUMPED,
                rows: 0
            },
            "anchored on the line, a few below it"
        );
        assert_eq!(pane.detached, Some(40), "short of the live end");
        assert!(app.is_marked(Some(9)));
        assert!(!app.is_marked(Some(10)));
        // Scrolled down to the bottom from there, the pane pages forward as usual.
        app.pane_mut().scroll = ScrollPos::LIVE;
        assert_eq!(app.wants_newer(), Some(crate::ui::net::Page::After(29)));
    }

    #[test]
    fn a_hit_in_a_room_not_open_enters_it_first() {
        let mut app = in_rooms(&[]);
        app.handle_net(found(vec![hit("#old", 3)]));
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::Enter("#old".into())
        );
        assert_eq!(app.wants_jump(), None, "not until it is open");
        app.handle_net(entered("#old", false));
        assert_eq!(app.wants_jump(), Some(("#old".to_owned(), 3)));
        app.handle_net(NetEvent::Around {
            room: "#old".into(),
            seq: 3,
            events: vec![event("#old", 3, EventKind::Message, "carol", Some("x"))],
        });
        assert_eq!(app.room().name, "#old");
        assert!(app.is_marked(Some(3)));
    }

    #[test]
    fn history_for_a_jump_no_longer_wanted_is_left_alone() {
        let mut app = in_rooms(&["#ops"]);
        app.handle_net(say("#ops", 1, "carol", "kept"));
        let ops = app.room_index("#ops").unwrap();
        let before = app.rooms[ops].pane.lines.len();
        app.handle_net(NetEvent::Around {
            room: "#ops".into(),
            seq: 5,
            events: vec![event("#ops", 5, EventKind::Message, "carol", Some("stray"))],
        });
        assert_eq!(app.rooms[ops].pane.lines.len(), before);
        assert_eq!(app.search.marked, None);
    }
}
