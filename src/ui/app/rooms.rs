//! The rooms the client is in, each with its own pane, member list, unsent draft, unread
//! count and mention flag, and where the user last looked; switching between them; and the
//! join/leave noise: runs of joins and leaves collapsed into one line, and the smart filter.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::pane::Pane;
use super::{App, ChatLine, LineKind};
use crate::rpc::types::{Event, EventKind, MemberInfo};
use crate::ui::input::InputLine;

/// What a conversation's name starts with in the room list and the header.
pub const CONVERSATION_MARK: &str = "@";

/// The smart filter hides the joins and leaves of members who have not spoken for this long.
pub const QUIET_MS: u64 = 10 * 60 * 1000;

/// One room the client is in.
#[derive(Debug, Clone)]
pub struct Room {
    /// As the server names it, `#general`; empty for the room not joined yet at start.
    pub name: String,
    pub topic: Option<String>,
    pub pane: Pane,
    /// Everyone in the room, sorted by name regardless of case; in a large room, as of the
    /// last list the server sent and the changes since (see `members_complete`).
    pub members: Vec<MemberInfo>,
    /// How many members the server last said the room has.
    pub(super) member_count: usize,
    /// Whether `members` is the whole list: false in a large room from a presence event
    /// that could not name every change until the list asked for comes.
    pub(super) members_complete: bool,
    /// The seq the member list is the server's answer as of: events up to it (the join's
    /// history, a catch-up replay) happened before it and must not change it.
    pub(super) members_as_of: u64,
    /// Names of those who spoke, most recent first: Tab offers them first.
    pub(super) recent_speakers: Vec<String>,
    /// What was being typed when the user switched away.
    pub(super) draft: InputLine,
    /// Messages said while the room was not in view.
    pub unread: usize,
    /// Someone named us here while the room was not in view.
    pub mentioned: bool,
    /// For a conversation, the other identity, under its current name.
    pub peer: Option<MemberInfo>,
    /// Our read marker here: the last seq seen, in any of our identity's sessions.
    pub read: u64,
    /// When this client last moved the marker, so that it moves at most once every
    /// [`MARK_EVERY`].
    pub(super) marked_at: Option<Instant>,
    /// When each member last said something here (event time, Unix ms), for the smart filter.
    spoke_at: HashMap<Uuid, u64>,
}

/// The read marker of the room in view moves at most this often.
pub const MARK_EVERY: Duration = Duration::from_secs(1);

impl Room {
    pub fn new(name: String, scrollback: usize) -> Self {
        Self {
            name,
            topic: None,
            pane: Pane::new(scrollback),
            members: Vec::new(),
            member_count: 0,
            members_complete: true,
            members_as_of: 0,
            recent_speakers: Vec::new(),
            draft: InputLine::default(),
            unread: 0,
            mentioned: false,
            peer: None,
            read: 0,
            marked_at: None,
            spoke_at: HashMap::new(),
        }
    }

    /// How the room is named on screen: a conversation as `@peer`, a person rather than a
    /// room.
    pub fn title(&self) -> String {
        match &self.peer {
            Some(peer) => format!("{CONVERSATION_MARK}{}", peer.name),
            None => self.name.clone(),
        }
    }

    /// The newest seq the pane holds: its lines are in seq order, so the last one with a
    /// seq (looked for from the end: this is asked every frame).
    pub(super) fn newest_seq(&self) -> Option<u64> {
        self.pane.lines.iter().rev().find_map(|line| line.seq)
    }

    /// Counts again what is unread from the marker and the lines held: what others said
    /// after it; and whether any of that names us.
    pub(super) fn recount(&mut self) {
        let read = self.read;
        let unseen = self.pane.lines.iter().filter(|line| {
            line.seq.is_some_and(|seq| seq > read)
                && matches!(
                    line.kind,
                    LineKind::Message { own: false, .. } | LineKind::Action { own: false, .. }
                )
        });
        let (count, mentioned) =
            unseen.fold((0, false), |(n, m), line| (n + 1, m || line.mentions_me));
        (self.unread, self.mentioned) = (count, mentioned);
    }

    /// The "new messages" separator goes above the first line after the marker, if any.
    pub(super) fn separate_after(&mut self, read: u64) {
        let lines = &mut self.pane.lines;
        lines.retain(|line| line.kind != LineKind::Separator);
        if let Some(at) = lines
            .iter()
            .position(|line| line.seq.is_some_and(|seq| seq > read))
        {
            lines.insert(at, ChatLine::separator());
        }
    }

