//! Retention (issue 16, SPEC §8), on a real store and real document
//! segments, with the clock as an input: packs are handled at chosen
//! moments through the core and the one apply path, cases end, and ticks
//! at later moments purge their ID copies — the bytes gone from every file
//! under the store, the history and hashes kept — and forget old message
//! records while a message delivered again inside the window is still
//! recognised. A purge interrupted by a kill of the real `sijil purge`
//! process resumes.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use sijil::apply::Applier;
use sijil::apply::Doorbell;
use sijil::config::Config;
use sijil::core::case::{CaseState, EventKind};
use sijil::core::{CaseWrite, Effects, Input, handle};
use sijil::edge::documents::Documents;
use sijil::edge::render::Renderer;
use sijil::edge::store::{Committed, Origin, Store};
use sijil::metrics::OutboxStats;
use sijil::pack_check::fields::Field;
use support::config::{Inbound, Outbound};
use support::{Pack, TestDir};

/// A store, its documents and an applier, as the daemon has them, on the
/// test configuration with `edit` applied.
struct World {
    cfg: Config,
    store: Store,
    documents: Documents,
    applier: Applier,
    config_path: std::path::PathBuf,
}

fn world(dir: &Path, edit: impl FnOnce(&mut toml::Table)) -> World {
    let mut table = support::config::config(
        Inbound::Maildir(dir.join("mail")),
        Outbound::Maildir(dir.join("outbox")),
        support::free_port(),
        &dir.join("store/sijil.db"),
    );
    edit(&mut table);
    let config_path = dir.join("sijil.toml");
    support::config::write_config(&config_path, &table);
    let cfg = Config::load(Some(&config_path)).expect("the test configuration is valid");
    std::fs::create_dir_all(dir.join("store")).unwrap();
    let store = Store::open(&cfg.store.path).unwrap();
    let documents = Documents::open(&cfg.store.documents).unwrap();
    let applier = applier(&store, &cfg);
    World {
        cfg,
        store,
        documents,
        applier,
        config_path,
    }
}

/// Sets `[store] key = days` in a test configuration.
fn store_key(cfg: &mut toml::Table, key: &str, days: i64) {
    if let Some(store) = cfg.get_mut("store").and_then(|s| s.as_table_mut()) {
        store.insert(key.to_string(), days.into());
    }
}

fn applier(store: &Store, cfg: &Config) -> Applier {
    Applier::new(
        store.clone(),
        Arc::new(Renderer::new().unwrap()),
        Arc::new(cfg.clone()),
        Arc::new(Doorbell::default()),
        Arc::new(OutboxStats::default()),
    )
}

impl World {
    /// Handles `raw` at `now` as the mailbox worker does (the documents the
    /// core keeps appended to the segments first); what the commit said.
    async fn message(&mut self, raw: &[u8], now: DateTime<Utc>) -> Committed {
        let msg = sijil::edge::inbound::parse(raw);
        let class = sijil::core::classify::Classifier::new(&self.cfg).classify(&msg, &self.cfg);
        let effects = handle(
            Input::Message {
                msg: &msg,
                class: &class,
            },
            &self.store,
            &self.cfg,
            now,
        )
        .unwrap();
        let mut stored = Vec::new();
        for &i in &effects.keep_attachments {
            let a = &msg.attachments[i];
            if self.store.document(&a.sha256).unwrap().is_none() {
                stored.push((a.sha256.clone(), self.documents.put(&a.bytes).unwrap()));
            }
        }
        for f in self.documents.unsynced() {
            f.sync_data().unwrap();
        }
        self.documents.synced();
        let origin = Origin::Message { key: &msg.key };
        let committed = self
            .applier
            .apply(origin, &msg.key, &effects, &stored, now)
            .unwrap();
        self.applier.durable(Vec::new()).await.unwrap();
        committed
    }

