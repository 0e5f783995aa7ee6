//! Notification levels in the domain: kept per identity and room, told to the identity's
//! other sessions, given with every room a session gets, kept across a restart, and
//! refused to guests.

use super::*;

fn key(n: u8) -> Credentials {
    Credentials {
        key: format!("key-{n}"),
        id: Uuid::new_v8([n; 16]),
        fingerprint: format!("SHA256:test-{n}"),
    }
}

fn join_keyed(chat: &Chat, name: &str, key: Credentials) -> Joined {
    chat.join_as(Some(name), Lifetime::Connection, None, Some(key), || Ok(()))
        .map(|(joined, _)| joined)
        .unwrap()
}

/// The `notify` events waiting in a session's queue: room and level.
fn told(chat: &Chat, session: &str) -> Vec<(String, Option<String>, u64)> {
    let mut claimed = chat.reader(session).unwrap().try_claim().unwrap();
    let mut out = Vec::new();
    while let Ok(event) = claimed.unread.rx.try_recv() {
        if event.kind == EventKind::Notify {
            out.push((event.room.clone(), event.text.clone(), event.seq));
        }
    }
    out
}

#[test]
fn a_level_is_kept_per_room_and_told_to_the_other_sessions_alone() {
    let chat = Chat::default();
    let laptop = join_keyed(&chat, "alice", key(1));
    let desktop = join_keyed(&chat, "alice", key(1));
    assert_eq!(
        laptop.room.notify,
        NotifyLevel::Mentions,
        "a room's default"
    );
    chat.enter(&laptop.session, "#rust").unwrap();

    let set = chat
        .set_notify(&laptop.session, "#rust", Some(NotifyLevel::Off))
        .unwrap();
    assert_eq!(set, ("#rust".to_owned(), NotifyLevel::Off));
    // The same again changes nothing and tells nobody.
    chat.set_notify(&laptop.session, "#rust", Some(NotifyLevel::Off))
        .unwrap();
    assert_eq!(
        told(&chat, &desktop.session),
        [("#rust".to_owned(), Some("off".to_owned()), 0)]
    );
    assert_eq!(
        told(&chat, &laptop.session),
        [],
        "not the session that set it"
    );
    assert_eq!(
        chat.set_notify(&desktop.session, "#general", None).unwrap(),
        ("#general".to_owned(), NotifyLevel::Mentions),
        "another room keeps its own"
    );

    let again = join_keyed(&chat, "alice", key(1));
    let rust = again.rooms.iter().find(|r| r.room == "#rust").unwrap();
    assert_eq!(rust.notify, NotifyLevel::Off);
    assert_eq!(
        chat.enter(&again.session, "#rust").unwrap().0.notify,
        NotifyLevel::Off
    );
    // Another identity's is its own.
    let bob = join_keyed(&chat, "bob", key(2));
    assert_eq!(
        chat.enter(&bob.session, "#rust").unwrap().0.notify,
        NotifyLevel::Mentions
    );
}

#[test]
fn a_conversation_notifies_of_everything_by_default() {
    assert_eq!(NotifyLevel::default_for("#general"), NotifyLevel::Mentions);
    assert_eq!(
        NotifyLevel::default_for(&format!("{CONVERSATION_PREFIX}a+b")),
        NotifyLevel::All
    );
}

#[test]
fn a_guest_keeps_no_level_and_an_unknown_level_is_refused() {
    let chat = Chat::default();
    let (guest, _) = chat.join(Some("bob"), Lifetime::Connection, None).unwrap();
    assert_eq!(
        chat.set_notify(&guest.session, "#general", Some(NotifyLevel::All)),
        Err(RoomError::NotIdentified("keep notification levels"))
    );
    assert_eq!(
        "loud".parse::<NotifyLevel>(),
        Err(RoomError::BadNotifyLevel("loud".into()))
    );
    assert_eq!("off".parse::<NotifyLevel>(), Ok(NotifyLevel::Off));
}

#[test]
fn levels_outlive_a_restart() {
    let log = Arc::new(MemoryLog::default());
    {
        let chat = Chat::new(ChatConfig::default(), log.clone()).unwrap();
        let alice = join_keyed(&chat, "alice", key(1));
        chat.set_notify(&alice.session, DEFAULT_ROOM, Some(NotifyLevel::All))
            .unwrap();
        chat.leave(&alice.session, None).unwrap();
        futures::executor::block_on(chat.settled());
    }
    let chat = Chat::new(ChatConfig::default(), log).unwrap();
    let alice = join_keyed(&chat, "alice", key(1));
    assert_eq!(alice.room.notify, NotifyLevel::All);
}
