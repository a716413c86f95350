//! The audit trail on a real sled store in a temporary directory: a chain
//! of commits verifies, and each way of tampering with it is named.

use super::*;
use crate::core::Effects;
use crate::core::case::{Actor, Event, EventKind};

const CASE: &str = "SJL-2026-000001";

fn opened() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("sijil.db")).unwrap();
    (dir, store)
}

fn note(n: u32) -> Event {
    Event {
        at: Utc::now(),
        actor: Actor::Staff("aina@ra.example.my".into()),
        what: EventKind::CommandAccepted {
            command: "NOTE".into(),
            argument: Some(format!("note {n}")),
        },
    }
}

/// One commit (from the clock) adding `n` notes to `reference`'s history.
fn add(store: &Store, reference: &str, n: u32) {
    let effects = Effects {
        events: (0..n).map(|i| (reference.to_string(), note(i))).collect(),
        ..Effects::default()
    };
    store
        .commit(Origin::Clock, &effects, &[], &[], Utc::now())
        .unwrap();
}

/// A store holding `n` events for [`CASE`], one commit each.
fn chain_of(n: u32) -> (tempfile::TempDir, Store) {
    let (dir, store) = opened();
    for _ in 0..n {
        add(&store, CASE, 1);
    }
    (dir, store)
}

/// The history key of `reference`'s event `seq`.
fn key_of(store: &Store, reference: &str, seq: u64) -> sled::IVec {
    let mut prefix = reference.as_bytes().to_vec();
    prefix.push(0);
    store
        .history
        .scan_prefix(prefix)
        .map(Result::unwrap)
        .find(|(_, v)| serde_json::from_slice::<serde_json::Value>(v).unwrap()["seq"] == seq)
        .map(|(k, _)| k)
        .unwrap_or_else(|| panic!("no event {seq}"))
}

fn problem(store: &Store) -> Break {
    let report = store.audit(CASE).unwrap().expect("a chain");
    report.problem.expect("a broken chain")
}

#[test]
fn a_chain_of_commits_verifies_and_reads_in_order() {
    let (_dir, store) = chain_of(4);
    add(&store, CASE, 3);
    let report = store.audit(CASE).unwrap().expect("a chain");
    assert_eq!((report.checked, report.problem), (7, None));
    let trail = store.trail(CASE).unwrap().expect("a chain").events;
    let seqs: Vec<u64> = trail.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(trail[0].prev, GENESIS);
    for pair in trail.windows(2) {
        assert_eq!(pair[1].prev, pair[0].hash, "each links to the one before");
    }
    let history = store.history(CASE).unwrap();
    assert_eq!(
        history,
        trail.into_iter().map(|e| e.event).collect::<Vec<_>>()
    );
    assert_eq!(store.audit("SJL-2026-000099").unwrap(), None, "unknown");
}

#[test]
fn an_edited_event_is_named_by_its_place() {
    let (_dir, store) = chain_of(5);
    let key = key_of(&store, CASE, 3);
    let stored = store.history.get(&key).unwrap().unwrap();
    let mut record: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    let edited_at = "2020-01-01T00:00:00Z";
    record["at"] = edited_at.into();
    store
        .history
        .insert(&key, serde_json::to_vec(&record).unwrap())
        .unwrap();
    let broken = problem(&store);
    assert_eq!(
        (broken.seq, broken.flaw),
        (Some(3), Flaw::Edited),
        "{broken:?}"
    );
    assert_eq!(
        broken.at,
        Some(edited_at.parse().unwrap()),
        "its time as stored"
    );
    assert_eq!(broken.kind.as_deref(), Some("command_accepted"));
}

#[test]
fn an_edited_last_event_is_caught_by_the_head() {
    let (_dir, store) = chain_of(3);
    let key = key_of(&store, CASE, 3);
    let stored = store.history.get(&key).unwrap().unwrap();
    let text = String::from_utf8(stored.to_vec()).unwrap();
    let edited = text.replace("note 0", "note X");
    assert_ne!(edited, text);
    store.history.insert(&key, edited.as_bytes()).unwrap();
    let broken = problem(&store);
    assert_eq!(
        (broken.seq, broken.flaw),
        (Some(3), Flaw::Edited),
        "{broken:?}"
    );
}

