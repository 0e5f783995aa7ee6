//! A room's member list and who spoke in it lately, kept in step with its events, and a
//! member as the client keeps it (its name and away message cleaned before drawing).

use super::{App, LineKind, Room};
use crate::rpc::types::{Event, EventKind, MemberInfo, Presence};
use crate::text::{clean_name, clean_text};
use crate::ui::event_text;

pub(super) fn clean_member(member: MemberInfo) -> MemberInfo {
    MemberInfo {
        id: member.id,
        name: clean_name(&member.name).unwrap_or_else(|| "?".into()),
        guest: member.guest,
        role: member.role,
        away: member.away.as_deref().map(clean_text),
    }
}

/// A large room's presence event: a member list in it replaces ours; the changes it names
/// are applied to ours (as each member ended up, so applying them twice does no harm); one
/// that could not name them all leaves our list waiting for the list the worker asks for.
pub(super) fn track_presence(room: &mut Room, presence: &Presence) {
    room.member_count = presence.count as usize;
    if let Some(list) = &presence.members {
        room.members = list.iter().cloned().map(clean_member).collect();
        room.members.sort_by_cached_key(|m| m.name.to_lowercase());
        room.members_complete = true;
        return;
    }
    if !presence.complete {
        room.members_complete = false;
        return;
    }
    for gone in &presence.left {
        room.members.retain(|m| m.id != gone.id);
    }
    for came in &presence.joined {
        let came = clean_member(came.clone());
        room.members.retain(|m| m.id != came.id);
        let key = came.name.to_lowercase();
        let at = room
            .members
            .partition_point(|m| m.name.to_lowercase() < key);
        room.members.insert(at, came);
    }
}

impl App {
    /// A presence event of a large room: its member list follows, and the pane says who
    /// came and went. The smart filter (as for single joins and leaves) keeps only those
    /// who spoke lately, and no bare counts.
    pub(super) fn presence(&mut self, event: &Event) {
        let (Some(at), Some(presence)) = (self.room_index(&event.room), event.presence.as_deref())
        else {
            return;
        };
        let room = &mut self.rooms[at];
        track_presence(room, presence);
        let text = if self.smart_filter {
            let spoke = |members: &[MemberInfo]| -> Vec<String> {
                members
                    .iter()
                    .filter(|m| room.spoke_lately(m.id, event.ts))
                    .map(event_text::shown_member)
                    .collect()
            };
            event_text::presence(&spoke(&presence.joined), &spoke(&presence.left))
        } else {
            event_text::presence_summary(presence)
        };
        if !text.is_empty() {
            self.push_local_in(at, LineKind::Notice, text);
        }
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
