//! `chatroom admin`'s SQL: bans found by name, fingerprint or address and lifted by the
//! name they list, refusals, and a room deleted with everything kept of it.
use super::identities::{known, store_records};
use super::*;
use crate::domain::{Record, RoomPolicy, Target};
use crate::store::admin::{AdminDb, AdminError};

/// A database with a room `#rust` alice owns and is in (a marker there too), and bob.
fn database() -> (PathBuf, impl Drop) {
    let (path, cleanup) = temp_db();
    let location = DbLocation::File(path.clone());
    let (writer, progress) = started(Store::open(&location).unwrap(), Retention::default());
    let alice = known("ka", "alice", 1);
    let Record::Identity(record) = &alice else {
        unreachable!()
    };
    let alice_id = record.id;
    let mut join = event(1, 1);
    Arc::get_mut(&mut join).unwrap().event.room = "#rust".into();
    writer.append(1, join);
    store_records(
        &*writer,
        &progress,
        &[
            alice,
            known("kb", "bob", 2),
            Record::Membership {
                key: "ka".into(),
                room: "#rust".into(),
                member: true,
            },
            Record::Marker {
                key: "ka".into(),
                room: "#rust".into(),
                seq: 1,
            },
            Record::Notify {
                key: "ka".into(),
                room: "#rust".into(),
                level: crate::domain::NotifyLevel::Off,
            },
            Record::RoomPolicy {
                room: "#rust".into(),
                policy: RoomPolicy {
                    owner: Some(alice_id),
                    ..Default::default()
                },
            },
        ],
    );
    assert!(writer.close(WAIT));
    (path, cleanup)
}

#[test]
fn bans_are_found_by_name_or_address_and_lifted_by_the_name_they_list() {
    let (path, _cleanup) = database();
    let db = AdminDb::open(&path, "#general").unwrap();
    // A look-alike of the name finds its owner, as the server's own lookup does.
    let ban = db
        .ban(Some("#RUST"), "B0B", Some(600), Some("spam".into()), 1_000)
        .unwrap();
    assert_eq!((ban.name.as_str(), ban.by.as_str()), ("bob", "admin"));
    assert_eq!(ban.until, Some(601_000));
    assert!(matches!(ban.target, Target::Identity(_)));
    db.ban(None, "192.0.2.9", None, None, 1_000).unwrap();
    assert_eq!(db.bans(Some("#rust"), 2_000).unwrap().len(), 1);
    assert!(db.bans(Some("#rust"), 601_000).unwrap().is_empty(), "ended");
    assert_eq!(db.bans(None, 2_000).unwrap()[0].name, "192.0.2.9");
    for refused in [
        db.ban(None, "nobody", None, None, 0),
        db.ban(None, "bob", Some(59), None, 0),
        db.ban(Some("#nowhere"), "bob", None, None, 0),
    ] {
        assert!(refused.is_err(), "{refused:?}");
    }
    assert!(matches!(
        db.unban(None, "bob", 2_000),
        Err(AdminError::NotBanned(_))
    ));
    assert_eq!(db.unban(Some("#rust"), "bob", 2_000).unwrap().name, "bob");
    assert_eq!(
        db.unban(None, "192.0.2.9", 2_000).unwrap().name,
        "192.0.2.9"
    );
    drop(db);
    let recovered = Store::open(&DbLocation::File(path)).unwrap().recovered();
    assert!(recovered.server_policy.bans.is_empty());
    assert!(recovered.policies[0].1.bans.is_empty());
    assert!(recovered.policies[0].1.owner.is_some(), "the rest is kept");
}

#[test]
fn a_deleted_room_leaves_nothing_behind() {
    let (path, _cleanup) = database();
    let db = AdminDb::open(&path, "#general").unwrap();
    let rooms = db.rooms().unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!(
        (rooms[0].members, rooms[0].events, rooms[0].owner.as_deref()),
        (1, 1, Some("alice"))
    );
    assert_eq!(db.delete_room("#rust").unwrap(), 1);
    drop(db);
    assert!(
        AdminDb::open(&path, "#general")
            .unwrap()
            .rooms()
            .unwrap()
            .is_empty()
    );
    let conn = Connection::open(&path).unwrap();
    for table in [
        "events",
        "rooms",
        "present",
        "memberships",
        "room_policies",
        "notify_levels",
    ] {
        let left: i64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0, "{table}");
    }
    let markers: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM markers WHERE room = '#rust'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(markers, 0);
}

#[test]
fn the_default_room_is_never_deleted() {
    let (path, _cleanup) = database();
    let db = AdminDb::open(&path, "#rust").unwrap();
    assert!(matches!(
        db.delete_room("#rust"),
        Err(AdminError::DefaultRoom(_))
    ));
    assert_eq!(db.rooms().unwrap().len(), 1);
}
