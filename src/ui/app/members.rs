//! A room's member list and who spoke in it lately, kept in step with its events, and a
//! member as the client keeps it (its name and away message cleaned before drawing).

use super::Room;
use crate::rpc::types::{Event, EventKind, MemberInfo};
use crate::text::{clean_name, clean_text};

pub(super) fn clean_member(member: MemberInfo) -> MemberInfo {
    MemberInfo {
        id: member.id,
        name: clean_name(&member.name).unwrap_or_else(|| "?".into()),
        guest: member.guest,
        role: member.role,
        away: member.away.as_deref().map(clean_text),
    }
}

/// Keeps who spoke last and, for an event after the member list's snapshot (`live`),
/// the member list in step with joins and leaves.
pub(super) fn track_members(room: &mut Room, event: &Event, live: bool) {
    let from = clean_member(event.from.clone());
    match event.kind {
        EventKind::Message => {
            room.recent_speakers.retain(|name| *name != from.name);
            room.recent_speakers.insert(0, from.name);
        }
        EventKind::Join | EventKind::Leave if !live => {}
        EventKind::Join => {
            let key = from.name.to_lowercase();
            if let Err(at) = room
                .members
                .binary_search_by(|m| m.name.to_lowercase().cmp(&key))
            {
                room.members.insert(at, from);
            }
        }
        EventKind::Leave => {
            room.members.retain(|m| m.id != from.id);
            room.recent_speakers.retain(|name| *name != from.name);
        }
        EventKind::Nick => {
            let old = event
                .text
                .as_deref()
                .and_then(clean_name)
                .unwrap_or_default();
            for speaker in &mut room.recent_speakers {
                if *speaker == old {
                    speaker.clone_from(&from.name);
                }
            }
            if !live {
                return;
            }
            room.members.retain(|m| m.id != from.id);
            room.members.push(from);
            room.members.sort_by_cached_key(|m| m.name.to_lowercase());
        }
        EventKind::Action => {
            room.recent_speakers.retain(|name| *name != from.name);
            room.recent_speakers.insert(0, from.name);
        }
        // Moderation and away change the list in `moderation_event`.
        _ => {}
    }
}
