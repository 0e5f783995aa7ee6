//! `chatroom`: a real-time terminal chat. Many rooms on one server, JSON-RPC 2.0 over
//! WebSocket (and plain HTTP POST) on one TCP port, and a full-screen TUI client.
//!
//! # Layout
//!
//! Dependencies run one way, top to bottom: `cli` (in the binary) → `ui`, `bench` → `rpc` →
//! `store` → `domain`, `text`, `identity`. Nothing below knows what is above it.
//!
//! - [`domain`]: the chat itself, plain Rust over one `std::sync::Mutex`, with no sockets
//!   and no JSON: members (a guest with its session, or an identity with every session it
//!   has open), names (unique on the server, owned by keys), the directory of rooms, each
//!   room's membership, seq and fan-out, rate limits, and the [`domain::EventLog`] seam
//!   where events, and the records about identities, are stored and read back. Beside it in
//!   `domain/`: `event` (members and events), `room_name`, `room` (one room), `session`
//!   (join, rename, leave), `rooms` (enter, part, say, topics), `identities` (keys, owned
//!   names and their expiry, remembered rooms, read markers, whois), `conversations`
//!   (direct messages: two-identity rooms), `policy` (a room's owner, operators, modes,
//!   invites, bans and mutes, and the server's bans: plain data, stored whole), `access`
//!   (ranks, who may act on whom, the checks on entering and speaking, secret rooms, finding
//!   whom a command names), `moderation` (kick, ban, mute), `roles` (roles, modes,
//!   invites, delete), `server_bans`, `away` (away and back, ignore lists), `presence`
//!   (large rooms: their joins and leaves summed up on the server's tick instead of each
//!   told to everyone, and member lists sent on request in the stream), `config`,
//!   `error`, `rate`, `names`, `reader` (a session's queue), `delivery` (where a session's
//!   events go: its queue, or a subscription's outlet), `pending` (events waiting for
//!   the log and how they are taken back), `log` (the seam, and [`domain::MemoryLog`]),
//!   `followed` (delivering stored events: the rooms' own, numbered again by a log several
//!   servers share, and those other servers stored, with the members seated elsewhere),
//!   `shared` (records other servers stored: names, markers, moderation), `notify` (each
//!   identity's `/notify` level per room, kept and told to its sessions like a marker)
//!   and `shutdown`.
//!   `shared` (records other servers stored: names, markers, moderation), `search` (a
//!   search's query and the rooms a session may search) and `shutdown`.
//! - [`text`]: cleaning of untrusted names and text, used by the server before storing and
//!   by the client before drawing.
//! - [`identity`]: a member's Ed25519 key, used by `rpc` and `ui`: the join proof (the
//!   bytes signed, [`identity::verify_join`] with strict verification), the key's
//!   fingerprint and member id, and the key file (PKCS#8 PEM, mode 0600, refused when
//!   loose, never replaced).
//! - [`store`]: the embedded [`domain::EventLog`], SQLite: one writer thread
//!   (`store/writer.rs`) commits events, and the records about identities, in batches and
//!   in one order, and tells the chat how far the disk has got; reads page through a room's
//!   history; `store/schema.rs` holds the tables and migrates older databases;
//!   `store/identities.rs` keeps identities, the rooms each is in, read markers and
//!   conversations; `store/notify.rs` their notification levels; `store/presence.rs`
//!   keeps who is in each room on disk, so the leaves of a crash can be recorded; `store/policies.rs` keeps rooms' and the server's moderation
//!   and ignore lists; `store/admin.rs` is `chatroom admin`'s SQL on a stopped server's
//!   database. [`store::nats`] is the log several servers share (`serve --cluster`): one
//!   JetStream stream per room (its sequence is the room's seq), published to in order
//!   (`nats/publish.rs`) and followed by every node (`nats/follow.rs`), the records in a
//!   key-value bucket every node watches, with the name claims (`nats/records.rs`), who is
//!   where and the leaves of a node gone silent (`nats/presence.rs`), and deleted messages'
//!   tombstones (`nats/deleted.rs`); see `docs/CLUSTER.md`.
//! - [`rpc`]: the protocol and the server. The API is declared once as a jsonrpsee `#[rpc]`
//!   trait ([`rpc::ChatApiServer`] / [`rpc::ChatApiClient`]) with its error codes
//!   ([`rpc::codes`]) and wire types ([`rpc::types`]). The server: [`rpc::server`]
//!   (settings, accept loop and shutdown), `rpc/connection.rs` (one connection, WebSocket +
//!   HTTP on one port, sessions tied to their connection), `rpc/limits.rs` (per-address
//!   limits), `rpc/service.rs` (the API's server side, which checks a join's key proof
//!   against its connection's challenge with [`identity`], in `rpc/joining.rs`), `rpc/moderation.rs` (its
//!   moderation calls; a message to delete is read from the log before the chat checks
//!   it), `rpc/stream.rs` (the event stream
//!   and polling, with catch-up per room), `rpc/reads.rs` (history reads on a thread of
//!   their own, searches too: `rpc/search.rs`), [`rpc::health`] (`GET /healthz`), [`rpc::auth`] (the password) and
//!   [`rpc::tls`]. The client side's
//!   connection helpers are [`rpc::client`].
//! - [`bench`]: `chatroom bench`, a fan-out load generator that checks every delivery
//!   (its members spread over several nodes with `--servers`).
//! - [`ui`]: the TUI — state in [`ui::App`] ([`ui::app`]): the rooms the user is in
//!   (`rooms.rs`: each [`ui::app::Room`], or conversation with its peer, with its own pane,
//!   members, draft, read marker, unread count and mention flag; switching; joins and
//!   leaves collapsed and smart-filtered; `marks.rs`: when the marker moves), changed
//!   by one child module per kind of input: keys (`keys.rs`, returning what should happen
//!   next), Tab completion (`completion.rs`), slash commands (`commands.rs`), network
//!   events (`reduce.rs`: the member lists, who spoke) and each room's [`ui::app::Pane`]
//!   (`pane.rs`: its lines, the window onto its history and, in `pane/view.rs`, the rows
//!   on screen); `notify.rs` (focus, `/notify` levels, which lines raise a desktop
//!   notification, the window title's unread count; the bytes are [`ui::notify`]'s,
//!   written by the event loop). Drawing is a pure function of state ([`ui::render`], the
//!   room list and header in `render/rooms.rs`, with how each line reads and wraps in
//!   [`ui::present`]), and one event loop is fed by the terminal and the network alike.
//!   A pane is a window of at most `--scrollback` lines onto its room's history, its view anchored to a line, so a frame costs what the screen shows
//!   whatever the length of the scrollback. One network worker ([`ui::net`]) holds one
//!   session in every room, joined with the user's key (its proof signed per connection),
//!   with the last seq seen in each, and resumes them all with one subscription (given
//!   several addresses, `connect A,B,C`, at the next in turn: `net/servers.rs`; getting in is
//!   `net/open.rs`); it
//!   enters the rooms the server says the identity is in (a conversation someone opened,
//!   another session's `/join`). Moderation in the client: its commands parsed in
//!   `command/moderation.rs`, worded in `event_text/moderation.rs`, carried out by
//!   `net/moderate.rs`, and shown by `app/moderation.rs` (roles and away in member lists,
//!   deleted lines, the ignored hidden, being put out of a room) and `app/select.rs`
//!   (picking the message to delete). `/search`: its results view and jumping to a hit
//!   in `app/search.rs`, drawn by `render/search.rs`. Plain mode ([`ui::plain`], for scripts) runs the
//!   same worker, reconnects included, the same slash commands ([`ui::command`]) and the same reading of events as
//!   lines ([`ui::event_text`]).
//!   Living in it: [`ui::theme`] (a dark or light palette and its nick colours) and
//!   `ui/colours.rs` (everything else's colours, the mention a background no nick has);
//!   [`ui::days`] (the day-change line, dates on older lines, "today" from the event
//!   loop's clock); [`ui::links`] with `command/local.rs` and `app/local.rs` (`/urls`,
//!   `/open`, `/lastlog`, answered from the pane); [`ui::keymap`] (the room-switching and
//!   scrolling keys, rebindable); [`ui::config`] (the config file, parsed and checked;
//!   merged with the flags by `cli/config.rs`); [`ui::chatlog`] (`--chat-log`: each
//!   room's lines appended to a file a day, by a thread of its own, once each across
//!   reconnects and restarts); and [`ui::notify`] (the desktop notification's and the
//!   window title's bytes).
//!
//! The binary (`src/main.rs`) only parses its flags; `src/cli/` turns them into settings
//! (`cli/config.rs`: the config file under the flags, and `chatroom config`) and runs each
//! subcommand on this library (`cli/admin.rs`: `chatroom admin`, on a stopped server's
//! database).
//!
//! # How a message travels
//!
//! A client calls `chat_send` naming a room (or none: the default room); the server cleans
//! the text and asks the [`domain::Chat`] to publish it. Under the chat's lock the event
//! gets its room's next `seq` and the log's next position, and is handed to the log. Once
//! the log has stored it, the chat pushes it, without waiting, into the queue of every other
//! member seated in that room (a member whose queue is full is removed as too slow rather
//! than waited for), and only then is `chat_send` answered. If the log cannot take it within
//! the storage timeout, it drops it with everything queued behind it, the chat takes those
//! back as if never accepted, and their senders are told storage is unavailable: nothing
//! refused is ever stored later. Each session has one queue for all its rooms, drained by its
//! `chat_subscribe` task (or its `chat_poll` calls) and written to its own socket, outside
//! the lock, so one slow reader never holds up anyone else. Once a subscription has caught
//! up, its session's events skip the queue: the chat hands them, without waiting, straight
//! to the subscription's sink, jsonrpsee's bounded buffer for that connection
//! ([`domain::Outlet`]), whose send task writes them out; a full buffer is a slow member
//! all the same. In a large room (`domain/presence.rs`) joins and leaves reach everyone
//! summed up, four times a second. A client that reconnects passes
//! the last `seq` it saw in each room and is replayed the rest from the log.

pub mod bench;
pub mod domain;
pub mod identity;
pub mod rpc;
pub mod store;
pub mod text;
pub mod ui;
