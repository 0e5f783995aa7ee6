//! Carrying out what the UI asks within one session: each command's call to the server and
//! the report of how it went; a patient worker's sends wait out rate limits.

use jsonrpsee::core::ClientError;
use jsonrpsee::ws_client::WsClient;
use std::time::Duration;
use tokio::time::Instant;

use super::handle::{Command, Line};
use super::{Ended, HISTORY_PAGE, Page, Worker};
use crate::rpc::client::describe;
use crate::rpc::types::RoomJoined;
use crate::rpc::{ChatApiClient, codes};
use crate::ui::app::NetEvent;

impl Worker {
    /// Carries out one command in a session and reports its outcome. Returns how the
    /// session ended, if this ended it, or (as an error) why it was lost under a send.
    pub(super) async fn carry_out(
        &mut self,
        client: &WsClient,
        session: &str,
        command: Command,
    ) -> Result<Option<Ended>, String> {
        let (room, failing) = (command.room(), command.failing());
        let failed = |err: ClientError| NetEvent::Failed {
            room: room.clone(),
            error: format!("{failing}: {}", describe(&err)),
        };
        let session = session.to_owned();
        let outcome = match command {
            Command::Send(line) => {
                self.send(client, &session, line).await?;
                return Ok(None);
            }
            Command::Nick(name) => match client.nick(session, name).await {
                Ok(result) => {
                    // Kept for the next session, so a reconnect does not undo it.
                    self.name = Some(result.name.clone());
                    NetEvent::Renamed(result.name)
                }
                Err(err) => failed(err),
            },
            Command::Who(room) => match client.members(Some(session), Some(room.clone())).await {
                Ok(members) => NetEvent::Members { room, members },
                Err(err) => failed(err),
            },
            Command::History(room, page) => {
                let (before, since) = match page {
                    Page::Before(seq) => (Some(seq), None),
                    Page::After(seq) => (None, Some(seq)),
                    Page::Latest => (None, None),
                };
                let events = client
                    .history(
                        session,
                        before,
                        since,
                        Some(HISTORY_PAGE),
                        Some(room.clone()),
                    )
                    .await;
                match (events, page) {
                    (Ok(events), Page::Before(_)) => NetEvent::Older { room, events },
                    (Ok(events), Page::After(_)) => NetEvent::Newer { room, events },
                    (Ok(events), Page::Latest) => NetEvent::Latest { room, events },
                    (Err(err), _) => NetEvent::HistoryFailed {
                        room,
                        error: describe(&err),
                    },
                }
            }
            Command::Enter(room) => match client.enter(session, room).await {
                Ok(joined) => {
                    self.seated(&joined);
                    NetEvent::Entered {
                        joined,
                        resumed: false,
                        reset: false,
                    }
                }
                Err(err) => failed(err),
            },
            Command::SyncMembers(room) => {
                // The list comes in the stream; a refusal (we left the room meanwhile) is
                // nothing to tell the user.
                if let Err(err) = client.sync_members(session, Some(room.clone())).await {
                    tracing::warn!(%room, err = %describe(&err), "cannot ask for a member list");
                }
                return Ok(None);
            }
            Command::Adopt(room) => {
                if self.rooms().cursor(&room).is_some() {
                    self.rooms().adopting.remove(&room);
                    return Ok(None);
                }
                match client.enter(session, room.clone()).await {
                    Ok(joined) => {
                        self.seated(&joined);
                        NetEvent::Entered {
                            joined,
                            resumed: false,
                            reset: false,
                        }
                    }
                    Err(err) => {
                        tracing::warn!(%room, err = %describe(&err), "cannot enter a room we were put in");
                        self.rooms().adopting.remove(&room);
                        return Ok(None);
                    }
                }
            }
            Command::Msg(to, text) => {
                let started = Instant::now();
                match client
                    .msg(session.clone(), to.clone(), text.clone(), None)
                    .await
                {
                    Ok(sent) => {
                        if self.rooms().cursor(&sent.room).is_none() {
                            match client.enter(session, sent.room.clone()).await {
                                Ok(joined) => {
                                    self.seated(&joined);
                                    self.report(NetEvent::Entered {
                                        joined,
                                        resumed: false,
                                        reset: false,
                                    })
                                    .await;
                                }
                                Err(err) => {
                                    tracing::warn!(err = %describe(&err), "cannot enter the conversation")
                                }
                            }
                        }
                        let away = sent.away.map(|message| NetEvent::AwayReply {
                            room: sent.room.clone(),
                            name: to,
                            message,
                        });
                        let sent = NetEvent::Sent {
                            room: sent.room,
                            seq: sent.seq,
                            text,
                            latency_ms: started.elapsed().as_millis() as u64,
                            action: false,
                            ts: crate::rpc::types::unix_ms(),
                        };
                        // The recipient is away: told after the message is shown.
                        match away {
                            Some(away) => {
                                self.report(sent).await;
                                away
                            }
                            None => sent,
                        }
                    }
                    Err(err) => failed(err),
                }
            }
            Command::Query(name) => match client.query(session, name).await {
                Ok(joined) => {
                    self.seated(&joined);
                    NetEvent::Opened(Box::new(joined))
                }
                Err(err) => failed(err),
            },
            Command::Whois(name) => match client.whois(session, name).await {
                Ok(whois) => NetEvent::Whois(Box::new(whois)),
                Err(err) => failed(err),
            },
            Command::Mark(room, seq) => {
                if let Err(err) = client.mark(session, room.clone(), seq).await {
                    // Not worth a line on screen: the next look at the room marks it again.
                    tracing::warn!(%room, seq, err = %describe(&err), "cannot move the read marker");
                }
                return Ok(None);
            }
            Command::Part(room, reason) => {
                match client.part(session, Some(room.clone()), reason).await {
                    Ok(()) => {
                        self.rooms().joined.retain(|(name, _)| *name != room);
                        NetEvent::Parted(room)
                    }
                    Err(err) => failed(err),
                }
            }
            Command::Topic(room, topic) => {
                let changed = topic.is_some();
                match client.topic(session, Some(room), topic).await {
                    Ok(result) => NetEvent::Topic { result, changed },
                    Err(err) => failed(err),
                }
            }
            Command::Rooms => match client.rooms(Some(session)).await {
                Ok(rooms) => NetEvent::Rooms(rooms),
                Err(err) => failed(err),
            },
            Command::Search { room, all, query } => {
                let asked = (!all).then(|| room.clone());
                match client
                    .search(session, query.clone(), asked, Some(all), None, None)
                    .await
                {
                    Ok(result) => NetEvent::SearchResults {
                        room,
                        all,
                        query,
                        result: Box::new(result),
                    },
                    Err(err) => failed(err),
                }
            }
            Command::Around(room, seq) => {
                let (since, limit) = super::around_page(seq);
                match client
                    .history(session, None, Some(since), Some(limit), Some(room.clone()))
                    .await
                {
                    Ok(events) => NetEvent::Around { room, seq, events },
                    Err(err) => failed(err),
                }
            }
            Command::Moderate(room, what) => {
                let room = super::moderate::room_of(&room, &what);
                match super::moderate::carry_out(client, session, room.clone(), &what).await {
                    Ok(outcome) => NetEvent::Moderated {
                        room,
                        what,
                        outcome: Box::new(outcome),
                    },
                    Err(err) => failed(err),
                }
            }
            Command::Notify(room, level) => {
                match client
                    .notify(session, room, Some(level.as_str().to_owned()))
                    .await
                {
                    Ok(result) => NetEvent::Notified {
                        room: result.room,
                        level: result.level,
                    },
                    Err(err) => failed(err),
                }
            }
            // Only asked for while joining; by now it is settled.
            Command::Password(_) => return Ok(None),
            Command::Leave(reason, done) => {
                if let Err(err) = client.leave(session, reason).await {
                    tracing::warn!(%err, "leave failed");
                }
                let _ = done.send(());
                return Ok(Some(Ended::Quit));
            }
        };
        self.report(outcome).await;
        Ok(None)
    }

