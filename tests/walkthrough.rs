//! The README's walkthrough, step by step, on the embedded default: each
//! step's file from `examples/` dropped into `var/mail/new/` as the README
//! says, and each email the README promises found in `var/outbox`.
//!
//! The README and this test name the same files: a step the README no
//! longer shows fails here, so the two cannot drift apart unnoticed.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use support::{Daemon, TestDir, first_to, maildir_files as files, subject};

const WAIT: Duration = Duration::from_secs(20);

/// The reference `examples/reply-with-loa.eml` carries; the walkthrough
/// replaces it with the one the INCOMPLETE email names.
const EXAMPLE_REFERENCE: &str = "SJL-2026-000002";

fn repository(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn example(name: &str) -> Vec<u8> {
    let path = repository("examples").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (recipient, subject) of every email in the outbox.
fn sent(sijil: &Daemon) -> BTreeSet<(String, String)> {
    support::maildir_messages(&sijil.path("var/outbox"))
        .iter()
        .map(|raw| (first_to(raw), subject(raw)))
        .collect()
}

/// Waits for `count` more emails than `before`, and returns the new ones.
fn new_emails(
    sijil: &mut Daemon,
    before: &BTreeSet<(String, String)>,
    count: usize,
    what: &str,
) -> Vec<(String, String)> {
    let outbox = sijil.path("var/outbox");
    let want = before.len() + count;
    sijil.until(what, WAIT, |_| files(&outbox).len() >= want);
    let now = sent(sijil);
    assert_eq!(now.len(), want, "{what}: exactly {count} new emails");
    now.difference(before).cloned().collect()
}

/// The one new email to `to`, whose subject contains every one of `words`.
fn find<'a>(emails: &'a [(String, String)], to: &str, words: &[&str]) -> &'a str {
    let found: Vec<&(String, String)> = emails
        .iter()
        .filter(|(rcpt, subject)| rcpt == to && words.iter().all(|w| subject.contains(w)))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one email to {to} with {words:?} in its subject, among {emails:?}"
    );
    &found[0].1
}