    /// The case opened by the last pack: ends in `state` at `at`, as a
    /// staff REJECT or a developer's WITHDRAW will.
    async fn end(&self, reference: &str, state: CaseState, at: DateTime<Utc>) {
        let mut case = self.store.case(reference).unwrap().expect("the case");
        case.state = state;
        case.updated_at = at;
        let effects = Effects {
            cases: vec![CaseWrite { case, new: None }],
            ..Effects::default()
        };
        self.applier
            .apply(Origin::Clock, "end", &effects, &[], at)
            .unwrap();
        self.applier.durable(Vec::new()).await.unwrap();
    }

    /// One tick of the daemon's clock at `now`, carried out to the end.
    async fn tick(&self, now: DateTime<Utc>) {
        let effects = handle(Input::Tick, &self.store, &self.cfg, now).unwrap();
        let seed = format!("tick:{now}");
        self.applier
            .apply(Origin::Clock, &seed, &effects, &[], now)
            .unwrap();
        self.applier.durable(Vec::new()).await.unwrap();
        self.applier.destroy_pending().await.unwrap();
    }

    fn reference_of(&self, signee: &str) -> String {
        self.store
            .cases()
            .map(Result::unwrap)
            .find(|c| {
                let written = c.fields.get(Field::Email).map(str::trim);
                c.application.as_ref().is_some_and(|a| a.email == signee) || written == Some(signee)
            })
            .map(|c| c.reference)
            .expect("a case for the signee")
    }
}

/// A valid pack whose MyKad scans and form carry `marker` in their bytes.
fn pack_with_marker(i: usize, marker: &str) -> Pack {
    let mut jpeg = support::packs::jpeg();
    let end = jpeg.len() - 2;
    jpeg.splice(end..end, format!("front {marker}").into_bytes());
    let mut back = support::packs::jpeg();
    let end = back.len() - 2;
    back.splice(end..end, format!("back {marker}").into_bytes());
    Pack::numbered(4000, i)
        .without_attachment("MyKad")
        .without_attachment("Borang")
        .attachment(
            "Borang Permohonan PDF Signing Certificate (AATL).pdf",
            support::packs::pdf(&format!("form {marker}")),
            "application/pdf",
        )
        .attachment("MyKad depan.jpg", jpeg, "image/jpeg")
        .attachment("MyKad belakang.jpg", back, "image/jpeg")
}

/// Whether any file under `dir` holds `needle`.
fn any_file_holds(dir: &Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                return true;
            }
        }
    }
    false
}

fn purge_events(store: &Store, reference: &str) -> Vec<EventKind> {
    store
        .history(reference)
        .unwrap()
        .into_iter()
        .map(|e| e.what)
        .filter(|w| matches!(w, EventKind::DocumentsPurged { .. }))
        .collect()
}

