use super::*;
use crate::core::case::{Actor, CaseState, Event, EventKind};
use crate::core::email::Thread;
use crate::core::view::View;
use crate::core::{CaseWrite, Effects, NewCase};
use crate::edge::render::{Outgoing, RenderedEmail};
use crate::pack_check::fields::{Field, Fields};

fn case(reference: &str, state: CaseState) -> Case {
    let mut fields = Fields::default();
    fields.0.insert(Field::EspaRef, "HDA-2026-000123".into());
    fields.0.insert(Field::Order, "2".into());
    Case {
        reference: reference.into(),
        state,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        company: "Seri Indah".into(),
        developer_address: "submit@seriindah.my".into(),
        fields,
        application: None,
        documents: Vec::new(),
        problems: Vec::new(),
        notices: Vec::new(),
        thread: Thread::default(),
        unreachable: 0,
        pin: Default::default(),
        keys: Default::default(),
    }
}

/// A new case `…-00000N` (sequence N of 2026), or a change when `new` is
/// false.
fn effects(case: Case, new: bool) -> Effects {
    let sequence = case
        .reference
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    Effects {
        filing: Some(Folder::Processed),
        reason: "test",
        events: vec![(
            case.reference.clone(),
            Event {
                at: Utc::now(),
                actor: Actor::System,
                what: EventKind::StateChanged {
                    from: None,
                    to: case.state,
                },
            },
        )],
        cases: vec![CaseWrite {
            case,
            new: new.then_some(NewCase {
                year: 2026,
                sequence,
            }),
        }],
        ..Effects::default()
    }
}

fn outgoing(reference: &str, id: &str) -> Outgoing {
    Outgoing {
        case_ref: Some(reference.into()),
        template: Template::Ack,
        rendered: RenderedEmail {
            message_id: id.into(),
            envelope_from: "ra@x.my".into(),
            envelope_to: vec!["Submit@SeriIndah.my".into()],
            subject: "s".into(),
            bytes: b"Subject: s\r\n\r\nbody\r\n".to_vec(),
        },
    }
}

fn message(key: &str) -> Origin<'_> {
    Origin::Message { key }
}

#[test]
fn a_message_takes_effect_once() {
    let store = Store::temporary().unwrap();
    let d = effects(case("SJL-2026-000001", CaseState::Received), true);
    let out = [outgoing("SJL-2026-000001", "m1@x")];
    let now = Utc::now();
    let Committed::Now { queued, .. } = store.commit(message("mid:a"), &d, &[], &out, now).unwrap()
    else {
        panic!("the first commit must take effect");
    };
    assert_eq!(
        store.commit(message("mid:a"), &d, &[], &out, now).unwrap(),
        Committed::Already(Folder::Processed)
    );
    let entries: Vec<_> = store.outbox().map(Result::unwrap).collect();
    assert_eq!(entries.len(), 1, "the email is queued once");
    assert_eq!(queued, [entries[0].id]);
    assert_eq!(
        (entries[0].attempts, entries[0].settled),
        (1, 0),
        "the first attempt is counted with the commit"
    );
    assert_eq!(
        store.history("SJL-2026-000001").unwrap().len(),
        2,
        "state + queued"
    );
    assert_eq!(
        store.seen("mid:a").unwrap().map(|s| s.folder),
        Some(Folder::Processed)
    );
    assert_eq!(store.next_sequence(2026).unwrap(), 2);
    let sent = store.sent_email("<m1@x>").unwrap().expect("indexed");
    assert_eq!(sent.case_ref, "SJL-2026-000001");
    assert_eq!(sent.to, ["submit@seriindah.my"], "to whom it went");
    assert_eq!(
        store
            .replies_this_hour("submit@seriindah.my", "SJL-2026-000001", now)
            .unwrap(),
        1
    );
}

