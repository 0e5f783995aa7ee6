//! Names: variants of taken names, guests, cleaning, reserved names and look-alikes, renames.

use super::*;

#[test]
fn taken_name_gets_a_numbered_variant_case_insensitively() {
    let room = Room::default();
    assert_eq!(
        room.join(Some("alice"), Lifetime::Connection).unwrap().name,
        "alice"
    );
    assert_eq!(
        room.join(Some("Alice"), Lifetime::Connection).unwrap().name,
        "Alice-2"
    );
    assert_eq!(
        room.join(Some("ALICE"), Lifetime::Connection).unwrap().name,
        "ALICE-3"
    );
}

#[test]
fn name_is_free_again_after_its_member_leaves() {
    let room = Room::default();
    let first = room.join(Some("alice"), Lifetime::Connection).unwrap();
    room.leave(&first.session, LeaveReason::Left).unwrap();
    assert_eq!(
        room.join(Some("alice"), Lifetime::Connection).unwrap().name,
        "alice"
    );
}

#[test]
fn numbered_variant_of_a_long_name_stays_within_the_limit() {
    let room = Room::default();
    let long = "n".repeat(MAX_NAME_CHARS);
    room.join(Some(&long), Lifetime::Connection).unwrap();
    let second = room.join(Some(&long), Lifetime::Connection).unwrap().name;
    assert_eq!(second.chars().count(), MAX_NAME_CHARS);
    assert!(second.ends_with("-2"));
}

#[test]
fn missing_or_unusable_name_becomes_a_guest_name() {
    let room = Room::default();
    for requested in [None, Some(""), Some("  \x1b\u{200B} ")] {
        let name = room.join(requested, Lifetime::Connection).unwrap().name;
        assert!(
            name.len() == "guest-0000".len() && name.starts_with("guest-"),
            "{name}"
        );
    }
}

#[test]
fn names_are_cleaned_before_use() {
    let room = Room::default();
    assert_eq!(
        room.join(Some(" \x1b[31mbob\n"), Lifetime::Connection)
            .unwrap()
            .name,
        "31mbob"
    );
}

#[test]
fn reserved_names_are_refused_in_any_disguise() {
    let room = Room::default();
    for name in [
        "server",
        "SYSTEM",
        " admin ",
        "ѕerver",
        "r\u{200B}oot",
        "ꓢerver",
    ] {
        assert!(
            matches!(
                room.join(Some(name), Lifetime::Connection),
                Err(RoomError::NameReserved(_))
            ),
            "{name:?} was let in"
        );
    }
    assert!(room.members().is_empty());
    assert_eq!(
        room.join(Some("serverless"), Lifetime::Connection)
            .unwrap()
            .name,
        "serverless"
    );
}

#[test]
fn look_alike_names_collide() {
    let room = Room::default();
    room.join(Some("alice"), Lifetime::Connection).unwrap();
    // Cyrillic а, and a Latin look-alike built from other letters.
    assert_eq!(
        room.join(Some("аlice"), Lifetime::Connection).unwrap().name,
        "аlice-2"
    );
    // A look-alike whose skeleton has capitals (Lisu ꓮ looks like A).
    assert_eq!(
        room.join(Some("ꓮlice"), Lifetime::Connection).unwrap().name,
        "ꓮlice-3"
    );
    room.join(Some("paypal"), Lifetime::Connection).unwrap();
    assert_eq!(
        room.join(Some("paypa1"), Lifetime::Connection)
            .unwrap()
            .name,
        "paypa1-2"
    );
}

#[test]
fn disguised_look_alikes_of_a_present_name_get_a_variant() {
    let room = Room::default();
    room.join(Some("alice"), Lifetime::Connection).unwrap();
    for disguise in [
        "aIice",          // capital I for l
        "alı\u{307}ce",   // dotless ı with a dot above
        "alice\u{2800}",  // a braille blank after it
        "alice\u{13430}", // an Egyptian hieroglyph joiner after it
        "ALICE",
        "ALlCE", // a small l for the I of ALICE
    ] {
        let name = room
            .join(Some(disguise), Lifetime::Connection)
            .unwrap()
            .name;
        assert!(
            name.ends_with(char::is_numeric) && name.contains('-'),
            "{disguise:?} got in as {name:?}"
        );
    }
}