#[tokio::test]
async fn id_copies_are_destroyed_purge_after_days_after_the_case_ends_and_not_a_day_sooner() {
    let dir = TestDir::new();
    let store_dir = dir.path().join("store");
    let mut w = world(dir.path(), |cfg| {
        store_key(cfg, "purge_after_days", 30);
    });
    let start = Utc::now() - TimeDelta::days(120);
    w.message(&pack_with_marker(1, "MARKER-OLD-1d5e").build(), start)
        .await;
    w.message(&pack_with_marker(2, "MARKER-NEW-77aa").build(), start)
        .await;
    let (old, young) = (
        w.reference_of(&support::numbered_signee(1)),
        w.reference_of(&support::numbered_signee(2)),
    );
    let now = Utc::now();
    w.end(&old, CaseState::Rejected, now - TimeDelta::days(31))
        .await;
    w.end(&young, CaseState::Withdrawn, now - TimeDelta::days(29))
        .await;
    assert!(any_file_holds(&store_dir, b"MARKER-OLD-1d5e"));

    w.tick(now).await;

    assert!(
        !any_file_holds(&store_dir, b"MARKER-OLD-1d5e"),
        "no file under the store holds the purged documents' bytes"
    );
    let case = w.store.case(&old).unwrap().unwrap();
    let purged: Vec<_> = case
        .documents
        .iter()
        .filter(|d| d.purged_at.is_some())
        .collect();
    assert_eq!(purged.len(), 3, "form and both MyKad sides");
    let loa = case
        .documents
        .iter()
        .find(|d| d.purged_at.is_none())
        .expect("the LOA stays");
    assert!(loa.name.contains("Authorisation"), "{}", loa.name);
    assert!(w.store.document(&loa.sha256).unwrap().is_some());
    match purge_events(&w.store, &old).as_slice() {
        [EventKind::DocumentsPurged { documents }] => {
            for d in &purged {
                assert!(
                    documents
                        .iter()
                        .any(|p| p.name == d.name && p.size == d.size && p.sha256 == d.sha256),
                    "{} named with its size and hash",
                    d.name
                );
            }
        }
        other => panic!("one purge line: {other:?}"),
    }
    let history = w.store.history(&old).unwrap();
    assert!(
        history.len() > 4,
        "the rest of the history stays: {history:?}"
    );

    // Ended a day less than purge_after_days ago: everything kept.
    assert!(any_file_holds(&store_dir, b"MARKER-NEW-77aa"));
    assert!(purge_events(&w.store, &young).is_empty());
    // Nothing is purged twice.
    w.tick(now + TimeDelta::hours(1)).await;
    assert_eq!(purge_events(&w.store, &old).len(), 1);
    // Two days on, the second case's turn.
    w.tick(now + TimeDelta::days(2)).await;
    assert!(!any_file_holds(&store_dir, b"MARKER-NEW-77aa"));
    assert_eq!(purge_events(&w.store, &young).len(), 1);
}

#[tokio::test]
async fn an_incomplete_case_left_untouched_is_purged_once_abandoned_and_kept_long_enough() {
    let dir = TestDir::new();
    let store_dir = dir.path().join("store");
    let mut w = world(dir.path(), |cfg| {
        store_key(cfg, "purge_after_days", 10);
        store_key(cfg, "abandon_after_days", 20);
    });
    let start = Utc::now() - TimeDelta::days(40);
    let incomplete = pack_with_marker(3, "MARKER-INC-0b12").without_attachment("Letter");
    w.message(&incomplete.build(), start).await;
    let reference = w.reference_of(&support::numbered_signee(3));
    assert_eq!(
        w.store.case(&reference).unwrap().unwrap().state,
        CaseState::Incomplete
    );
    // 29 days untouched: abandoned 9 days ago, kept one more day.
    w.tick(start + TimeDelta::days(29)).await;
    assert!(any_file_holds(&store_dir, b"MARKER-INC-0b12"));
    w.tick(start + TimeDelta::days(31)).await;
    assert!(!any_file_holds(&store_dir, b"MARKER-INC-0b12"));
    assert_eq!(purge_events(&w.store, &reference).len(), 1);
}

#[tokio::test]
async fn a_scan_another_live_case_holds_keeps_its_bytes() {
    let dir = TestDir::new();
    let store_dir = dir.path().join("store");
    let mut w = world(dir.path(), |_| {});
    let start = Utc::now() - TimeDelta::days(200);
    w.message(&pack_with_marker(4, "MARKER-SHARED-99").build(), start)
        .await;
    let first = w.reference_of(&support::numbered_signee(4));
    w.end(&first, CaseState::Rejected, start).await;
    // The same signee applies again with the very same scans.
    let again = pack_with_marker(4, "MARKER-SHARED-99").field("Turutan / Signing Order", "3");
    w.message(&again.build(), start + TimeDelta::days(1)).await;
    w.tick(Utc::now()).await;
    assert_eq!(
        purge_events(&w.store, &first).len(),
        1,
        "purged on the case"
    );
    assert!(
        any_file_holds(&store_dir, b"MARKER-SHARED-99"),
        "the live case's copy of the same bytes stays"
    );
}

