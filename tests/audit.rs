//! `sijil audit verify REF` as an operator runs it, on the store of a
//! stopped daemon that handled one application pack from its Maildir: the
//! case's chain is intact; once one stored event is edited behind the
//! store's back, the command fails and names that event.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{Daemon, Pack, TestDir, maildir_files};

const WAIT: Duration = Duration::from_secs(60);

/// Rewrites event `seq` of `reference` in the stopped daemon's store, as
/// someone with the files could: its time becomes `at`. Returns the event's
/// kind as stored.
fn edit_event(store: &Path, reference: &str, seq: u64, at: &str) -> String {
    let db = sled::open(store).expect("open the store with sled");
    let history = db.open_tree("history").expect("the history tree");
    let mut prefix = reference.as_bytes().to_vec();
    prefix.push(0);
    let (key, mut record) = history
        .scan_prefix(prefix)
        .map(|kv| kv.expect("read the history"))
        .map(|(k, v)| {
            (
                k,
                serde_json::from_slice::<serde_json::Value>(&v).expect("JSON"),
            )
        })
        .find(|(_, record)| record["seq"] == seq)
        .unwrap_or_else(|| panic!("no event {seq} under {reference}"));
    let kind = record["what"]["event"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    record["at"] = at.into();
    history
        .insert(key, serde_json::to_vec(&record).expect("encode"))
        .expect("rewrite the event");
    db.flush().expect("flush the store");
    kind
}

#[test]
fn audit_verify_finds_the_chain_intact_then_names_an_edited_event() {
    let dir = TestDir::new();
    let sijil = Daemon::maildir(dir.path());
    sijil.deliver("mail", "1764000000.pack", &Pack::mykad_valid().build());
    let mut sijil = sijil.started();
    let processed = dir.path().join("mail/.Processed");
    sijil.until("the pack filed and its emails sent", WAIT, |sijil| {
        maildir_files(&processed).len() == 1 && sijil.metric("sijil_outbox_queued") == Some(0)
    });
    assert!(sijil.stop().success());

    let out = sijil.command(&["cases"]);
    assert!(out.status.success(), "{out:?}");
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let reference = listing
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("a case line")
        .to_string();

    let out = sijil.command(&["audit", "verify", &reference]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        said.starts_with(&format!("{reference}: "))
            && said.trim_end().ends_with("events, chain intact"),
        "{said}"
    );

    let kind = edit_event(&sijil.store_path(), &reference, 2, "2020-01-01T00:00:00Z");
    let out = sijil.command(&["audit", "verify", &reference]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{said}{stderr}");
    assert!(
        said.contains("chain BROKEN at event 2 (2020-01-01 08:00:00 +08:00, ")
            && said.contains(&kind.replace('_', " "))
            && said.contains("changed after it was written"),
        "names the event, its time (in the operator's zone) and kind:\n{said}"
    );
    assert!(stderr.contains("is broken"), "{stderr}");

    let out = sijil.command(&["audit", "verify", "SJL-1999-000001"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("nothing is recorded under SJL-1999-000001"),
        "{stderr}"
    );
}
