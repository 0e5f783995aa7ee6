//! `chatroom admin`: looks after the database of a server that is not running — lists its
//! rooms, identities and bans, bans and unbans offline, deletes a room, exports a room's
//! history. The SQL is the store's (`store::admin`); this prints.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chatroom::domain::{
    Ban, CONVERSATION_PREFIX, Event, EventKind, Target, format_duration, parse_duration, unix_ms,
};
use chatroom::store::admin::AdminDb;
use chatroom::ui::event_text::{self, Reading};
use clap::{Args, Subcommand, ValueEnum};

/// Events read per page when exporting.
const EXPORT_PAGE: usize = 500;

#[derive(Args)]
pub struct AdminArgs {
    /// The database to work on; the server must be stopped [default: serve's, chatroom.db
    /// in the user's data directory].
    #[arg(long, env = "CHATROOM_DB")]
    db: Option<PathBuf>,
    /// The server's default room (`serve --default-room`): it is never deleted.
    #[arg(long, env = "CHATROOM_DEFAULT_ROOM", default_value = "#general",
          value_parser = typed_room)]
    default_room: String,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Every room: members remembered, events stored, last activity, modes and owner.
    Rooms,
    /// Every identity: its name, key fingerprint and when it was last seen.
    Identities,
    /// The bans in force: a room's with --room, else the server's.
    Bans {
        #[arg(long, value_parser = typed_room)]
        room: Option<String>,
    },
    /// Bans TARGET (a key fingerprint SHA256:…, a name an identity owns, or an IP address
    /// for guests) from a room with --room, else from the whole server.
    Ban {
        #[arg(long, value_parser = typed_room)]
        room: Option<String>,
        target: String,
        /// How long, such as 10m, 2h, 7d or 1h30m (1m to 366d) [default: for ever].
        #[arg(long, value_parser = ban_duration)]
        duration: Option<u64>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lifts a ban on TARGET (as for `ban`, or the name the ban lists).
    Unban {
        #[arg(long, value_parser = typed_room)]
        room: Option<String>,
        target: String,
    },
    /// Deletes a room and everything kept of it (not the default room).
    DeleteRoom {
        #[arg(value_parser = typed_room)]
        room: String,
    },
    /// Writes a room's history to stdout (deleted messages as deleted, without text).
    Export {
        #[arg(value_parser = typed_room)]
        room: String,
        #[arg(long, value_enum, default_value = "text")]
        format: ExportFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    /// One JSON event per line, as the protocol sends it.
    Jsonl,
    /// `[YYYY-MM-DD HH:MM:SS] <name> text` lines, times in UTC.
    Text,
}

pub fn admin(args: AdminArgs) -> anyhow::Result<()> {
    let path = match args.db {
        Some(path) => path,
        None => super::setup::default_db_file()?,
    };
    let db = AdminDb::open(&path, &args.default_room)?;
    let now = unix_ms();
    let mut out = std::io::stdout().lock();
    match args.command {
        AdminCommand::Rooms => {
            writeln!(
                out,
                "{:<24} {:>7} {:>8}  {:<19}  {:<5}  OWNER",
                "ROOM", "MEMBERS", "EVENTS", "LAST ACTIVE (UTC)", "MODES"
            )?;
            for room in db.rooms()? {
                writeln!(
                    out,
                    "{:<24} {:>7} {:>8}  {:<19}  {:<5}  {}",
                    room.name,
                    room.members,
                    room.events,
                    utc(room.last_active),
                    room.modes.to_letters(),
                    room.owner.as_deref().unwrap_or("-"),
                )?;
            }
        }
        AdminCommand::Identities => {
            writeln!(out, "{:<20} {:<52} LAST SEEN (UTC)", "NAME", "FINGERPRINT")?;
            for identity in db.identities()? {
                writeln!(
                    out,
                    "{:<20} {:<52} {}",
                    identity.name.as_deref().unwrap_or("(released)"),
                    identity.fingerprint,
                    utc(identity.last_seen),
                )?;
            }
        }
        AdminCommand::Bans { room } => {
            let bans = db.bans(room.as_deref(), now)?;
            if bans.is_empty() {
                writeln!(out, "no bans in force on {}", place(room.as_deref()))?;
            }
            for ban in bans {
                writeln!(out, "{}", ban_line(&ban, now))?;
            }
        }
        AdminCommand::Ban {
            room,
            target,
            duration,
            reason,
        } => {
            let ban = db.ban(room.as_deref(), &target, duration, reason, now)?;
            writeln!(
                out,
                "banned from {}: {}",
                place(room.as_deref()),
                ban_line(&ban, now)
            )?;
        }
        AdminCommand::Unban { room, target } => {
            let ban = db.unban(room.as_deref(), &target, now)?;
            writeln!(
                out,
                "unbanned from {}: {}",
                place(room.as_deref()),
                ban.name
            )?;
        }
        AdminCommand::DeleteRoom { room } => {
            let events = db.delete_room(&room)?;
            writeln!(out, "deleted {room} and its {events} events")?;
        }
        AdminCommand::Export { room, format } => export(&db, &room, format, &mut out)?,
    }
    out.flush().context("writing to stdout")?;
    Ok(())
}

/// Every stored event of `room`, oldest first, a page at a time.
fn export(
    db: &AdminDb,
    room: &str,
    format: ExportFormat,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if !db.rooms()?.iter().any(|r| r.name == room) {
        anyhow::bail!("no room {room} in the database");
    }
    let history = db.history();
    let mut since = 0;
    loop {
        let page = history.after(room, since, EXPORT_PAGE)?;
        let Some(last) = page.last() else { break };
        since = last.seq;
        for event in &page {
            match format {
                ExportFormat::Jsonl => writeln!(out, "{}", serde_json::to_string(event)?)?,
                ExportFormat::Text => writeln!(out, "{}", text_line(event))?,
            }
        }
    }
    Ok(())
}

/// An event as a line of the text export.
fn text_line(event: &Event) -> String {
    let time = utc(event.ts);
    let from = event_text::shown_member(&event.from);
    let target = || {
        event
            .target
            .as_ref()
            .map_or_else(|| "?".to_owned(), event_text::shown_member)
    };
    let body = match event.kind {
        EventKind::Deleted => format!("<{from}> (message deleted)"),
        EventKind::Delete => format!(
            "-!- {from} deleted a message by {} (#{})",
            target(),
            event.target_seq.unwrap_or_default()
        ),
        _ => match event_text::read(event) {
            Reading::Said { from, text } => format!("<{from}> {}", text.replace('\n', " ")),
            Reading::Acted { from, text } => format!("* {from} {}", text.replace('\n', " ")),
            Reading::Notice(text) => format!("-!- {}", text.replace('\n', " ")),
        },
    };
    format!("[{time}] {body}")
}

/// A ban as a line: who, what it is on, until when, why, and by whom.
fn ban_line(ban: &Ban, now: u64) -> String {
    let on = match (&ban.target, &ban.fingerprint) {
        (_, Some(fingerprint)) => fingerprint.clone(),
        (Target::Address(address), None) => address.to_string(),
        (Target::Identity(id), None) => id.to_string(),
    };
    let until = match ban.until {
        None => "for ever".to_owned(),
        Some(until) => format!(
            "until {} UTC ({} left)",
            utc(until),
            format_duration(until.saturating_sub(now) / 1000)
        ),
    };
    let reason = ban
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    format!("{} [{on}] {until}, by {}{reason}", ban.name, ban.by)
}

fn place(room: Option<&str>) -> &str {
    room.unwrap_or("the server")
}

/// `YYYY-MM-DD HH:MM:SS`, UTC.
fn utc(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms.min(i64::MAX as u64) as i64)
        .map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// A room as typed (the `#` may be left out), or a conversation's stored name.
fn typed_room(value: &str) -> Result<String, String> {
    if value.starts_with(CONVERSATION_PREFIX) {
        return Ok(value.to_owned());
    }
    chatroom::domain::parse_room_name(&chatroom::ui::command::room_name(value))
        .map_err(|err| err.to_string())
}

/// A ban's length in seconds, as people write one; the range is checked with the ban.
fn ban_duration(value: &str) -> Result<u64, String> {
    parse_duration(value)
        .ok_or_else(|| format!("{value:?} is not a duration (such as 10m, 2h, 7d or 1h30m)"))
}