    /// Whether something happened here that the user has not seen.
    pub fn active(&self) -> bool {
        self.unread > 0 || self.mentioned
    }

    /// The user looks away: the "new messages" separator moves to the end of the pane, so
    /// what arrives meanwhile goes below it.
    fn looked_away(&mut self) {
        self.pane
            .lines
            .retain(|line| line.kind != LineKind::Separator);
        self.pane.push(ChatLine::separator());
    }

    /// The user looks at the room again: nothing is unread, and a separator with nothing
    /// below it says nothing.
    fn looked_at(&mut self) {
        (self.unread, self.mentioned) = (0, false);
        if self
            .pane
            .lines
            .back()
            .is_some_and(|line| line.kind == LineKind::Separator)
        {
            self.pane.lines.pop_back();
            // The view stays on the lines it showed: the separator went in below them.
            let pane = &mut self.pane;
            if pane.appended_while_scrolled > 0 {
                pane.appended_while_scrolled -= 1;
            } else {
                pane.scroll.lines = pane.scroll.lines.saturating_sub(1);
            }
        }
    }

    /// Notes who spoke when, for the smart filter.
    pub(super) fn spoke(&mut self, event: &Event) {
        if matches!(event.kind, EventKind::Message | EventKind::Action) {
            self.spoke_at.insert(event.from.id, event.ts);
        }
    }

    /// Whether the smart filter hides this event: the join, leave or away of a member who
    /// has not spoken here in the [`QUIET_MS`] before it.
    pub(super) fn quiet(&self, event: &Event) -> bool {
        matches!(
            event.kind,
            EventKind::Join | EventKind::Leave | EventKind::Away
        ) && !self.spoke_lately(event.from.id, event.ts)
    }

    /// Whether a member said something here in the [`QUIET_MS`] before `ts`.
    pub(super) fn spoke_lately(&self, id: Uuid, ts: u64) -> bool {
        self.spoke_at
            .get(&id)
            .is_some_and(|&spoke| ts.saturating_sub(spoke) <= QUIET_MS)
    }

    /// How many members the room has: the list's length, unless the list is waiting to be
    /// sent again.
    pub fn member_count(&self) -> usize {
        if self.members_complete {
            self.members.len()
        } else {
            self.member_count
        }
    }

    /// Puts a line the room sent live in the pane; a join or a plain leave joins the run of
    /// them that the pane ends with, as one line, which reads in order: its joins, then
    /// its leaves (a join after a leave starts a line of its own). Returns whether the
    /// line went in.
    pub(super) fn push_live(&mut self, line: ChatLine) -> bool {
        if let LineKind::Presence { joined, left } = &line.kind
            && self.pane.detached.is_none()
            && let Some(newest) = self.pane.lines.back_mut()
            && let LineKind::Presence {
                joined: run_joined,
                left: run_left,
            } = &mut newest.kind
            && line.seq > newest.seq
            && (joined.is_empty() || run_left.is_empty())
        {
            run_joined.extend(joined.iter().cloned());
            run_left.extend(left.iter().cloned());
            newest.text = crate::ui::event_text::presence(run_joined, run_left);
            (newest.seq, newest.ts) = (line.seq, line.ts);
            return true;
        }
        self.pane.push_live(line)
    }
}

impl App {
    /// The room in view.
    pub fn room(&self) -> &Room {
        &self.rooms[self.current]
    }

    pub fn room_mut(&mut self) -> &mut Room {
        &mut self.rooms[self.current]
    }

    /// The pane in view.
    pub fn pane(&self) -> &Pane {
        &self.room().pane
    }

    pub fn pane_mut(&mut self) -> &mut Pane {
        &mut self.room_mut().pane
    }

    /// Which of our rooms is `name`.
    pub fn room_index(&self, name: &str) -> Option<usize> {
        self.rooms.iter().position(|room| room.name == name)
    }

