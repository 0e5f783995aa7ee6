//! The cost of drawing one frame of the client with 100,000 messages in its pane: at the live
//! end, scrolled a little way up, and scrolled to the very top. Drawing wraps only what is on
//! screen and what a scroll passes over, so the three should cost about the same.
//!
//! `cargo bench --bench render`; results in docs/BENCHMARKS.md.

use chatroom::rpc::types::{Event, EventKind, MemberInfo};
use chatroom::ui::app::{App, NetEvent, ScrollPos};
use chatroom::ui::render::draw;
use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::{Terminal, backend::TestBackend};
use uuid::Uuid;

const MESSAGES: u64 = 100_000;

fn full_app() -> App {
    let mut app = App::new("127.0.0.1:7777");
    app.set_scrollback(MESSAGES as usize);
    app.rooms[0].name = "#general".into();
    let names = ["alice", "bob", "carol", "dmitri", "émilie", "李雷"];
    for seq in 1..=MESSAGES {
        let name = names[seq as usize % names.len()];
        // A mix of short lines, lines that wrap, and wide characters.
        let text = match seq % 4 {
            0 => format!("message {seq}"),
            1 => format!(
                "message {seq}: a longer line that wraps on an ordinary terminal, with a few \
                 more words to make sure it takes two rows or three"
            ),
            2 => format!("メッセージ {seq} — 日本語のテキストと emoji 🎉👍🏽"),
            _ => format!("@bob message {seq}"),
        };
        app.handle_net(NetEvent::Event(Event {
            room: "#general".into(),
            seq,
            ts: 1_795_957_559_000 + seq * 1000,
            kind: EventKind::Message,
            from: MemberInfo {
                id: Uuid::from_u128(u128::from(seq) % 6),
                name: name.into(),
                guest: false,
                ..Default::default()
            },
            text: Some(text),
            ..Default::default()
        }));
    }
    assert_eq!(app.pane().lines.len(), MESSAGES as usize);
    app
}

fn frames(c: &mut Criterion) {
    let mut app = full_app();
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let mut group = c.benchmark_group("frame, 160x48, 100k messages");
    let views = [
        ("live", ScrollPos::LIVE),
        (
            "scrolled up 1,000 lines",
            ScrollPos {
                lines: 1_000,
                rows: 0,
            },
        ),
        (
            "at the top",
            ScrollPos {
                lines: MESSAGES as usize - 1,
                rows: 0,
            },
        ),
    ];
    for (name, at) in views {
        app.pane_mut().scroll = at;
        group.bench_function(name, |b| {
            b.iter(|| {
                terminal.draw(|frame| draw(&app, frame)).unwrap();
            });
        });
    }
    // A PageUp: the pending scroll is applied while drawing.
    app.pane_mut().scroll = ScrollPos {
        lines: 50_000,
        rows: 0,
    };
    app.pane_mut().scroll_by = 46;
    group.bench_function("PageUp from the middle", |b| {
        b.iter(|| {
            terminal.draw(|frame| draw(&app, frame)).unwrap();
        });
    });
    group.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