#[test]
fn reserved_names_are_refused_in_cherokee_and_other_disguises() {
    let room = Room::default();
    for name in [
        "ᎪDMIN",
        "RᎾOT",
        "Ꮎperator",
        "admı\u{307}n",
        "ADMlN", // a small l: ADMIN in most fonts
        "server\u{2800}",
        "-!- server",
        "<server>",
    ] {
        assert!(
            matches!(
                room.join(Some(name), Lifetime::Connection),
                Err(RoomError::NameReserved(_))
            ),
            "{name:?} was let in"
        );
    }
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    assert!(matches!(
        room.nick(&alice.session, "ᎪDMIN"),
        Err(RoomError::NameReserved(_))
    ));
}

#[test]
fn a_variant_of_a_long_name_is_clean_too() {
    let room = Room::default();
    // The cut for the suffix lands right after a ZWNJ, which then joins nothing.
    let long = format!("{}ب\u{200C}بب", "x".repeat(MAX_NAME_CHARS - 4));
    assert_eq!(clean_name(&long).as_deref(), Some(long.as_str()));
    room.join(Some(&long), Lifetime::Connection).unwrap();
    let variant = room.join(Some(&long), Lifetime::Connection).unwrap().name;
    assert_eq!(variant, format!("{}ب-2", "x".repeat(MAX_NAME_CHARS - 4)));
}

#[test]
fn a_crowd_of_one_name_does_not_make_each_join_search_through_it() {
    let room = Room::in_memory(RoomConfig {
        rate_limit: None,
        ..RoomConfig::default()
    });
    let mut names = std::collections::HashSet::new();
    for _ in 0..1_000 {
        names.insert(room.join(Some("alice"), Lifetime::Connection).unwrap().name);
    }
    assert_eq!(names.len(), 1_000, "every alice got a name of its own");
    assert!(
        names.contains("alice-9"),
        "the first variants come in order"
    );
    crate::domain::names::CANDIDATES_TRIED.with(|n| n.set(0));
    let last = room.join(Some("alice"), Lifetime::Connection).unwrap().name;
    assert!(last.starts_with("alice-") && !names.contains(&last));
    let tried = crate::domain::names::CANDIDATES_TRIED.with(std::cell::Cell::get);
    assert!(tried <= 40, "{tried} candidates looked at for one join");
}

#[test]
fn a_name_frees_every_key_it_held() {
    let room = Room::default();
    let alice = room.join(Some("ALICE"), Lifetime::Connection).unwrap();
    room.leave(&alice.session, LeaveReason::Left).unwrap();
    assert_eq!(
        room.join(Some("alice"), Lifetime::Connection).unwrap().name,
        "alice"
    );
}

#[test]
fn nick_renames_and_tells_everyone_the_old_name() {
    let room = Room::default();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    settle(&room);
    let bob = room.join(Some("bob"), Lifetime::Connection).unwrap();
    settle(&room);
    assert_eq!(room.nick(&alice.session, " Alicia ").unwrap(), "Alicia");
    let events = queued(&room, &bob.session);
    assert_eq!(
        summary(&events),
        vec![(EventKind::Nick, "Alicia".into(), Some("alice".into()))]
    );
    assert_eq!(events[0].from.id, alice.id);
    assert_eq!(room.member(&alice.session).unwrap().name, "Alicia");
    // The old name is free again; our own name in another case is fine.
    assert_eq!(
        room.join(Some("alice"), Lifetime::Connection).unwrap().name,
        "alice"
    );
    assert_eq!(room.nick(&alice.session, "ALICIA").unwrap(), "ALICIA");
}

#[test]
fn nick_follows_the_rules_of_joining() {
    let room = Room::default();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    room.join(Some("bob"), Lifetime::Connection).unwrap();
    assert_eq!(room.nick(&alice.session, "bob").unwrap(), "bob-2");
    assert_eq!(
        room.nick(&alice.session, "ѕystem"),
        Err(RoomError::NameReserved("ѕystem".into()))
    );
    assert_eq!(
        room.nick(&alice.session, " \u{200B} "),
        Err(RoomError::NameEmpty)
    );
    assert_eq!(room.nick("nope", "x"), Err(RoomError::UnknownSession));
}
