//! The courier against a real store and a Maildir transport: attempt
//! counting, giving up, the order of rounds.

use super::*;
use crate::config::Config;
use crate::core::Folder;
use crate::core::email::Template;
use crate::edge::render::{Outgoing, RenderedEmail, Renderer};
use crate::edge::store::{Committed, Store};

const CASE: &str = "SJL-2026-000001";

/// Queues one email for `CASE` the way the worker does; its id.
async fn queue(store: &Store, key: &str) -> u64 {
    let effects = Effects::only_filing(Folder::Processed, "test");
    let email = Outgoing {
        case_ref: Some(CASE.into()),
        template: Template::Ack,
        rendered: RenderedEmail {
            message_id: format!("{key}@ra.example.my"),
            envelope_from: "ra@ra.example.my".into(),
            envelope_to: vec!["submit@seriindah.my".into()],
            subject: "s".into(),
            bytes: b"Subject: s\r\n\r\nbody\r\n".to_vec(),
        },
    };
    match store.commit(Origin::Message { key }, &effects, &[], &[email], Utc::now()) {
        Ok(Committed::Now { queued, .. }) if queued.len() == 1 => queued[0],
        other => panic!("not queued: {other:?}"),
    }
}

fn courier(store: &Store, maildir: std::path::PathBuf, doorbell: Arc<Doorbell>) -> Courier {
    let stats = Arc::new(OutboxStats::default());
    let applier = Applier::new(
        store.clone(),
        Arc::new(Renderer::new().unwrap()),
        Arc::new(Config::embedded_default()),
        doorbell.clone(),
        stats.clone(),
    );
    Courier::new(applier, Transport::Maildir(maildir), doorbell, stats)
}

fn entry(id: u64, attempts: u32, settled: u32) -> OutboxEntry {
    OutboxEntry {
        id,
        case_ref: None,
        template: Template::Ack,
        message_id: format!("{id}@x"),
        envelope_from: String::new(),
        envelope_to: Vec::new(),
        subject: String::new(),
        attempts,
        settled,
        next_attempt: Utc::now(),
        created_at: Utc::now(),
        last_error: None,
    }
}

#[test]
fn emails_cut_short_are_tried_alone_then_given_up() {
    let mut due: Vec<_> = (0..70).map(|id| entry(id, 1, 0)).collect();
    due.push(entry(100, 2, 0));
    due.push(entry(101, 9, 2));
    due.push(entry(102, 8, 0));
    // Retried after 4xx answers: every attempt settled.
    due.push(entry(103, 9, 9));
    let Plan { give_up, rounds } = plan(due);
    let ids = |v: &[OutboxEntry]| v.iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(&give_up), [102]);
    let rounds: Vec<_> = rounds.iter().map(|r| ids(r)).collect();
    assert_eq!(rounds.len(), 4);
    assert_eq!(rounds[0], (0..64).collect::<Vec<_>>());
    assert_eq!(rounds[1], [64, 65, 66, 67, 68, 69, 103]);
    assert_eq!(rounds[2], [100]);
    assert_eq!(rounds[3], [101]);
}

#[tokio::test]
async fn an_announced_email_is_not_counted_again_and_one_found_in_the_store_is() {
    let store = Store::temporary().unwrap();
    let announced = queue(&store, "mid:a").await;
    let found = queue(&store, "mid:b").await;
    let doorbell = Arc::new(Doorbell::default());
    doorbell.announce([announced]);
    // A Maildir whose root is a file: every delivery fails, transiently.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a-file");
    std::fs::write(&root, "").unwrap();
    let mut courier = courier(&store, root, doorbell);
    courier.send_due(&CancellationToken::new()).await.unwrap();
    let counts: std::collections::HashMap<u64, (u32, u32)> = store
        .outbox()
        .map(|e| e.map(|e| (e.id, (e.attempts, e.settled))))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(counts[&announced], (1, 1), "counted by its commit only");
    assert_eq!(counts[&found], (2, 2), "counted again before its try");
}

#[tokio::test]
async fn an_email_cut_short_eight_times_is_given_up_and_recorded_on_its_case() {
    let store = Store::temporary().unwrap();
    let id = queue(&store, "mid:a").await;
    let mut e = store.outbox().next().unwrap().unwrap();
    assert_eq!(e.id, id);
    (e.attempts, e.settled) = (8, 0);
    store.update_outbox_all(&[e]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("out");
    let mut courier = courier(&store, maildir.clone(), Arc::new(Doorbell::default()));
    courier.send_due(&CancellationToken::new()).await.unwrap();
    assert_eq!(store.outbox().count(), 0);
    assert!(!maildir.join("new").exists(), "it was not tried again");
    match &store.history(CASE).unwrap().last().map(|e| &e.what) {
        Some(EventKind::EmailFailed { error, .. }) => {
            assert!(error.contains("cut short 8 times"), "{error}")
        }
        other => panic!("not recorded as failed: {other:?}"),
    }
}

#[test]
fn backoff_doubles_and_is_capped() {
    assert_eq!(backoff(1), Duration::from_secs(2));
    assert_eq!(backoff(2), Duration::from_secs(4));
    assert_eq!(backoff(5), Duration::from_secs(32));
    assert_eq!(backoff(9), MAX_BACKOFF);
    assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
}
