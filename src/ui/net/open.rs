//! Getting in: connecting (at the address in turn), ending the session a lost connection
//! left behind, joining the first room with the key's proof, entering the others, and
//! subscribing once for all of them with each room's cursor.

use std::collections::BTreeMap;
use std::sync::Arc;

use jsonrpsee::core::ClientError;

use super::proof::prove;
use super::resume::{resume, resumed_from, room_refused};
use super::retry::gives_up;
use super::{Session, Worker};
use crate::rpc::client::{SUBSCRIPTION_BUFFER, connect_within, describe};
use crate::rpc::types::{JoinResult, RoomJoined};
use crate::rpc::{ChatApiClient, codes};

/// Why the worker could not get into the room.
pub(super) enum OpenError {
    /// Worth trying again later: the network, the server restarting, a rate limit.
    Transient(String),
    /// Trying again would get the same answer (a reserved name, an untrusted certificate).
    Permanent(String),
    /// Trying this address again would fail the same way (see [`gives_up`]): the worker
    /// goes on with the other addresses, if it has any.
    Unusable(String),
    /// The server needs a password, or a different one.
    Password { wrong: bool },
    /// Joined, then lost before every room was entered and the stream started: the session
    /// (and with it the name) is the server's until it is ended.
    Interrupted {
        reason: String,
        session: String,
        name: String,
    },
}

impl OpenError {
    pub(super) fn interrupted(err: &ClientError, joined: &JoinResult) -> Self {
        Self::Interrupted {
            reason: describe(err),
            session: joined.session.clone(),
            name: joined.name.clone(),
        }
    }
}

/// What getting in came to: the first room's join, every other room entered (each with
/// whether it resumed), and rooms that could not be entered again, with why.
pub(super) struct Opened {
    pub(super) result: JoinResult,
    pub(super) resumed: bool,
    pub(super) reset: bool,
    pub(super) entered: Vec<(RoomJoined, bool, bool)>,
    pub(super) dropped: Vec<(String, String)>,
    pub(super) session: Session,
}

impl Worker {
    /// Connects, ends the previous session if the server still has it, joins the first
    /// room (proving our identity, when we have a key), enters the others (ours, and those
    /// the server says our identity is in) and subscribes once for all of them. `tried`:
    /// whether it ever got in, and how many attempts failed since (see [`gives_up`]).
    pub(super) async fn open(
        &mut self,
        old_session: &mut Option<String>,
        (joined_before, failures): (bool, u32),
    ) -> Result<Opened, OpenError> {
        let url = self.servers.current().url.clone();
        let client = connect_within(&url, &self.tls, SUBSCRIPTION_BUFFER, self.connect_timeout)
            .await
            .map_err(|err| {
                if gives_up(&err, joined_before, failures) {
                    OpenError::Unusable(err.to_string())
                } else {
                    OpenError::Transient(err.to_string())
                }
            })?;
        // Taken only now: an attempt that could not connect leaves it for the next.
        let old = old_session.take();
        if self.identity.is_none()
            && let Some(old) = &old
        {
            // Frees our name if the server has not noticed the old connection is gone.
            let _ = client.leave(old.clone(), None).await;
        }
        let renamed = self.rooms().renamed.take();
        if let Some(name) = renamed {
            self.name = Some(name);
        }
        let proof = match &self.identity {
            Some(identity) => prove(&client, &url, &self.servers.urls(), identity).await?,
            None => None,
        };
        let wanted = self.rooms().joined.clone();
        let first = wanted.first().map(|(room, _)| room.clone());
        let joined = client
            .join(
                self.name.clone(),
                self.password.clone(),
                first.clone(),
                proof,
            )
            .await;
        if joined.is_err() && self.identity.is_some() {
            // Not in: the old session is still to be ended, next time.
            *old_session = old.clone();
        }
        let result = joined.map_err(|err| {
            let code = match &err {
                ClientError::Call(e) => e.code(),
                _ => 0,
            };
            match code {
                codes::PASSWORD_REQUIRED => OpenError::Password { wrong: false },
                codes::WRONG_PASSWORD => OpenError::Password { wrong: true },
                codes::NAME_RESERVED
                | codes::BAD_ROOM_NAME
                | codes::NAME_OWNED
                | codes::BAD_PROOF
                | codes::BANNED
                | codes::INVITE_ONLY => OpenError::Permanent(describe(&err)),
                _ => OpenError::Transient(describe(&err)),
            }
        })?;
        if self.identity.is_some()
            && let Some(old) = old
        {
            // Ended once the new session is in: one session of our identity stays
            // throughout, so the others see no leave and no join.
            let _ = client.leave(old, None).await;
        }
        let cursor_of = |room: &str| {
            wanted
                .iter()
                .find(|(name, _)| name == room)
                .and_then(|(_, cursor)| *cursor)
        };
        let mut cursors = BTreeMap::new();
        let first_cursor = cursor_of(&result.room);
        let (resumed, reset) = resume(first_cursor, result.last_seq);
        cursors.insert(
            result.room.clone(),
            resumed_from(first_cursor, result.last_seq),
        );
        // Ours first, in order, then those our identity is in that we did not know of (a
        // client just started, another session's rooms, conversations opened meanwhile).
        let mut others: Vec<String> = wanted
            .iter()
            .map(|(room, _)| room.clone())
            .filter(|room| *room != result.room)
            .collect();
        for mark in &result.rooms {
            if mark.room != result.room && !others.contains(&mark.room) {
                others.push(mark.room.clone());
            }
        }
        let mut entered = Vec::new();
        let mut dropped = Vec::new();
        for room in others {
            let cursor = cursor_of(&room);
            match client.enter(result.session.clone(), room.clone()).await {
                Ok(joined) => {
                    let (resumed, reset) = resume(cursor, joined.last_seq);
                    cursors.insert(joined.room.clone(), resumed_from(cursor, joined.last_seq));
                    entered.push((joined, resumed, reset));
                }
                // This room is refused (its name, the server's room limits): the rest go on.
                Err(ClientError::Call(err)) if room_refused(err.code()) => {
                    let why = describe(&ClientError::Call(err));
                    dropped.push((room.clone(), format!("cannot join {room}: {why}")));
                }
                Err(err) => return Err(OpenError::interrupted(&err, &result)),
            }
        }
        // The same rooms again, under the names the server settled on, and where each
        // stream resumes: the first time from the end of the history each room gave;
        // afterwards from the last event received, unless that room's history no longer
        // reaches that far. Kept only once the stream has started: until then, nothing
        // of these rooms has been received.
        let settled: Vec<(String, Option<u64>)> = std::iter::once(&result.room)
            .chain(entered.iter().map(|(joined, ..)| &joined.room))
            .map(|room| (room.clone(), cursors.get(room).copied()))
            .collect();
        let subscription = client
            .subscribe_events(result.session.clone(), None, Some(cursors))
            .await
            .map_err(|err| OpenError::interrupted(&err, &result))?;
        {
            let mut rooms = self.rooms();
            rooms.joined = settled;
            rooms.adopting.clear();
            rooms.entered_at = std::iter::once((result.room.clone(), result.last_seq))
                .chain(
                    entered
                        .iter()
                        .map(|(joined, ..)| (joined.room.clone(), joined.last_seq)),
                )
                .collect();
        }
        let session = Session {
            client: Arc::new(client),
            session: result.session.clone(),
            me: result.id,
            subscription,
        };
        Ok(Opened {
            result,
            resumed,
            reset,
            entered,
            dropped,
            session,
        })
    }
}