    /// The room `name`, added at the end if we were not in it. The room the client starts
    /// in, before it knows its name, takes the first name it is told.
    pub(super) fn room_or_add(&mut self, name: &str) -> usize {
        if let Some(at) = self.room_index(name) {
            return at;
        }
        if let Some(at) = self.rooms.iter().position(|room| room.name.is_empty()) {
            self.rooms[at].name = name.to_owned();
            return at;
        }
        self.rooms.push(Room::new(name.to_owned(), self.scrollback));
        self.rooms.len() - 1
    }

    /// Out of room `at`: it goes, and if it was in view, its neighbour comes into view.
    pub(super) fn remove_room(&mut self, at: usize) {
        if self.rooms.len() == 1 {
            return;
        }
        let was_current = at == self.current;
        if was_current {
            self.selecting = None;
        }
        self.rooms.remove(at);
        if self.current > at || self.current == self.rooms.len() {
            self.current -= 1;
        }
        if was_current {
            let draft = std::mem::take(&mut self.room_mut().draft);
            self.input.set(draft.text());
            self.room_mut().looked_at();
        }
    }

    /// Brings room `at` into view, keeping the input typed for the one left.
    pub fn switch_to(&mut self, at: usize) {
        if at >= self.rooms.len() || at == self.current {
            return;
        }
        self.completion = None;
        self.recalling = None;
        self.selecting = None;
        let draft = std::mem::take(&mut self.input);
        let left = self.room_mut();
        left.draft = draft;
        left.looked_away();
        self.current = at;
        let shown = self.room_mut();
        shown.looked_at();
        self.input = std::mem::take(&mut shown.draft);
    }

    /// Ctrl-N (`by` 1) and Ctrl-P (`by` -1): the next or previous room, round the list.
    pub(super) fn switch_by(&mut self, by: isize) {
        let count = self.rooms.len() as isize;
        let at = (self.current as isize + by).rem_euclid(count) as usize;
        self.switch_to(at);
    }

    /// Alt-A: the next room with something unseen after the one in view, rooms where we
    /// were named first.
    pub(super) fn switch_to_active(&mut self) {
        let count = self.rooms.len();
        let after = |wanted: &dyn Fn(&Room) -> bool| {
            (1..count)
                .map(|step| (self.current + step) % count)
                .find(|&at| wanted(&self.rooms[at]))
        };
        if let Some(at) = after(&|room| room.mentioned).or_else(|| after(&Room::active)) {
            self.switch_to(at);
        }
    }