    /// Now in the room `joined` answered for: its stream is followed from the end of the
    /// history the answer gave, or from what already came of it.
    fn seated(&self, joined: &RoomJoined) {
        self.sync_if_partial(&joined.room, joined.members.len(), joined.member_count);
        let mut rooms = self.rooms();
        rooms.adopting.remove(&joined.room);
        rooms
            .entered_at
            .insert(joined.room.clone(), joined.last_seq);
        let early = rooms.early.remove(&joined.room).unwrap_or(0);
        let seen = joined.last_seq.max(early);
        match rooms.cursor(&joined.room) {
            Some(cursor) => *cursor = Some(cursor.unwrap_or(0).max(seen)),
            None => rooms.joined.push((joined.room.clone(), Some(seen))),
        }
    }

    /// Sends one line and reports how it went. Patient, it waits out a rate limit, and a
    /// line the connection failed under is kept for the next session: the error is then
    /// returned, as the session is over.
    pub(super) async fn send(
        &mut self,
        client: &WsClient,
        session: &str,
        line: Line,
    ) -> Result<(), String> {
        let started = Instant::now();
        let outcome = loop {
            let sent = client
                .send(
                    session.to_owned(),
                    line.text.clone(),
                    line.action.then_some(true),
                    Some(line.room.clone()),
                )
                .await;
            match sent {
                Ok(sent) => {
                    break NetEvent::Sent {
                        room: line.room,
                        seq: sent.seq,
                        text: line.text,
                        latency_ms: started.elapsed().as_millis() as u64,
                        action: line.action,
                        ts: crate::rpc::types::unix_ms(),
                    };
                }
                Err(ClientError::Call(err))
                    if self.patient && err.code() == codes::RATE_LIMITED =>
                {
                    tokio::time::sleep(retry_after(&err)).await;
                }
                // Not refused by the server but by the connection failing under it, or the
                // session ending with it (a shutdown). Whether it was stored before that is
                // unknown; sending it again may repeat it, but a script's line is not lost.
                Err(err) if self.patient && session_is_over(&err) => {
                    self.unsent.push_front(line);
                    return Err(describe(&err));
                }
                Err(err) => {
                    break NetEvent::Failed {
                        room: Some(line.room),
                        error: format!("not sent: {}", describe(&err)),
                    };
                }
            }
        };
        self.report(outcome).await;
        Ok(())
    }
}

/// Whether a failed call says the session is gone rather than the call refused.
fn session_is_over(err: &ClientError) -> bool {
    match err {
        ClientError::Call(err) => {
            matches!(err.code(), codes::SESSION_ENDED | codes::UNKNOWN_SESSION)
        }
        _ => true,
    }
}

/// How long a rate-limited sender is told to wait.
fn retry_after(err: &jsonrpsee::types::ErrorObjectOwned) -> Duration {
    let wait = err
        .data()
        .and_then(|data| serde_json::from_str::<serde_json::Value>(data.get()).ok())
        .and_then(|data| data["retry_after_ms"].as_u64())
        .unwrap_or(1000);
    Duration::from_millis(wait)
}
