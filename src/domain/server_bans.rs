//! Bans from the whole server, which only server operators (named by key fingerprint in
//! the server's operators file) may give: the banned are put out of every room, each
//! room is told, and their sessions end.

use uuid::Uuid;

use super::access::Rank;
use super::moderation::take_listed;
use super::pending::{Extras, Undo};
use super::policy::{Ban, add_ban};
use super::{
    Chat, EventKind, LeaveReason, Receipt, Record, RoomError, State, conversations::is_conversation,
};

impl Chat {
    /// Bans `target` from the whole server (server operators only): it is put out of
    /// every room it is in, each of which sees a `gban` event, and its sessions end.
    pub fn gban(
        &self,
        session: &str,
        target: &str,
        duration_secs: Option<u64>,
        reason: Option<&str>,
    ) -> Result<(Ban, Vec<Receipt>), RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        state.server_op_only(id, "ban from the server")?;
        let reason = self.reason(reason)?;
        let found = state.find(target)?;
        state.check_may_act(id, Rank::ServerOp, &found, None)?;
        state.check_moderation(id, &self.shared.config)?;
        let ban = state.new_ban(id, &found, duration_secs, reason.clone())?;
        let now = state.now();
        state.server_policy.prune(now);
        add_ban(&mut state.server_policy.bans, ban.clone()).map_err(|max| RoomError::ListFull {
            what: "the server's ban list",
            max,
        })?;
        let policy = state.server_policy.clone();
        state.record(Record::ServerPolicy(policy));
        let from = state.members[&id].info.clone();
        let banned: Vec<Uuid> = state
            .members
            .values()
            .filter(|m| state.targets_of(m.info.id).contains(&found.target))
            .map(|m| m.info.id)
            .collect();
        let mut receipts = Vec::new();
        for out in banned {
            let info = state.members[&out].info.clone();
            let rooms: Vec<String> = state.members[&out]
                .rooms
                .iter()
                .filter(|r| !is_conversation(r))
                .cloned()
                .collect();
            for room in rooms {
                state.put_out(out, &room);
                receipts.push(state.publish_awaited_with(
                    &room,
                    EventKind::Gban,
                    from.clone(),
                    reason.clone(),
                    Extras {
                        target: Some(info.clone()),
                        until: ban.until,
                        target_seq: None,
                    },
                    Some(conn),
                    Undo::Nothing,
                ));
            }
            // Out of every room already: ending it tells nobody more.
            state.remove(out, LeaveReason::Banned, None);
        }
        tracing::info!(%id, target = %found.info.name, "banned from the server");
        Ok((ban, receipts))
    }

    /// Lifts a server ban (server operators only).
    pub fn ungban(&self, session: &str, target: &str) -> Result<Ban, RoomError> {
        let mut state = self.lock();
        let (id, _) = state.session(session)?;
        state.server_op_only(id, "lift server bans")?;
        let found = state.find(target).ok();
        let now = state.now();
        state.server_policy.prune(now);
        let ban = take_listed(&mut state.server_policy.bans, found.as_ref(), target)
            .ok_or_else(|| RoomError::NotBanned(target.to_owned()))?;
        let policy = state.server_policy.clone();
        state.record(Record::ServerPolicy(policy));
        Ok(ban)
    }

    /// The server's bans in force (server operators only).
    pub fn gbans(&self, session: &str) -> Result<Vec<Ban>, RoomError> {
        let mut state = self.lock();
        let (id, _) = state.session(session)?;
        state.server_op_only(id, "list server bans")?;
        let now = state.now();
        Ok(state
            .server_policy
            .bans
            .iter()
            .filter(|b| b.holds(now))
            .cloned()
            .collect())
    }

    /// Whether the session's member is a server operator.
    pub fn is_server_op(&self, session: &str) -> Result<bool, RoomError> {
        let mut state = self.lock();
        let (id, _) = state.session(session)?;
        Ok(state.is_server_op(id))
    }

    /// The server operators from now on, by key fingerprint (`SHA256:…`). Members
    /// connected now gain or lose the role at once.
    pub fn set_server_operators(&self, fingerprints: impl IntoIterator<Item = String>) {
        let mut state = self.lock();
        state.server_ops = fingerprints.into_iter().collect();
        tracing::info!(count = state.server_ops.len(), "server operators set");
    }
}

impl State {
    pub(super) fn server_op_only(&self, id: Uuid, action: &'static str) -> Result<(), RoomError> {
        if self.is_server_op(id) {
            Ok(())
        } else {
            Err(RoomError::NotPermitted {
                who: "server operators".into(),
                action,
            })
        }
    }
}