/// `scripts/reply ADDRESS LINE`, run where the README runs it (the
/// daemon's working directory), as the README's steps 4 and 5 do.
fn reply_as(sijil: &Daemon, address: &str, line: &str) {
    let out = std::process::Command::new(repository("scripts/reply"))
        .args([address, line])
        .current_dir(sijil.path("."))
        .output()
        .expect("run scripts/reply (python3)");
    assert!(
        out.status.success(),
        "scripts/reply {address} {line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The decoded text of the newest email in the outbox to `to`.
fn newest_text(sijil: &Daemon, to: &str) -> String {
    let mut found: Vec<(std::time::SystemTime, Vec<u8>)> = files(&sijil.path("var/outbox"))
        .into_iter()
        .filter_map(|f| {
            let at = std::fs::metadata(&f).and_then(|m| m.modified()).ok()?;
            Some((at, std::fs::read(&f).ok()?))
        })
        .filter(|(_, raw)| first_to(raw) == to)
        .collect();
    found.sort_by_key(|(at, _)| *at);
    let (_, raw) = found.pop().unwrap_or_else(|| panic!("no email to {to}"));
    support::parse(&raw)
        .body_text(0)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let readme = std::fs::read_to_string(repository("README.md")).expect("README.md");
    for file in [
        "pack-mykad.eml",
        "pack-without-loa.eml",
        "reply-with-loa.eml",
        "espa-registration.eml",
    ] {
        assert!(
            readme.contains(&format!("examples/{file}")),
            "the README's walkthrough names examples/{file}"
        );
    }
    for step in [
        "scripts/reply aina@ra.example.my VERIFIED",
        "scripts/reply badrul@ra.example.my APPROVED",
        "scripts/reply chong@ra.example.my QC-PASS",
        "scripts/reply pemaju@example.my \"EKYC-OK 1\"",
    ] {
        assert!(
            readme.contains(step),
            "the README's walkthrough says `{step}`"
        );
    }
    assert!(
        readme.contains(EXAMPLE_REFERENCE),
        "the README says which reference the example reply carries"
    );

    let dir = TestDir::new();
    let mut sijil = Daemon::embedded(dir.path()).owning(dir);
    sijil.ready_within = WAIT;
    let mut sijil = sijil.started();

    // Step 1: a complete pack.
    let before = sent(&sijil);
    sijil.deliver("var/mail", "pack-mykad.eml", &example("pack-mykad.eml"));
    let step = new_emails(&mut sijil, &before, 3, "step 1: ACK, EMEL 1, STAFF-VERIFY");
    let ack = find(&step, "pemaju@example.my", &["Application received"]);
    assert!(ack.contains("Ali bin Abu"), "{ack}");
    find(&step, "ali@buyer.example.com", &[]);
    find(&step, "aina@ra.example.my", &["Ali bin Abu"]);

    // Step 2: a pack without its LOA.
    let before = sent(&sijil);
    sijil.deliver(
        "var/mail",
        "pack-without-loa.eml",
        &example("pack-without-loa.eml"),
    );
    let step = new_emails(&mut sijil, &before, 1, "step 2: INCOMPLETE");
    let incomplete = find(&step, "pemaju@example.my", &["Application incomplete"]).to_string();
    let reference = incomplete
        .split(['[', ']'])
        .nth(1)
        .expect("the INCOMPLETE subject names the case in brackets")
        .to_string();
    assert!(
        reference.starts_with("SJL-") && reference.ends_with("-000002"),
        "{incomplete}"
    );

    // Step 3: the developer's reply with the LOA completes the case, with
    // the reference the INCOMPLETE email gave (the README's `sed`).
    let reply = String::from_utf8(example("reply-with-loa.eml"))
        .expect("the example reply is UTF-8")
        .replace(EXAMPLE_REFERENCE, &reference);
    let before = sent(&sijil);
    sijil.deliver("var/mail", "reply-with-loa.eml", reply.as_bytes());
    let step = new_emails(&mut sijil, &before, 3, "step 3: ACK, EMEL 1, STAFF-VERIFY");
    find(
        &step,
        "pemaju@example.my",
        &[&reference, "Application received"],
    );
    find(&step, "siti@buyer.example.com", &[]);
    find(&step, "aina@ra.example.my", &[&reference]);

    // Step 4: the verifier answers her STAFF-VERIFY: the call went well.
    let before = sent(&sijil);
    reply_as(&sijil, "aina@ra.example.my", "VERIFIED");
    let step = new_emails(&mut sijil, &before, 2, "step 4: the ACK and STAFF-GENERATE");
    find(&step, "aina@ra.example.my", &[&reference]);
    find(&step, "badrul@ra.example.my", &[&reference]);

    // Step 5: the officer approves: the signee gets EMEL 2, the PIN link.
    let before = sent(&sijil);
    reply_as(&sijil, "badrul@ra.example.my", "APPROVED");
    let step = new_emails(&mut sijil, &before, 2, "step 5: the ACK and EMEL 2");
    find(&step, "badrul@ra.example.my", &[&reference]);
    find(&step, "siti@buyer.example.com", &[&reference]);

    // Step 6: Siti opens the link in EMEL 2 and sets her PIN.
    let emel2 = support::maildir_messages(&sijil.path("var/outbox"))
        .into_iter()
        .filter(|raw| first_to(raw) == "siti@buyer.example.com")
        .map(|raw| {
            support::parse(&raw)
                .body_text(0)
                .unwrap_or_default()
                .to_string()
        })
        .find(|text| text.contains("/pin/"))
        .expect("EMEL 2 with its link");
    let link = support::web::pin_link(&emel2);
    assert!(link.starts_with("http://127.0.0.1:8080/pin/"), "{link}");
    let page = support::web::get(&link);
    assert_eq!(page.status, 200);
    let form_token = support::web::hidden(&page.body, "form_token");
    let before = sent(&sijil);
    let done = support::web::post_form(
        &link,
        &[
            ("form_token", &form_token),
            ("pin", "482915"),
            ("pin2", "482915"),
        ],
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let step = new_emails(&mut sijil, &before, 1, "step 6: STAFF-QC");
    find(&step, "chong@ra.example.my", &[&reference]);

    // Step 7: QC passes: EMEL 3, the certificate is ready.
    let before = sent(&sijil);
    reply_as(&sijil, "chong@ra.example.my", "QC-PASS");
    let step = new_emails(&mut sijil, &before, 2, "step 7: the ACK and EMEL 3");
    find(&step, "chong@ra.example.my", &[&reference]);
    find(&step, "siti@buyer.example.com", &[&reference, "Roaming"]);

    // Step 8: the eSPA registered; the two packs before it are linked.
    let before = sent(&sijil);
    sijil.deliver(
        "var/mail",
        "espa-registration.eml",
        &example("espa-registration.eml"),
    );
    let step = new_emails(&mut sijil, &before, 2, "step 8: the eSPA ACK and EMEL 0");
    find(
        &step,
        "pemaju@example.my",
        &["[eSPA HDA-2026-000123]", "registered"],
    );
    find(&step, "lim@developer.example.my", &["iDsaya"]);
    let espa_ack = newest_text(&sijil, "pemaju@example.my");
    assert!(
        espa_ack.contains("SJL-2026-000001") && espa_ack.contains(&reference),
        "both cases linked:\n{espa_ack}"
    );

    // Step 9: EKYC-OK 1 in reply to it: Lim's turn, EMEL 4.
    let before = sent(&sijil);
    reply_as(&sijil, "pemaju@example.my", "EKYC-OK 1");
    let step = new_emails(&mut sijil, &before, 2, "step 9: the ACK and EMEL 4");
    find(&step, "pemaju@example.my", &["EKYC-OK 1"]);
    find(&step, "lim@developer.example.my", &["EMEL 4"]);

    // Step 10: Lim signs on the page with the code from the CODE email.
    let link = newest_text(&sijil, "lim@developer.example.my")
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:8080/sign/"))
        .expect("EMEL 4's link")
        .to_string();
    let page = support::web::get(&link);
    assert_eq!(page.status, 200, "{}", page.body);
    let form_token = support::web::hidden(&page.body, "form_token");
    let before = sent(&sijil);
    let asked = support::web::post_form(&format!("{link}/code"), &[("form_token", &form_token)]);
    assert_eq!(asked.status, 200, "{}", asked.body);
    new_emails(&mut sijil, &before, 1, "step 10: CODE");
    let code = newest_text(&sijil, "lim@developer.example.my")
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .expect("the code on a line of its own")
        .to_string();
    let before = sent(&sijil);
    let signed = support::web::post_form(&link, &[("form_token", &form_token), ("code", &code)]);
    assert_eq!(signed.status, 200, "{}", signed.body);
    let step = new_emails(
        &mut sijil,
        &before,
        2,
        "step 10: SIGNED and the progress note",
    );
    find(
        &step,
        "lim@developer.example.my",
        &["signature is recorded"],
    );
    find(&step, "pemaju@example.my", &["has signed"]);

    sijil.until("all eight messages filed in .Processed", WAIT, |s| {
        files(&s.path("var/mail/.Processed")).len() == 8
    });
    assert!(
        files(&sijil.path("var/mail")).is_empty(),
        "the inbox is empty"
    );
    assert!(sijil.stop().success());
}
