//! `/urls`, `/open N` and `/lastlog`: answered from the lines the pane in view holds,
//! without asking the server.

use super::{Action, App, ChatLine, LineKind};
use crate::ui::command::Local;
use crate::ui::days::line_time;
use crate::ui::links::{find_links, target};

/// Links `/urls` lists at most, the newest; the numbers stay those of the whole list.
const MAX_URLS_SHOWN: usize = 50;
/// Lines `/lastlog` prints at most, the last that match.
const MAX_LASTLOG_SHOWN: usize = 200;

/// A link seen in the pane, with who said it and when.
struct Seen<'a> {
    link: &'a str,
    who: Option<&'a str>,
    ts: u64,
}

impl App {
    pub(super) fn local_command(&mut self, local: Local) -> Action {
        match local {
            Local::Urls => self.list_urls(),
            Local::Open(n) => return self.open_url(n),
            Local::Lastlog { text, last } => self.lastlog(&text, last),
            Local::Usage(usage) => self.push_local(LineKind::Error, usage.to_owned()),
        }
        Action::None
    }

    /// `/open` could not start the opener.
    pub fn could_not_open(&mut self, url: &str, err: &std::io::Error) {
        let program = crate::ui::links::opener();
        let text = format!(
            "cannot open {url} with {}: {err} (set {} to the program to use)",
            program.to_string_lossy(),
            crate::ui::links::OPENER_VAR
        );
        self.push_local(LineKind::Error, text);
    }

    /// The links in the pane in view, oldest first: in what the room said, never in the
    /// client's own notes (which `/urls` itself writes).
    fn links(&self) -> Vec<Seen<'_>> {
        let mut seen = Vec::new();
        for line in &self.pane().lines {
            let Some(ts) = line.ts else { continue };
            if matches!(line.kind, LineKind::Deleted { .. } | LineKind::Separator) {
                continue;
            }
            let who = sender(line);
            seen.extend(
                find_links(&line.text)
                    .into_iter()
                    .map(|link| Seen { link, who, ts }),
            );
        }
        seen
    }

    fn list_urls(&mut self) {
        let lines: Vec<String> = {
            let links = self.links();
            if links.is_empty() {
                vec!["no links in this pane".to_owned()]
            } else {
                let skipped = links.len().saturating_sub(MAX_URLS_SHOWN);
                let mut lines = vec![if skipped > 0 {
                    format!(
                        "links in this pane: the newest {MAX_URLS_SHOWN} of {} (/open N opens one)",
                        links.len()
                    )
                } else {
                    "links in this pane, newest last (/open N opens one):".to_owned()
                }];
                lines.extend(links.iter().enumerate().skip(skipped).map(|(at, seen)| {
                    let when = line_time(seen.ts, self.utc_offset_secs, self.today);
                    match seen.who {
                        Some(who) => format!("{:>3}  {}  ({who}, {when})", at + 1, seen.link),
                        None => format!("{:>3}  {}  ({when})", at + 1, seen.link),
                    }
                }));
                lines
            }
        };
        for text in lines {
            self.push_local(LineKind::Info, text);
        }
    }

    fn open_url(&mut self, n: usize) -> Action {
        let (url, count) = {
            let links = self.links();
            (links.get(n - 1).map(|seen| target(seen.link)), links.len())
        };
        match url {
            Some(url) => {
                self.push_local(LineKind::Info, format!("opening {url}"));
                Action::Open(url)
            }
            None => {
                let text = match count {
                    0 => "no links in this pane".to_owned(),
                    1 => format!("no link {n} here: there is one (/urls lists it)"),
                    _ => format!("no link {n} here: there are {count} (/urls lists them)"),
                };
                self.push_local(LineKind::Error, text);
                Action::None
            }
        }
    }

    /// `/lastlog`: the pane's lines from the room holding `text` in their words or their
    /// sender's name, whatever the case; the last `last` of them.
    fn lastlog(&mut self, text: &str, last: Option<usize>) {
        let needle = text.to_lowercase();
        let found: Vec<String> = self
            .pane()
            .lines
            .iter()
            .filter(|line| {
                line.ts.is_some()
                    && !matches!(line.kind, LineKind::Deleted { .. } | LineKind::Separator)
                    && (line.text.to_lowercase().contains(&needle)
                        || sender(line).is_some_and(|who| who.to_lowercase().contains(&needle)))
            })
            .map(|line| self.lastlog_line(line))
            .collect();
        let shown = last.unwrap_or(usize::MAX).min(MAX_LASTLOG_SHOWN);
        let s = if found.len() == 1 { "" } else { "s" };
        let mut header = format!("lastlog: {} line{s} matching {text:?}", found.len());
        if found.len() > shown {
            header.push_str(&format!(", the last {shown} shown"));
        }
        let skip = found.len().saturating_sub(shown);
        self.push_local(LineKind::Info, header);
        for line in found.into_iter().skip(skip) {
            self.push_local(LineKind::Info, line);
        }
    }

    /// A line as `/lastlog` prints it: its time, its sender, its text.
    fn lastlog_line(&self, line: &ChatLine) -> String {
        let when = line
            .ts
            .map(|ts| line_time(ts, self.utc_offset_secs, self.today))
            .unwrap_or_default();
        match &line.kind {
            LineKind::Message { from, .. } => format!("{when} <{from}> {}", line.text),
            LineKind::Action { from, .. } => format!("{when} * {from} {}", line.text),
            _ => format!("{when} -!- {}", line.text),
        }
    }
}

