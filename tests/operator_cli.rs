//! The operator commands as an operator runs them, on the store of a stopped
//! daemon that handled several packs: `sijil cases` into a pipe its reader
//! closes after one line (as `| head -1` does) ends quietly with exit 0, and
//! `sijil case REF` shows the case for people, in the operator's zone, or as
//! JSON for scripts.

mod support;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{DEVELOPER, DEVELOPER_COMPANY, Daemon, Pack, TestDir, VERIFIER, maildir_files};

/// Enough cases that `sijil cases` writes more than the pipe holds (shrunk
/// to one page below): it is still writing when the reader goes away.
const PACKS: usize = 80;
const PIPE_BYTES: libc::c_int = 4096;

#[test]
fn the_operator_commands_behave_like_unix_tools() {
    let dir = TestDir::new();
    let mut sijil = Daemon::maildir(dir.path());
    for i in 0..PACKS {
        sijil.deliver(
            "mail",
            &format!("{i:03}.pack"),
            &Pack::numbered(600_000, i).build(),
        );
    }
    sijil.ready_within = Duration::from_secs(60);
    let mut sijil = sijil.started();
    let processed = dir.path().join("mail/.Processed");
    sijil.until(
        "every pack filed and answered",
        Duration::from_secs(120),
        |sijil| {
            maildir_files(&processed).len() == PACKS
                && sijil.metric("sijil_outbox_queued") == Some(0)
        },
    );
    assert_eq!(
        sijil.metric("sijil_cases{state=\"received\"}"),
        Some(PACKS as u64),
        "/metrics counts the cases by state"
    );
    assert!(sijil.stop().success());

    // `sijil cases | head -1`: the first line read, the pipe closed.
    let (mut reader, writer) = std::io::pipe().expect("a pipe");
    // SAFETY: F_SETPIPE_SZ on a pipe this test owns; only its size changes.
    let size = unsafe { libc::fcntl(reader.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BYTES) };
    assert!(size >= PIPE_BYTES, "F_SETPIPE_SZ: {size}");
    let mut cases = Command::new(support::daemon::binary());
    cases
        .args(["cases", "--config"])
        .arg(sijil.config_path())
        .env_remove("SIJIL_CONFIG")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped());
    let mut child = cases.spawn().expect("run sijil cases");
    // Only the child holds the write end now: the reader sees its end.
    drop(cases);
    let mut first = Vec::new();
    let mut byte = [0u8];
    while first.last() != Some(&b'\n') {
        match reader.read(&mut byte).expect("read the first line") {
            0 => break,
            _ => first.push(byte[0]),
        }
    }
    drop(reader);
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut stderr).expect("read stderr");
    }
    let status = child.wait().expect("wait for sijil cases");
    assert!(
        String::from_utf8_lossy(&first).starts_with("CASE "),
        "the header line first: {first:?}"
    );
    assert_eq!(status.code(), Some(0), "exit status; stderr: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "a closed pipe is a quiet end: {stderr}"
    );

    // All of it, when the reader reads to the end.
    let out = sijil.command(&["cases"]);
    assert!(out.status.success(), "{out:?}");
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(listing.lines().count(), PACKS + 1, "{listing}");
    let reference = listing
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next());
    let reference = reference.expect("a case line").to_string();
    assert!(
        listing.lines().skip(1).all(|l| l.ends_with(" +08:00")),
        "updated in the operator's zone (the default, Asia/Kuala_Lumpur):\n{listing}"
    );

    // One case, for people.
    let out = sijil.command(&["case", &reference]);
    assert!(out.status.success(), "{out:?}");
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[0], format!("{reference}  received"), "{shown}");
    assert!(
        lines.contains(&format!("developer  {DEVELOPER_COMPANY}").as_str()),
        "{shown}"
    );
    assert!(lines.contains(&"signee     Ali (Pembeli)"), "{shown}");
    assert!(
        !shown.contains("900101-14-5673") && !shown.contains("900101145673"),
        "never the ID number:\n{shown}"
    );
    assert!(
        shown.contains("  MyKad depan.jpg  ") && shown.contains(" sha256 "),
        "documents with name, size and short SHA-256:\n{shown}"
    );
    let history: Vec<&str> = lines
        .iter()
        .skip_while(|l| **l != "history")
        .skip(1)
        .copied()
        .collect();
    assert!(history.iter().all(|l| l.contains(" +08:00  ")), "{shown}");
    for said in [
        format!("developer {DEVELOPER} "),
        "pack checked: complete".into(),
        "case opened as received".into(),
        format!("email ACK to {DEVELOPER} queued"),
        format!("email ACK to {DEVELOPER} sent"),
        "email EMEL 1 to signee".into(),
        format!("email STAFF-VERIFY to {VERIFIER}"),
    ] {
        assert!(
            history.iter().any(|l| l.contains(&said)),
            "{said:?} in:\n{shown}"
        );
    }

    // In another zone when the operator says so.
    sijil.edit_config(|cfg| {
        cfg.insert("general".into(), toml::toml! { timezone = "UTC" }.into());
    });
    let out = sijil.command(&["case", &reference]);
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{out:?}");
    assert!(
        shown.contains(" UTC  developer ") && !shown.contains("+08:00"),
        "{shown}"
    );

    // For scripts: one JSON object, the history as stored.
    let out = sijil.command(&["case", &reference, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["reference"], reference.as_str());
    assert_eq!(json["state"], "received");
    assert_eq!(json["signee"]["first_name"], "Ali");
    let events = json["history"].as_array().expect("the history");
    assert!(
        events
            .iter()
            .any(|e| e["what"]["event"] == "state_changed" && e["what"]["to"] == "received")
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("900101"));
}

#[test]
fn check_config_names_an_unknown_time_zone() {
    let dir = TestDir::new();
    let sijil = Daemon::maildir(dir.path());
    sijil.edit_config(|cfg| {
        cfg.insert(
            "general".into(),
            toml::toml! { timezone = "Asia/Kuala_Lumpr" }.into(),
        );
    });
    let out = sijil.command(&["check-config"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("general.timezone: \"Asia/Kuala_Lumpr\" is not a time zone")
            && said.contains("did you mean \"Asia/Kuala_Lumpur\""),
        "{said}"
    );
}
