//! `chatroom`: a real-time terminal chat. One room, JSON-RPC 2.0 over WebSocket (and plain
//! HTTP POST) on one TCP port, and a full-screen TUI client.
//!
//! # Layout
//!
//! - [`room`]: the room itself — members, one bounded queue per member, fan-out, names.
//!   Plain Rust over a `std::sync::Mutex`; it knows nothing about the network. Beside it
//!   in `room/`: its settings (`config`), errors and leave reasons (`error`), rate limits
//!   (`rate`), names (`names`), readers of a member's events (`reader`), events waiting
//!   for the disk (`pending`) and shutdown (`shutdown`).
//! - [`text`]: cleaning of untrusted names and text, used by the server before storing and
//!   by the client before drawing.
//! - [`store`]: durable history in SQLite. One writer thread (`store/writer.rs`) commits
//!   events in batches and tells the room how far the disk has got; reads page through
//!   history for catch-up; `store/presence.rs` keeps who is in the room on disk, so the
//!   leaves of a crash can be recorded.
//! - [`rpc`]: the API, declared once as a jsonrpsee `#[rpc]` trait ([`rpc::ChatApiServer`] /
//!   [`rpc::ChatApiClient`]), its wire types ([`rpc::types`]), the server ([`rpc::server`]:
//!   settings, accept loop and shutdown; `rpc/connection.rs` serves one connection,
//!   WebSocket + HTTP on one port, with sessions tied to their connection; `rpc/limits.rs`
//!   holds the per-address limits; `rpc/service.rs` the API's server side,
//!   [`rpc::server::ChatService`]; `rpc/reads.rs` runs history reads on a thread of their
//!   own), the client connection helpers ([`rpc::client`]), the room password
//!   ([`rpc::auth`]) and TLS on both sides ([`rpc::tls`]).
//! - [`bench`]: `chatroom bench`, a fan-out load generator that checks every delivery.
//! - [`ui`]: the TUI — state in [`ui::App`] ([`ui::app`]): the rooms the user is in
//!   (`rooms.rs`: each [`ui::app::Room`] with its own pane, members, draft, unread count
//!   and mention flag; switching; joins and leaves collapsed and smart-filtered), changed
//!   by one child module per kind of input: keys (`keys.rs`, returning what should happen
//!   next), Tab completion (`completion.rs`), slash commands (`commands.rs`), network
//!   events (`reduce.rs`: the member lists, who spoke) and each room's [`ui::app::Pane`]
//!   (`pane.rs`: its lines, the window onto its history and, in `pane/view.rs`, the rows
//!   on screen). Drawing is a pure function of
//!   state ([`ui::render`], the room list and header in `render/rooms.rs`, with how each
//!   line reads and wraps in [`ui::present`]), and one event loop is fed by the terminal
//!   and the network alike. A pane is a window of at most `--scrollback` lines onto its
//!   room's history, its view anchored to a line, so a frame costs what the screen shows
//!   whatever the length of the scrollback. One network worker ([`ui::net`]) holds one
//!   session in every room, with the last seq seen in each, and resumes them all with one
//!   subscription. Plain mode ([`ui::plain`], for scripts) runs the same worker, reconnects
//!   included, the same slash commands ([`ui::command`]) and the same reading of events as
//!   lines ([`ui::event_text`]).
//!
//! The binary (`src/main.rs`) only parses its flags; `src/cli/` turns them into settings
//! and runs each subcommand on this library.
//!
//! # How a message travels
//!
//! A client calls `chat_send`; the server cleans the text and asks the [`room::Room`] to
//! publish it. Under the room lock the event gets the next `seq` and is handed to the
//! store's writer thread. Once the writer has committed it, the room pushes it, without
//! waiting, into every other member's bounded queue (a member whose queue is full is removed
//! as too slow rather than waited for), and only then is `chat_send` answered. If the disk
//! cannot take it within the storage timeout, the store drops it with everything queued
//! behind it, the room takes those back as if never accepted, and their senders are told
//! storage is unavailable: nothing refused is ever stored later. Each member's
//! queue is drained by its `chat_subscribe` task (or its `chat_poll` calls) and written to
//! its own socket, outside the lock, so one slow reader never holds up anyone else. A client
//! that reconnects passes the last `seq` it saw and is replayed the rest from the store.

pub mod bench;
pub mod domain;
pub mod rpc;
pub mod store;
pub mod text;
pub mod ui;