/// Who said a line, for those someone said.
fn sender(line: &ChatLine) -> Option<&str> {
    match &line.kind {
        LineKind::Message { from, .. } | LineKind::Action { from, .. } => Some(from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use super::*;
    use crate::ui::app::room_tests::{in_rooms, say, texts};

    fn type_line(app: &mut App, text: &str) -> Action {
        for c in text.chars() {
            app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
    }

    /// The client's own lines since the last time this was asked.
    fn said_since(app: &App, before: usize) -> Vec<String> {
        texts(app)[before..]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    fn linked_app() -> App {
        let mut app = in_rooms(&["#ops"]);
        app.handle_net(say(
            "#general",
            1,
            "alice",
            "docs at https://a.example/docs.",
        ));
        app.handle_net(say("#general", 2, "carol", "no link here"));
        app.handle_net(say(
            "#general",
            3,
            "carol",
            "(see www.b.example/x) and http://c.example/?q=1&r=2",
        ));
        app.handle_net(say("#ops", 1, "dave", "elsewhere https://ops.example"));
        app
    }

    #[test]
    fn urls_lists_the_panes_links_numbered_newest_last() {
        let mut app = linked_app();
        let before = texts(&app).len();
        assert_eq!(type_line(&mut app, "/urls"), Action::None);
        assert_eq!(
            said_since(&app, before),
            [
                "links in this pane, newest last (/open N opens one):",
                "  1  https://a.example/docs  (alice, 00:00)",
                "  2  www.b.example/x  (carol, 00:00)",
                "  3  http://c.example/?q=1&r=2  (carol, 00:00)",
            ]
        );
        // Its own list is no source of links: asked again, the same three.
        let before = texts(&app).len();
        type_line(&mut app, "/urls");
        assert_eq!(said_since(&app, before).len(), 4);
    }

    #[test]
    fn open_n_opens_that_link_and_nothing_else() {
        let mut app = linked_app();
        assert_eq!(
            type_line(&mut app, "/open 3"),
            Action::Open("http://c.example/?q=1&r=2".into())
        );
        assert_eq!(
            type_line(&mut app, "/open 2"),
            Action::Open("https://www.b.example/x".into()),
            "a www. link over https"
        );
        let before = texts(&app).len();
        assert_eq!(type_line(&mut app, "/open 4"), Action::None);
        assert_eq!(
            said_since(&app, before),
            ["no link 4 here: there are 3 (/urls lists them)"]
        );
        let before = texts(&app).len();
        assert_eq!(type_line(&mut app, "/open x"), Action::None);
        assert_eq!(
            said_since(&app, before),
            ["usage: /open N (a number /urls gives)"]
        );
    }

    #[test]
    fn a_pane_without_links_says_so() {
        let mut app = in_rooms(&[]);
        app.handle_net(say("#general", 1, "alice", "just words"));
        let before = texts(&app).len();
        assert_eq!(type_line(&mut app, "/open 1"), Action::None);
        type_line(&mut app, "/urls");
        assert_eq!(
            said_since(&app, before),
            ["no links in this pane", "no links in this pane"]
        );
    }

    #[test]
    fn a_link_never_carries_control_characters_to_the_list_or_the_opener() {
        let mut app = in_rooms(&[]);
        let mut event = crate::ui::app::room_tests::event(
            "#general",
            1,
            crate::rpc::types::EventKind::Message,
            "mallory",
            None,
        );
        // As if the text had reached the pane uncleaned.
        event.text = Some("x".into());
        app.handle_net(crate::ui::NetEvent::Event(event));
        app.pane_mut().lines.back_mut().unwrap().text =
            "https://a.example/\x1b]52;c;eA==\x07\u{202e}x".into();
        let before = texts(&app).len();
        type_line(&mut app, "/urls");
        let listed = said_since(&app, before);
        assert_eq!(listed[1], "  1  https://a.example/  (mallory, 00:00)");
        assert_eq!(
            type_line(&mut app, "/open 1"),
            Action::Open("https://a.example/".into())
        );
    }

    #[test]
    fn lastlog_prints_the_matching_lines_without_asking_the_server() {
        let mut app = in_rooms(&[]);
        app.handle_net(say("#general", 1, "alice", "the Deploy started"));
        app.handle_net(say("#general", 2, "carol", "lunch?"));
        app.handle_net(say("#general", 3, "alice", "deploy done"));
        app.handle_net(say("#general", 4, "deployer", "beep"));
        let before = texts(&app).len();
        assert_eq!(type_line(&mut app, "/lastlog DEPLOY"), Action::None);
        assert_eq!(
            said_since(&app, before),
            [
                "lastlog: 3 lines matching \"DEPLOY\"",
                "00:00 <alice> the Deploy started",
                "00:00 <alice> deploy done",
                "00:00 <deployer> beep",
            ]
        );
        // Its own output is not searched again; `-n` keeps the last matches.
        let before = texts(&app).len();
        type_line(&mut app, "/lastlog -n 1 deploy");
        assert_eq!(
            said_since(&app, before),
            [
                "lastlog: 3 lines matching \"deploy\", the last 1 shown",
                "00:00 <deployer> beep",
            ]
        );
        let before = texts(&app).len();
        type_line(&mut app, "/lastlog nothing like it");
        assert_eq!(
            said_since(&app, before),
            ["lastlog: 0 lines matching \"nothing like it\""]
        );
        let before = texts(&app).len();
        type_line(&mut app, "/lastlog");
        assert_eq!(said_since(&app, before), ["usage: /lastlog [-n N] TEXT"]);
    }
}