#[test]
fn a_new_case_whose_reference_is_taken_is_refused_and_nothing_is_written() {
    let store = Store::temporary().unwrap();
    let first = effects(case("SJL-2026-000001", CaseState::Received), true);
    store
        .commit(message("mid:a"), &first, &[], &[], Utc::now())
        .unwrap();
    // A view that read the sequence wrongly would decide the same
    // reference again: the commit must not overwrite the case.
    let again = effects(case("SJL-2026-000001", CaseState::Incomplete), true);
    let out = [outgoing("SJL-2026-000001", "m2@x")];
    match store.commit(message("mid:b"), &again, &[], &out, Utc::now()) {
        Err(StoreError::Conflict(why)) => assert!(why.contains("SJL-2026-000001"), "{why}"),
        other => panic!("must be a conflict: {other:?}"),
    }
    assert_eq!(
        store.case("SJL-2026-000001").unwrap().map(|c| c.state),
        Some(CaseState::Received),
        "the first case is untouched"
    );
    assert!(
        store.seen("mid:b").unwrap().is_none(),
        "not recorded as done"
    );
    assert_eq!(store.outbox().count(), 0, "nothing queued");
    // A sequence number at or below the year's last is refused too, even
    // for a reference never written.
    let behind = effects(case("SJL-2026-000001", CaseState::Received), true);
    let mut behind = behind;
    behind.cases[0].case.reference = "SJL-2026-900001".into();
    assert!(matches!(
        store.commit(message("mid:c"), &behind, &[], &[], Utc::now()),
        Err(StoreError::Conflict(_))
    ));
}

#[test]
fn past_reply_counters_are_forgotten_the_current_hour_kept() {
    let store = Store::temporary().unwrap();
    let now = Utc::now();
    let earlier = now - chrono::TimeDelta::hours(2);
    let d = effects(case("SJL-2026-000001", CaseState::Received), false);
    let out = [outgoing("SJL-2026-000001", "m1@x")];
    store
        .commit(message("mid:a"), &d, &[], &out, earlier)
        .unwrap();
    let out = [outgoing("SJL-2026-000001", "m2@x")];
    store.commit(message("mid:b"), &d, &[], &out, now).unwrap();
    let who = ("submit@seriindah.my", "SJL-2026-000001");
    assert_eq!(store.replies_this_hour(who.0, who.1, earlier).unwrap(), 1);
    assert_eq!(store.forget_past_reply_counters(now).unwrap(), 1);
    assert_eq!(store.replies_this_hour(who.0, who.1, earlier).unwrap(), 0);
    assert_eq!(store.replies_this_hour(who.0, who.1, now).unwrap(), 1);
    assert_eq!(store.forget_past_reply_counters(now).unwrap(), 0);
    // The case sequence beside them is left alone.
    let new = effects(case("SJL-2026-000002", CaseState::Received), true);
    store.commit(message("mid:c"), &new, &[], &[], now).unwrap();
    store.forget_past_reply_counters(now).unwrap();
    assert_eq!(store.next_sequence(2026).unwrap(), 3);
}

#[test]
fn documents_are_indexed_with_their_case() {
    let store = Store::temporary().unwrap();
    let d = effects(case("SJL-2026-000001", CaseState::Received), true);
    let at = Location {
        segment: 1,
        offset: 0,
        len: 10,
    };
    let stored = [("ab".repeat(32), at)];
    store
        .commit(message("mid:a"), &d, &stored, &[], Utc::now())
        .unwrap();
    assert_eq!(store.document(&"ab".repeat(32)).unwrap(), Some(at));
    assert_eq!(store.document(&"cd".repeat(32)).unwrap(), None);
    // A message that already took effect indexes nothing more.
    let elsewhere = Location { segment: 2, ..at };
    let again = [("ab".repeat(32), elsewhere), ("cd".repeat(32), elsewhere)];
    store
        .commit(message("mid:a"), &d, &again, &[], Utc::now())
        .unwrap();
    assert_eq!(store.document(&"ab".repeat(32)).unwrap(), Some(at));
    assert_eq!(store.document(&"cd".repeat(32)).unwrap(), None);
    // ... unless its documents had to be stored again.
    store.relocate_documents(&again[..1]).unwrap();
    assert_eq!(store.document(&"ab".repeat(32)).unwrap(), Some(elsewhere));
}