#[tokio::test]
async fn message_records_stop_growing_over_a_month_and_a_redelivery_inside_the_window_is_answered_once()
 {
    let dir = TestDir::new();
    let mut w = world(dir.path(), |cfg| {
        store_key(cfg, "remember_messages_days", 7);
    });
    let start = Utc::now() - TimeDelta::days(40);
    let mut sizes = Vec::new();
    let mut raws = Vec::new();
    for day in 0..30usize {
        let at = start + TimeDelta::days(day as i64);
        for n in 0..3 {
            let i = day * 3 + n;
            let raw = Pack::numbered(6000, i).build();
            assert!(matches!(w.message(&raw, at).await, Committed::Now { .. }));
            raws.push((i, raw));
        }
        // Cases end a few days after they open (withdrawn, rejected).
        if day >= 3 {
            for n in 0..3 {
                let reference = w.reference_of(&support::numbered_signee((day - 3) * 3 + n));
                w.end(&reference, CaseState::Withdrawn, at).await;
            }
        }
        w.tick(at + TimeDelta::hours(23)).await;
        let (seen, sent) = w.store.remembered();
        sizes.push((seen, sent, w.store.reply_counters()));
    }
    let (last_seen, last_sent, last_counters) = sizes[29];
    let (mid_seen, mid_sent, _) = sizes[14];
    assert!(
        last_seen <= mid_seen && last_sent <= mid_sent + 3 * 3,
        "the records stop growing: {sizes:?}"
    );
    assert!(
        last_seen <= 3 * 8,
        "at most the window's messages: {sizes:?}"
    );
    assert_eq!(last_counters, 0, "past hours' counters are forgotten");
    // A message of five days ago, delivered again: recognised, only filed.
    let (_, recent) = &raws[25 * 3];
    let at = start + TimeDelta::days(30);
    assert!(
        matches!(w.message(recent, at).await, Committed::Already(_)),
        "inside the window a redelivery takes no effect"
    );
    let reference = w.reference_of(&support::numbered_signee(25 * 3));
    let acks = w
        .store
        .history(&reference)
        .unwrap()
        .iter()
        .filter(|e| matches!(&e.what, EventKind::EmailQueued { template, .. } if template == "ack"))
        .count();
    assert_eq!(acks, 1, "answered once");
}

#[tokio::test]
async fn a_purge_killed_between_its_record_and_the_destruction_resumes() {
    let dir = TestDir::new();
    let store_dir = dir.path().join("store");
    let mut w = world(dir.path(), |_| {});
    let long_ago = Utc::now() - TimeDelta::days(400);
    w.message(&pack_with_marker(5, "MARKER-KILL-4c4c").build(), long_ago)
        .await;
    let reference = w.reference_of(&support::numbered_signee(5));
    w.end(&reference, CaseState::Rejected, long_ago).await;
    let config = w.config_path.clone();
    drop(w);

    let sijil = support::daemon::binary();
    let listed = std::process::Command::new(&sijil)
        .args(["purge", "--dry-run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains(&reference) && text.contains("MyKad depan.jpg"),
        "{text}"
    );
    assert!(
        any_file_holds(&store_dir, b"MARKER-KILL-4c4c"),
        "a dry run changes nothing"
    );

    let killed = std::process::Command::new(&sijil)
        .args(["purge", "--config"])
        .arg(&config)
        .env("SIJIL_FAILPOINTS", "purge_recorded=1")
        .output()
        .unwrap();
    assert_eq!(killed.status.signal(), Some(9), "{killed:?}");
    let store = Store::open(&store_dir.join("sijil.db")).unwrap();
    assert_eq!(
        purge_events(&store, &reference).len(),
        1,
        "the purge is recorded"
    );
    assert!(
        any_file_holds(&store_dir, b"MARKER-KILL-4c4c"),
        "killed before the bytes were destroyed"
    );
    drop(store);

    let resumed = std::process::Command::new(&sijil)
        .args(["purge", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{resumed:?}");
    assert!(!any_file_holds(&store_dir, b"MARKER-KILL-4c4c"));
    let store = Store::open(&store_dir.join("sijil.db")).unwrap();
    assert_eq!(
        purge_events(&store, &reference).len(),
        1,
        "resumed, not purged twice"
    );
    assert!(store.pending_purges().unwrap().is_empty());
}