#[test]
fn a_changed_link_names_its_own_record() {
    let (_dir, store) = chain_of(4);
    let key = key_of(&store, CASE, 2);
    let stored = store.history.get(&key).unwrap().unwrap();
    let mut record: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    record["prev"] = GENESIS.into();
    store
        .history
        .insert(&key, serde_json::to_vec(&record).unwrap())
        .unwrap();
    let broken = problem(&store);
    assert_eq!(
        (broken.seq, broken.flaw),
        (Some(2), Flaw::Edited),
        "{broken:?}"
    );
}

#[test]
fn a_removed_middle_event_is_named() {
    let (_dir, store) = chain_of(5);
    store.history.remove(key_of(&store, CASE, 3)).unwrap();
    let broken = problem(&store);
    assert_eq!(
        (broken.seq, broken.flaw),
        (Some(3), Flaw::Removed),
        "{broken:?}"
    );
    assert!(
        broken.why.contains("from event 2 to event 4"),
        "{}",
        broken.why
    );
    assert_eq!(store.audit(CASE).unwrap().unwrap().checked, 4);
}

#[test]
fn a_removed_last_event_is_caught_by_the_head() {
    let (_dir, store) = chain_of(5);
    store.history.remove(key_of(&store, CASE, 5)).unwrap();
    let broken = problem(&store);
    assert_eq!(
        (broken.seq, broken.flaw),
        (Some(5), Flaw::Removed),
        "{broken:?}"
    );
    assert!(
        broken.why.contains("head records 5 events"),
        "{}",
        broken.why
    );
}

#[test]
fn a_record_that_is_not_json_is_named() {
    let (_dir, store) = chain_of(3);
    store
        .history
        .insert(key_of(&store, CASE, 2), &b"{\"seq\":2,"[..])
        .unwrap();
    let broken = problem(&store);
    assert_eq!(
        (broken.seq, broken.flaw),
        (None, Flaw::Unreadable),
        "{broken:?}"
    );
    assert!(
        broken.why.contains("stored after event 1"),
        "{}",
        broken.why
    );
}

#[test]
fn concurrent_commits_to_one_reference_never_fork_the_chain() {
    let (_dir, store) = opened();
    const EACH: u32 = 25;
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                for _ in 0..EACH {
                    add(&store, CASE, 2);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let report = store.audit(CASE).unwrap().expect("a chain");
    assert_eq!(
        (report.checked, report.problem),
        (u64::from(4 * EACH), None)
    );
    let trail = store.trail(CASE).unwrap().unwrap().events;
    let seqs: Vec<u64> = trail.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=u64::from(4 * EACH)).collect::<Vec<_>>());
}

#[test]
fn an_old_store_is_chained_on_open_in_the_order_it_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sijil.db");
    let (before, espa) = {
        let store = Store::open(&db).unwrap();
        // As version 2 wrote them: plain events, no head, keys in order.
        let espa = crate::core::espa::thread_ref("HDA-2026-000123");
        for (i, reference) in [CASE, espa.as_str(), CASE, CASE, espa.as_str()]
            .into_iter()
            .enumerate()
        {
            let event = serde_json::to_vec(&note(i as u32)).unwrap();
            let id = store.db.generate_id().unwrap();
            store
                .history
                .insert(history_key(reference, id), event)
                .unwrap();
        }
        store.chain_heads.clear().unwrap();
        store
            .meta
            .insert("schema", &2u64.to_be_bytes()[..])
            .unwrap();
        store.db.flush().unwrap();
        (store.history(CASE).unwrap(), espa)
    };
    let store = Store::open(&db).unwrap();
    assert_eq!(store.schema().unwrap(), SCHEMA);
    assert_eq!(store.history(CASE).unwrap(), before, "the same order");
    let report = store.audit(CASE).unwrap().expect("a chain");
    assert_eq!((report.checked, report.problem), (3, None));
    let report = store.audit(&espa).unwrap().expect("a chain");
    assert_eq!((report.checked, report.problem), (2, None));
    // New events continue the migrated chain.
    add(&store, CASE, 1);
    let report = store.audit(CASE).unwrap().expect("a chain");
    assert_eq!((report.checked, report.problem), (4, None));
}

#[test]
fn the_landed_first_slice_store_is_chained_too() {
    let dir = super::tests::landed_store();
    let store = Store::open(&dir.path().join("sijil.db")).unwrap();
    for reference in ["SJL-2026-000001", "SJL-2026-000002"] {
        let report = store.audit(reference).unwrap().expect("a chain");
        assert_eq!(report.problem, None, "{reference}");
        assert_eq!(
            report.checked,
            store.history(reference).unwrap().len() as u64,
            "{reference}"
        );
    }
}
