//! The server side of moderation: each call checked and made by the chat, answered once
//! its event is stored.

use jsonrpsee::types::ErrorObjectOwned;

use super::service::{ChatService, read_log};
use super::types::{BanInfo, ModeResult, Moderated};
use crate::domain::{Ban, Receipt, Role, parse_room_name};

impl ChatService {
    /// A ban as the caller may see it: a guest's address only for server operators (room
    /// operators ban guests by name, never learning where they come from).
    fn shown(&self, session: &str, ban: Ban) -> Result<BanInfo, ErrorObjectOwned> {
        let mut info = BanInfo::from(ban);
        if !self.chat.is_server_op(session)? {
            info.address = None;
        }
        Ok(info)
    }

    /// The room a call names, as the chat spells it (the default room for none).
    fn room_named(&self, room: Option<String>) -> Result<String, ErrorObjectOwned> {
        let room = room.unwrap_or_else(|| self.chat.default_room().to_owned());
        Ok(parse_room_name(&room).map_err(crate::domain::RoomError::from)?)
    }

    pub(super) async fn kick_member(
        &self,
        session: String,
        name: String,
        room: Option<String>,
        reason: Option<String>,
    ) -> Result<Moderated, ErrorObjectOwned> {
        let room = self.room_named(room)?;
        let receipt = self.chat.kick(&session, &room, &name, reason.as_deref())?;
        stored(room, receipt).await
    }

    pub(super) async fn ban_target(
        &self,
        session: String,
        target: String,
        room: Option<String>,
        duration_secs: Option<u64>,
        reason: Option<String>,
    ) -> Result<BanInfo, ErrorObjectOwned> {
        let room = self.room_named(room)?;
        let (ban, receipt) =
            self.chat
                .ban(&session, &room, &target, duration_secs, reason.as_deref())?;
        receipt.stored().await?;
        self.shown(&session, ban)
    }

    pub(super) async fn unban_target(
        &self,
        session: String,
        target: String,
        room: Option<String>,
    ) -> Result<BanInfo, ErrorObjectOwned> {
        let room = self.room_named(room)?;
        let (ban, receipt) = self.chat.unban(&session, &room, &target)?;
        receipt.stored().await?;
        self.shown(&session, ban)
    }

    pub(super) fn room_bans(
        &self,
        session: String,
        room: Option<String>,
    ) -> Result<Vec<BanInfo>, ErrorObjectOwned> {
        let room = self.room_named(room)?;
        self.chat
            .bans(&session, &room)?
            .into_iter()
            .map(|ban| self.shown(&session, ban))
            .collect()
    }

    pub(super) async fn server_ban(
        &self,
        session: String,
        target: String,
        duration_secs: Option<u64>,
        reason: Option<String>,
    ) -> Result<BanInfo, ErrorObjectOwned> {
        let (ban, receipts) =
            self.chat
                .gban(&session, &target, duration_secs, reason.as_deref())?;
        for receipt in receipts {
            receipt.stored().await?;
        }
        self.shown(&session, ban)
    }

    pub(super) async fn mute_member(
        &self,
        session: String,
        name: String,
        room: Option<String>,
        duration_secs: Option<u64>,
    ) -> Result<BanInfo, ErrorObjectOwned> {
        let room = self.room_named(room)?;
        let (ban, receipt) = self.chat.mute(&session, &room, &name, duration_secs)?;
        receipt.stored().await?;
        self.shown(&session, ban)
    }

    pub(super) async fn unmute_member(
        &self,
        session: String,
        name: String,
        room: Option<String>,
    ) -> Result<BanInfo, ErrorObjectOwned> {
        let room = self.room_named(room)?;
        let (ban, receipt) = self.chat.unmute(&session, &room, &name)?;
        receipt.stored().await?;
        self.shown(&session, ban)
    }

    pub(super) async fn set_role(
        &self,
        session: String,
        name: String,
        room: Option<String>,
        role: Option<String>,
    ) -> Result<Moderated, ErrorObjectOwned> {
        let room = self.room_named(room)?;
        let role = match role.as_deref() {
            None | Some("") | Some("none") => None,
            Some("op") => Some(Role::Op),
            Some("owner") => Some(Role::Owner),
            Some(other) => {
                return Err(ErrorObjectOwned::owned(
                    jsonrpsee::types::error::INVALID_PARAMS_CODE,
                    format!("unknown role {other:?}: \"op\", \"owner\" or null"),
                    None::<()>,
                ));
            }
        };
        let mut seq = 0;
        for receipt in self.chat.set_role(&session, &room, &name, role)? {
            seq = receipt.stored().await?;
        }
        Ok(Moderated { room, seq })
    }

    pub(super) async fn room_mode(
        &self,
        session: String,
        room: Option<String>,
        change: Option<String>,
    ) -> Result<ModeResult, ErrorObjectOwned> {
        let room = self.room_named(room)?;
        let (room, modes, receipt) = self.chat.mode(&session, &room, change.as_deref())?;
        if let Some(receipt) = receipt {
            receipt.stored().await?;
        }
        Ok(ModeResult {
            room,
            modes: modes.to_letters(),
        })
    }

    pub(super) async fn invite_member(
        &self,
        session: String,
        name: String,
        room: Option<String>,
    ) -> Result<Moderated, ErrorObjectOwned> {
        let room = self.room_named(room)?;
        let receipt = self.chat.invite(&session, &room, &name)?;
        stored(room, receipt).await
    }

    /// Reads the message from the log first (off the async threads), so the chat can check
    /// whose it is without touching the disk under its lock.
    pub(super) async fn delete_message(
        &self,
        session: String,
        seq: u64,
        room: Option<String>,
    ) -> Result<Moderated, ErrorObjectOwned> {
        // A conversation too: its author may delete a message there.
        let room = room.unwrap_or_else(|| self.chat.default_room().to_owned());
        let room = self.chat.check_member_of(&session, &room)?;
        let log = self.chat.log();
        let (at, before) = (room.clone(), seq.saturating_sub(1));
        let page = read_log(&self.history_reader, move || log.after(&at, before, 1)).await?;
        let stored_event = page.into_iter().find(|e| e.seq == seq);
        let receipt = self
            .chat
            .delete(&session, &room, seq, stored_event.as_ref())?;
        self::stored(room, receipt).await
    }
}

async fn stored(room: String, receipt: Receipt) -> Result<Moderated, ErrorObjectOwned> {
    let seq = receipt.stored().await?;
    Ok(Moderated { room, seq })
}