#[test]
fn only_open_cases_count_as_duplicates() {
    let store = Store::temporary().unwrap();
    let d = effects(case("SJL-2026-000001", CaseState::Incomplete), true);
    store
        .commit(message("mid:a"), &d, &[], &[], Utc::now())
        .unwrap();
    assert!(
        store
            .open_for_order("HDA-2026-000123", 2)
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .open_for_order("HDA-2026-000123", 3)
            .unwrap()
            .is_none()
    );
    let d = effects(case("SJL-2026-000001", CaseState::Withdrawn), false);
    store
        .commit(message("mid:b"), &d, &[], &[], Utc::now())
        .unwrap();
    assert!(
        store
            .open_for_order("HDA-2026-000123", 2)
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_finished_email_leaves_the_outbox_and_is_recorded_with_what_it_calls_for() {
    let store = Store::temporary().unwrap();
    let d = effects(case("SJL-2026-000001", CaseState::Received), true);
    store
        .commit(
            message("mid:a"),
            &d,
            &[],
            &[outgoing("SJL-2026-000001", "m1@x")],
            Utc::now(),
        )
        .unwrap();
    let entry = store.outbox().next().unwrap().unwrap();
    assert!(store.outbox_body(entry.id).unwrap().is_some());
    let sent = EventKind::EmailSent {
        message_id: entry.message_id.clone(),
    };
    let follow_up = [outgoing("SJL-2026-000001", "notice@x")];
    let finished = [(entry.clone(), sent.clone())];
    let Committed::Now { queued, .. } = store
        .commit(
            Origin::Outbox {
                finished: &finished,
            },
            &Effects::default(),
            &[],
            &follow_up,
            Utc::now(),
        )
        .unwrap()
    else {
        panic!("an outbox commit always takes effect");
    };
    assert!(store.outbox_body(entry.id).unwrap().is_none());
    let left: Vec<_> = store.outbox().map(Result::unwrap).collect();
    assert_eq!(left.len(), 1, "only the follow-up is left");
    assert_eq!(queued, [left[0].id]);
    assert_eq!(
        (left[0].message_id.as_str(), left[0].attempts),
        ("notice@x", 1)
    );
    assert!(store.outbox_body(left[0].id).unwrap().is_some());
    let history = store.history("SJL-2026-000001").unwrap();
    let n = history.len();
    assert_eq!(history[n - 2].what, sent, "the outcome first");
    assert!(
        matches!(&history[n - 1].what, EventKind::EmailQueued { message_id, .. } if message_id == "notice@x")
    );
    assert_eq!(
        store.sent_email("<notice@x>").unwrap().map(|s| s.case_ref),
        Some("SJL-2026-000001".into()),
        "a reply to the follow-up finds its case"
    );
}

/// The store the landed first slice (schema 1) wrote on the embedded
/// default for the two example packs, unpacked into a fresh directory.
pub(super) fn landed_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("xzf")
        .arg(&fixture)
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("tar runs");
    assert!(status.success(), "unpacking {}", fixture.display());
    dir
}

#[test]
fn a_store_written_by_the_landed_version_opens_migrated_without_loss() {
    let dir = landed_store();
    let db = dir.path().join("sijil.db");
    let store = Store::open(&db).unwrap();
    assert_eq!(store.schema().unwrap(), SCHEMA);
    let cases: Vec<Case> = store.cases().map(Result::unwrap).collect();
    let states: Vec<_> = cases
        .iter()
        .map(|c| (c.reference.as_str(), c.state))
        .collect();
    assert_eq!(
        states,
        [
            ("SJL-2026-000001", CaseState::Received),
            ("SJL-2026-000002", CaseState::Incomplete)
        ]
    );
    let history = store.history("SJL-2026-000001").unwrap();
    let sent: Vec<&str> = history
        .iter()
        .filter_map(|e| match &e.what {
            EventKind::EmailSent { message_id } => Some(message_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 3, "ACK, EMEL 1 and STAFF-VERIFY were sent");
    // Every email the old sent index knew now names its recipients too.
    for event in &history {
        if let EventKind::EmailQueued { to, message_id, .. } = &event.what {
            let indexed = store
                .sent_email(message_id)
                .unwrap()
                .expect("still indexed");
            assert_eq!(indexed.case_ref, "SJL-2026-000001");
            let lower: Vec<String> = to.iter().map(|a| a.to_lowercase()).collect();
            assert_eq!(indexed.to, lower, "{message_id}");
            assert_eq!(indexed.at, Some(event.at), "queued when its line says");
        }
    }
    for case in &cases {
        for doc in &case.documents {
            assert!(
                store.document(&doc.sha256).unwrap().is_some(),
                "{}",
                doc.name
            );
        }
    }
    assert_eq!(store.next_sequence(2026).unwrap(), 3);
    assert!(
        store
            .seen("mid:example-pack-noloa@example.my")
            .unwrap()
            .is_some()
    );
    let secret = *store.message_id_key();
    assert_ne!(secret, [0; 32]);
    drop(store);
    // Opened again: nothing to migrate, the same secret.
    let again = Store::open(&db).unwrap();
    assert_eq!(again.schema().unwrap(), SCHEMA);
    assert_eq!(*again.message_id_key(), secret);
}

#[test]
fn a_store_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sijil.db");
    {
        let store = Store::open(&db).unwrap();
        store
            .meta
            .insert("schema", &u64::from(SCHEMA + 1).to_be_bytes()[..])
            .unwrap();
        store.db.flush().unwrap();
    }
    match Store::open(&db) {
        Err(StoreError::TooNew { found, known }) => {
            assert_eq!((found, known), (SCHEMA + 1, SCHEMA))
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a newer store must not be opened"),
    }
}

#[test]
fn commits_say_which_cases_moved_between_states() {
    let store = Store::temporary().unwrap();
    let now = Utc::now();
    let moved = |c: Committed| match c {
        Committed::Now { moved, .. } => moved,
        Committed::Already(_) => panic!("the commit must take effect"),
    };
    let new = effects(case("SJL-2026-000001", CaseState::Incomplete), true);
    let first = moved(store.commit(message("mid:a"), &new, &[], &[], now).unwrap());
    assert_eq!(
        first,
        [StateMove {
            from: None,
            to: CaseState::Incomplete
        }]
    );
    // Written again in the same state (a note, a supplement still short):
    // no move.
    let same = effects(case("SJL-2026-000001", CaseState::Incomplete), false);
    assert!(
        moved(
            store
                .commit(message("mid:b"), &same, &[], &[], now)
                .unwrap()
        )
        .is_empty()
    );
    let completed = effects(case("SJL-2026-000001", CaseState::Received), false);
    assert_eq!(
        moved(
            store
                .commit(message("mid:c"), &completed, &[], &[], now)
                .unwrap()
        ),
        [StateMove {
            from: Some(CaseState::Incomplete),
            to: CaseState::Received
        }]
    );
    let other = effects(case("SJL-2026-000002", CaseState::Received), true);
    store
        .commit(message("mid:d"), &other, &[], &[], now)
        .unwrap();
    let states: Vec<CaseState> = store.case_states().map(Result::unwrap).collect();
    assert_eq!(states, [CaseState::Received, CaseState::Received]);
}

#[test]
fn an_espa_is_written_with_its_effects_and_its_reference_taken_once() {
    use crate::core::espa::{Espa, EspaDocument, EspaWrite};
    let store = Store::temporary().unwrap();
    let espa = Espa {
        reference: "HDA-2026-000123".into(),
        project: "Taman Seri Indah".into(),
        company: "Seri Indah".into(),
        developer_address: "submit@seriindah.my".into(),
        signees: Vec::new(),
        document: EspaDocument {
            name: "eSPA.pdf".into(),
            size: 10,
            sha256: "ab".repeat(32),
        },
        thread: Thread::default(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
        completed_at: None,
        version: 1,
        signed_pdf: None,
    };
    let write = |key: &str, new: bool, project: &str, version: u64| {
        let mut espa = espa.clone();
        espa.project = project.into();
        espa.version = version;
        let effects = Effects {
            filing: Some(Folder::Processed),
            espas: vec![EspaWrite { espa, new }],
            ..Effects::default()
        };
        store.commit(Origin::Message { key }, &effects, &[], &[], Utc::now())
    };
    assert!(View::espa(&store, "HDA-2026-000123").unwrap().is_none());
    write("m1", true, "Taman Seri Indah", 1).unwrap();
    assert_eq!(
        View::espa(&store, "HDA-2026-000123").unwrap(),
        Some(espa.clone())
    );
    // Registered again as new: a conflict, nothing written.
    assert!(matches!(
        write("m2", true, "Other", 1),
        Err(StoreError::Conflict(_))
    ));
    assert!(store.seen("m2").unwrap().is_none());
    // A correction replaces it, one version on.
    write("m3", false, "Fasa 2", 2).unwrap();
    let stored = Store::espa(&store, "HDA-2026-000123").unwrap().unwrap();
    assert_eq!(stored.project, "Fasa 2");
    // A write decided on version 1 after that (two racing): refused,
    // nothing written; decided again on version 2 it goes in.
    assert!(matches!(
        write("m4", false, "Fasa 3", 2),
        Err(StoreError::Conflict(_))
    ));
    assert!(store.seen("m4").unwrap().is_none());
    write("m4", false, "Fasa 3", 3).unwrap();
    let stored = Store::espa(&store, "HDA-2026-000123").unwrap().unwrap();
    assert_eq!((stored.project.as_str(), stored.version), ("Fasa 3", 3));
}

#[test]
fn an_open_store_holds_its_lock_and_a_closed_one_can_be_opened_again_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sijil.db");
    let store = Store::open(&db).unwrap();
    assert!(super::lock_is_held(&db.join("db")));
    drop(store);
    // Open waits for sled's flusher to let go of the lock, never fails on it.
    for _ in 0..5 {
        drop(Store::open(&db).unwrap());
    }
}
