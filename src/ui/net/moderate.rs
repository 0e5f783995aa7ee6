//! Carrying out a moderation, away or ignore request ([`Moderation`]) within one session:
//! the call to the server, and what it answered ([`Outcome`]), for the client to show.

use jsonrpsee::core::ClientError;
use jsonrpsee::ws_client::WsClient;

use crate::rpc::ChatApiClient;
use crate::rpc::types::{BanInfo, MemberInfo, ModeResult, Moderated};
use crate::ui::command::Moderation;

/// What the server answered a moderation request that it carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// One event made (kick, role, invite, delete): where, and its seq.
    Done(Moderated),
    /// A ban or mute made or lifted, as the server keeps it.
    Ban(BanInfo),
    /// The bans in force (`/bans`, `/gbans`).
    Bans(Vec<BanInfo>),
    /// The room's modes now.
    Modes(ModeResult),
    /// Away, or back.
    Away,
    /// Who is ignored now.
    Ignored(Vec<MemberInfo>),
}

/// The room a request acts on: an invite names its own.
pub(super) fn room_of(room: &str, what: &Moderation) -> String {
    match what {
        Moderation::Invite {
            room: Some(room), ..
        } => room.clone(),
        _ => room.to_owned(),
    }
}

/// What failed, for the start of a failure's line: "cannot kick bob".
pub(super) fn failing(room: &str, what: &Moderation) -> String {
    match what {
        Moderation::Kick { name, .. } => format!("cannot kick {name}"),
        Moderation::Ban { target, .. } => format!("cannot ban {target}"),
        Moderation::Unban(target) => format!("cannot unban {target}"),
        Moderation::Bans => format!("cannot list the bans of {room}"),
        Moderation::Mute { name, .. } => format!("cannot mute {name}"),
        Moderation::Unmute(name) => format!("cannot unmute {name}"),
        Moderation::Role { name, role: None } => format!("cannot take operator from {name}"),
        Moderation::Role {
            name,
            role: Some(role),
        } => {
            format!("cannot make {name} {}", role_words(*role))
        }
        Moderation::Mode(None) => format!("cannot get the modes of {room}"),
        Moderation::Mode(Some(_)) => format!("cannot set the modes of {room}"),
        Moderation::Invite { name, .. } => format!("cannot invite {name} to {room}"),
        Moderation::Gban { target, .. } => format!("cannot ban {target} from the server"),
        Moderation::Ungban(target) => format!("cannot lift the server ban on {target}"),
        Moderation::Gbans => "cannot list the server's bans".into(),
        Moderation::Delete(seq) => format!("cannot delete message {seq}"),
        Moderation::Away(Some(_)) => "cannot mark you away".into(),
        Moderation::Away(None) => "cannot mark you back".into(),
        Moderation::Ignore { name, on: true } => format!("cannot ignore {name}"),
        Moderation::Ignore { name, on: false } => format!("cannot stop ignoring {name}"),
    }
}

/// "an operator", "the owner".
pub fn role_words(role: crate::rpc::types::Role) -> &'static str {
    use crate::rpc::types::Role;
    match role {
        Role::Op => "an operator",
        Role::Owner => "the owner",
        Role::ServerOp => "a server operator",
    }
}

/// Asks the server to carry out `what` in `room`.
pub(super) async fn carry_out(
    client: &WsClient,
    session: String,
    room: String,
    what: &Moderation,
) -> Result<Outcome, ClientError> {
    let room = Some(room);
    Ok(match what.clone() {
        Moderation::Kick { name, reason } => {
            Outcome::Done(client.kick(session, name, room, reason).await?)
        }
        Moderation::Ban {
            target,
            duration_secs,
            reason,
        } => Outcome::Ban(
            client
                .ban(session, target, room, duration_secs, reason)
                .await?,
        ),
        Moderation::Unban(target) => Outcome::Ban(client.unban(session, target, room).await?),
        Moderation::Bans => Outcome::Bans(client.bans(session, room).await?),
        Moderation::Mute {
            name,
            duration_secs,
        } => Outcome::Ban(client.mute(session, name, room, duration_secs).await?),
        Moderation::Unmute(name) => Outcome::Ban(client.unmute(session, name, room).await?),
        Moderation::Role { name, role } => {
            let role = role.map(|role| role.as_str().to_owned());
            Outcome::Done(client.role(session, name, room, role).await?)
        }
        Moderation::Mode(change) => Outcome::Modes(client.mode(session, room, change).await?),
        Moderation::Invite { name, .. } => Outcome::Done(client.invite(session, name, room).await?),
        Moderation::Gban {
            target,
            duration_secs,
            reason,
        } => Outcome::Ban(client.gban(session, target, duration_secs, reason).await?),
        Moderation::Ungban(target) => Outcome::Ban(client.ungban(session, target).await?),
        Moderation::Gbans => Outcome::Bans(client.gbans(session).await?),
        Moderation::Delete(seq) => Outcome::Done(client.delete(session, seq, room).await?),
        Moderation::Away(message) => {
            client.away(session, message).await?;
            Outcome::Away
        }
        Moderation::Ignore { name, on } => {
            Outcome::Ignored(client.ignore(session, name, Some(on)).await?)
        }
    })
}