    /// How many rooms other than the one in view have something unseen.
    pub fn active_elsewhere(&self) -> usize {
        let others = self.rooms.iter().enumerate();
        others
            .filter(|(at, room)| *at != self.current && room.active())
            .count()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use super::*;
    use crate::rpc::types::{JoinResult, RoomJoined};
    use crate::ui::app::{Action, NetEvent};

    pub(crate) fn member(name: &str) -> MemberInfo {
        MemberInfo {
            // Fixed ids keep snapshots stable; distinct names get distinct ids.
            id: Uuid::from_u128(
                name.bytes()
                    .fold(7, |h, b| h.wrapping_mul(257).wrapping_add(u128::from(b))),
            ),
            name: name.into(),
            guest: false,
            ..Default::default()
        }
    }

    pub(crate) fn event(
        room: &str,
        seq: u64,
        kind: EventKind,
        from: &str,
        text: Option<&str>,
    ) -> Event {
        Event {
            room: room.into(),
            seq,
            ts: seq * 1000,
            kind,
            from: member(from),
            text: text.map(str::to_owned),
            ..Default::default()
        }
    }

    pub(crate) fn say(room: &str, seq: u64, from: &str, text: &str) -> NetEvent {
        NetEvent::Event(event(room, seq, EventKind::Message, from, Some(text)))
    }

    /// bob, in #general (with alice) and then in each of `others`.
    pub(crate) fn in_rooms(others: &[&str]) -> App {
        let mut app = App::new("127.0.0.1:7777");
        app.handle_net(NetEvent::Joined {
            result: Box::new(JoinResult {
                protocol: 2,
                room: "#general".into(),
                topic: Some("all things".into()),
                session: "s".into(),
                id: member("bob").id,
                name: "bob".into(),
                members: vec![member("alice"), member("bob")],
                last_seq: 0,
                history: Vec::new(),
                ..Default::default()
            }),
            resumed: false,
            reset: false,
        });
        for room in others {
            app.handle_net(entered(room, false));
        }
        app
    }

    pub(crate) fn entered(room: &str, resumed: bool) -> NetEvent {
        NetEvent::Entered {
            joined: RoomJoined {
                room: room.into(),
                topic: None,
                members: vec![member("bob"), member("carol")],
                last_seq: 0,
                history: Vec::new(),
                ..Default::default()
            },
            resumed,
            reset: false,
        }
    }

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    fn type_line(app: &mut App, text: &str) -> Action {
        for c in text.chars() {
            app.handle_key(key(KeyCode::Char(c), KeyModifiers::NONE));
        }
        app.handle_key(key(KeyCode::Enter, KeyModifiers::NONE))
    }

    fn names(app: &App) -> Vec<&str> {
        app.rooms.iter().map(|room| room.name.as_str()).collect()
    }

    /// The texts of the lines in the pane in view.
    pub(crate) fn texts(app: &App) -> Vec<&str> {
        app.pane()
            .lines
            .iter()
            .map(|line| line.text.as_str())
            .collect()
    }

    #[test]
    fn a_message_in_a_room_out_of_view_counts_as_unread_there_only() {
        let mut app = in_rooms(&["#ops"]);
        assert_eq!(names(&app), ["#general", "#ops"]);
        app.handle_net(say("#ops", 1, "carol", "deploy done"));
        app.handle_net(say("#ops", 2, "carol", "bob: look"));
        app.handle_net(say("#general", 1, "alice", "hi"));
        let ops = &app.rooms[1];
        assert_eq!((ops.unread, ops.mentioned), (2, true));
        assert_eq!(
            app.rooms[0].unread, 0,
            "the room in view has nothing unread"
        );
        assert_eq!(app.active_elsewhere(), 1);
        assert!(texts(&app).contains(&"hi"));
        assert!(
            !texts(&app).contains(&"deploy done"),
            "each room its own pane"
        );
        app.switch_to(1);
        assert!(texts(&app).contains(&"deploy done"));
        assert_eq!((app.room().unread, app.room().mentioned), (0, false));
        assert_eq!(app.active_elsewhere(), 0);
    }

    #[test]
    fn alt_digits_and_ctrl_n_p_switch_rooms_round_the_list() {
        let mut app = in_rooms(&["#ops", "#random"]);
        app.handle_key(key(KeyCode::Char('3'), KeyModifiers::ALT));
        assert_eq!(app.room().name, "#random");
        app.handle_key(key(KeyCode::Char('9'), KeyModifiers::ALT));
        assert_eq!(app.room().name, "#random", "no ninth room: nothing moves");
        app.handle_key(key(KeyCode::Char('n'), KeyModifiers::CONTROL));
        assert_eq!(app.room().name, "#general", "round to the first");
        app.handle_key(key(KeyCode::Char('p'), KeyModifiers::CONTROL));
        assert_eq!(app.room().name, "#random");
        app.handle_key(key(KeyCode::Char('2'), KeyModifiers::ALT));
        assert_eq!(app.room().name, "#ops");
        assert!(app.input.is_empty(), "Alt-2 types nothing");
    }

    #[test]
    fn alt_a_goes_to_a_mention_first_then_to_other_news() {
        let mut app = in_rooms(&["#ops", "#random", "#dev"]);
        app.handle_net(say("#ops", 1, "carol", "plain news"));
        app.handle_net(say("#dev", 1, "carol", "bob, a word?"));
        let alt_a = key(KeyCode::Char('a'), KeyModifiers::ALT);
        app.handle_key(alt_a);
        assert_eq!(app.room().name, "#dev", "the mention first");
        app.handle_key(alt_a);
        assert_eq!(app.room().name, "#ops");
        app.handle_key(alt_a);
        assert_eq!(app.room().name, "#ops", "nothing left to see");
    }

    #[test]
    fn each_room_keeps_its_draft_and_its_scroll() {
        let mut app = in_rooms(&["#ops"]);
        for c in "half a thought".chars() {
            app.handle_key(key(KeyCode::Char(c), KeyModifiers::NONE));
        }
        app.pane_mut().scroll = super::super::ScrollPos { lines: 1, rows: 0 };
        app.handle_key(key(KeyCode::Char('2'), KeyModifiers::ALT));
        assert!(app.input.is_empty());
        assert!(!app.scrolled());
        for c in "ops text".chars() {
            app.handle_key(key(KeyCode::Char(c), KeyModifiers::NONE));
        }
        app.handle_key(key(KeyCode::Char('1'), KeyModifiers::ALT));
        assert_eq!(app.input.text(), "half a thought");
        assert!(app.scrolled(), "still where it was left");
        app.handle_key(key(KeyCode::Char('2'), KeyModifiers::ALT));
        assert_eq!(app.input.text(), "ops text");
    }

    #[test]
    fn what_is_typed_goes_to_the_room_in_view() {
        let mut app = in_rooms(&["#ops"]);
        assert_eq!(
            type_line(&mut app, "hello"),
            Action::Send {
                room: "#general".into(),
                text: "hello".into()
            }
        );
        app.switch_to(1);
        assert_eq!(
            type_line(&mut app, "/me waves"),
            Action::SendAction {
                room: "#ops".into(),
                text: "waves".into()
            }
        );
        assert_eq!(
            type_line(&mut app, "/topic deploys at 5"),
            Action::Topic {
                room: "#ops".into(),
                topic: Some("deploys at 5".into())
            }
        );
        // Our own message, acknowledged, lands in its room whatever is in view.
        app.switch_to(0);
        app.handle_net(NetEvent::Sent {
            room: "#ops".into(),
            seq: 4,
            text: "from before".into(),
            latency_ms: 1,
            action: false,
            ts: 0,
        });
        assert!(
            app.rooms[1]
                .pane
                .lines
                .iter()
                .any(|l| l.text == "from before")
        );
        assert_eq!(app.rooms[1].unread, 0, "our own line is not news");
    }

    #[test]
    fn join_enters_and_then_shows_the_room_and_part_leaves_the_one_in_view() {
        let mut app = in_rooms(&[]);
        assert_eq!(
            type_line(&mut app, "/join #Ops"),
            Action::Enter("#ops".into())
        );
        assert_eq!(app.room().name, "#general", "not before the server says so");
        app.handle_net(entered("#ops", false));
        assert_eq!(app.room().name, "#ops");
        assert!(
            texts(&app)
                .last()
                .unwrap()
                .starts_with("you joined #ops; 2 here")
        );
        // Joining a room we are in only shows it.
        assert_eq!(type_line(&mut app, "/join #general"), Action::None);
        assert_eq!(app.room().name, "#general");
        app.switch_to(1);
        assert_eq!(
            type_line(&mut app, "/part lunch"),
            Action::Part {
                room: "#ops".into(),
                reason: Some("lunch".into())
            }
        );
        app.handle_net(NetEvent::Parted("#ops".into()));
        assert_eq!(names(&app), ["#general"]);
        assert_eq!(app.room().name, "#general");
        // The last room stays: leaving the server is /quit.
        assert_eq!(type_line(&mut app, "/part"), Action::None);
        assert_eq!(app.pane().lines.back().unwrap().kind, LineKind::Error);
        assert_eq!(
            type_line(&mut app, "/quit gone fishing"),
            Action::Quit(Some("gone fishing".into()))
        );
    }

    #[test]
    fn rooms_entered_again_after_a_reconnect_do_not_steal_the_view() {
        let mut app = in_rooms(&["#ops"]);
        app.handle_net(NetEvent::Entered {
            joined: RoomJoined {
                room: "#ops".into(),
                topic: Some("new topic".into()),
                members: vec![member("bob")],
                last_seq: 3,
                history: Vec::new(),
                ..Default::default()
            },
            resumed: true,
            reset: false,
        });
        assert_eq!(app.room().name, "#general");
        assert_eq!(names(&app), ["#general", "#ops"]);
        assert_eq!(app.rooms[1].topic.as_deref(), Some("new topic"));
        assert_eq!(app.rooms[1].members.len(), 1);
    }

    #[test]
    fn a_topic_event_changes_the_header_and_reads_as_a_change() {
        let mut app = in_rooms(&[]);
        assert_eq!(app.room().topic.as_deref(), Some("all things"));
        app.handle_net(NetEvent::Event(event(
            "#general",
            1,
            EventKind::Topic,
            "alice",
            Some("release day"),
        )));
        assert_eq!(app.room().topic.as_deref(), Some("release day"));
        assert_eq!(
            texts(&app).last().unwrap(),
            &"alice changed the topic to: release day"
        );
    }

    #[test]
    fn what_a_room_says_before_the_answer_to_joining_it_is_not_lost() {
        let mut app = in_rooms(&[]);
        assert_eq!(
            type_line(&mut app, "/join #New"),
            Action::Enter("#new".into()),
            "named as the server names it"
        );
        // On its way to the disk when we entered: delivered before the answer.
        app.handle_net(say("#new", 5, "carol", "just in time"));
        app.handle_net(say("#other", 9, "carol", "not ours"));
        let mut joined = entered("#new", false);
        if let NetEvent::Entered { joined, .. } = &mut joined {
            joined.last_seq = 4;
        }
        app.handle_net(joined);
        assert_eq!(app.room().name, "#new");
        let shown = texts(&app);
        assert!(shown.contains(&"just in time"), "{shown:?}");
        assert!(!shown.contains(&"not ours"));
    }

    #[test]
    fn joining_by_a_name_the_server_would_refuse_asks_it_nothing() {
        let mut app = in_rooms(&[]);
        assert_eq!(type_line(&mut app, "/join #no spaces"), Action::None);
        assert!(texts(&app).last().unwrap().starts_with("cannot join #no"));
    }

    #[test]
    fn a_hidden_room_paged_far_back_still_counts_what_is_new() {
        let mut app = in_rooms(&["#ops"]);
        let ops = app.rooms.iter().position(|r| r.name == "#ops").unwrap();
        // Paged so far back in #ops that its pane no longer reaches the live end.
        app.rooms[ops].pane.detached = Some(0);
        app.handle_net(say("#ops", 1, "carol", "hello"));
        app.handle_net(say("#ops", 2, "carol", "bob: look"));
        assert_eq!(app.rooms[ops].unread, 2);
        assert!(app.rooms[ops].mentioned);
        // The same event again (a replay) is not news.
        app.handle_net(say("#ops", 2, "carol", "bob: look"));
        assert_eq!(app.rooms[ops].unread, 2);
    }

    #[test]
    fn tab_completes_room_names_ours_first_then_listed_ones() {
        let mut app = in_rooms(&["#ops", "#opera"]);
        app.handle_net(NetEvent::Rooms(vec![crate::rpc::types::RoomInfo {
            room: "#optics".into(),
            topic: None,
            members: 1,
            last_seq: 1,
            created: 0,
            last_active: 0,
            ..Default::default()
        }]));
        for c in "/join #OP".chars() {
            app.handle_key(key(KeyCode::Char(c), KeyModifiers::NONE));
        }
        let tab = || key(KeyCode::Tab, KeyModifiers::NONE);
        app.handle_key(tab());
        assert_eq!(app.input.text(), "/join #ops ");
        app.handle_key(tab());
        assert_eq!(app.input.text(), "/join #opera ");
        app.handle_key(tab());
        assert_eq!(app.input.text(), "/join #optics ", "from the last /list");
    }

    #[test]
    fn list_and_topic_show_their_answers_in_the_room_in_view() {
        let mut app = in_rooms(&["#ops"]);
        assert_eq!(type_line(&mut app, "/list"), Action::ListRooms);
        app.handle_net(NetEvent::Rooms(vec![crate::rpc::types::RoomInfo {
            room: "#general".into(),
            topic: Some("all things".into()),
            members: 2,
            last_seq: 9,
            created: 0,
            last_active: 0,
            ..Default::default()
        }]));
        assert_eq!(
            texts(&app).last().unwrap(),
            &"1 room on the server:\n#general (2 members, active 1970-01-01 00:00) all things"
        );
        assert_eq!(
            type_line(&mut app, "/topic"),
            Action::Topic {
                room: "#general".into(),
                topic: None
            }
        );
        app.handle_net(NetEvent::Topic {
            result: crate::rpc::types::TopicResult {
                room: "#general".into(),
                topic: Some("all things".into()),
            },
            changed: false,
        });
        assert_eq!(
            texts(&app).last().unwrap(),
            &"the topic of #general is: all things"
        );
        // Our own change is not echoed by the server: the answer changes the header.
        app.handle_net(NetEvent::Topic {
            result: crate::rpc::types::TopicResult {
                room: "#ops".into(),
                topic: Some("on call: bob".into()),
            },
            changed: true,
        });
        assert_eq!(app.rooms[1].topic.as_deref(), Some("on call: bob"));
    }

    #[test]
    fn consecutive_joins_and_leaves_collapse_into_one_line() {
        let mut app = in_rooms(&[]);
        app.smart_filter = false;
        for (seq, name) in ["alice2", "dave", "erin", "frank", "gina"]
            .iter()
            .enumerate()
        {
            let join = event("#general", seq as u64 + 1, EventKind::Join, name, None);
            app.handle_net(NetEvent::Event(join));
        }
        let leave = event("#general", 6, EventKind::Leave, "dave", None);
        app.handle_net(NetEvent::Event(leave));
        assert_eq!(
            texts(&app).last().unwrap(),
            &"alice2, dave and 3 others joined; dave left"
        );
        // Something said ends the run; a leave with a reason stands on its own.
        app.handle_net(say("#general", 7, "erin", "hi all"));
        let leave = event("#general", 8, EventKind::Leave, "erin", Some("lunch"));
        app.handle_net(NetEvent::Event(leave));
        let join = event("#general", 9, EventKind::Join, "hal", None);
        app.handle_net(NetEvent::Event(join));
        let tail: Vec<&str> = texts(&app).into_iter().rev().take(4).collect();
        assert_eq!(
            tail,
            [
                "hal joined",
                "erin left (lunch)",
                "hi all",
                "alice2, dave and 3 others joined; dave left"
            ]
        );
    }

    #[test]
    fn the_smart_filter_hides_the_comings_and_goings_of_the_quiet() {
        let mut app = in_rooms(&[]);
        assert!(app.smart_filter, "on by default");
        let at = |minutes: u64| minutes * 60 * 1000;
        let happen = |app: &mut App, seq, minute, kind, who: &str| {
            let mut event = event("#general", seq, kind, who, Some("x"));
            if kind == EventKind::Join || kind == EventKind::Leave {
                event.text = None;
            }
            event.ts = at(minute);
            app.handle_net(NetEvent::Event(event));
        };
        happen(&mut app, 1, 0, EventKind::Join, "lurker");
        happen(&mut app, 2, 1, EventKind::Join, "talker");
        happen(&mut app, 3, 2, EventKind::Message, "talker");
        happen(&mut app, 4, 5, EventKind::Leave, "talker");
        happen(&mut app, 5, 6, EventKind::Leave, "lurker");
        let shown = texts(&app);
        assert!(shown.contains(&"talker left"), "{shown:?}");
        assert!(!shown.iter().any(|t| t.contains("lurker")), "{shown:?}");
        assert!(
            !shown.contains(&"talker joined"),
            "not spoken before joining"
        );
        // Quiet for longer than ten minutes counts as quiet again.
        happen(&mut app, 6, 7, EventKind::Join, "talker");
        happen(&mut app, 7, 8, EventKind::Message, "talker");
        happen(&mut app, 8, 19, EventKind::Leave, "talker");
        assert_eq!(
            texts(&app).iter().filter(|t| **t == "talker left").count(),
            1,
            "{:?}",
            texts(&app)
        );
        // Off, everything shows.
        assert_eq!(type_line(&mut app, "/filter"), Action::None);
        assert!(!app.smart_filter);
        happen(&mut app, 9, 20, EventKind::Join, "lurker");
        assert_eq!(texts(&app).last().unwrap(), &"lurker joined");
    }

    #[test]
    fn a_separator_marks_where_the_room_was_last_looked_at() {
        let mut app = in_rooms(&["#ops"]);
        app.handle_net(say("#general", 1, "alice", "seen"));
        app.switch_to(1);
        app.handle_net(say("#general", 2, "alice", "not seen yet"));
        app.switch_to(0);
        let shown = texts(&app);
        let tail: Vec<&str> = shown.iter().rev().take(3).copied().collect();
        assert_eq!(tail, ["not seen yet", "new messages", "seen"]);
        // Looked at with nothing new, there is no separator.
        app.switch_to(1);
        app.switch_to(0);
        let kinds = app
            .pane()
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Separator);
        assert_eq!(kinds.count(), 0, "all of it seen");
        assert_eq!(app.pane().lines.back().unwrap().text, "not seen yet");
        app.switch_to(1);
        assert_ne!(
            app.pane().lines.back().unwrap().kind,
            LineKind::Separator,
            "nothing new in #ops: no separator at its end"
        );
    }
}
