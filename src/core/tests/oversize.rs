//! Messages over the size limit, read from their header alone (SPEC §8):
//! a registered developer is told, everyone else is quarantined; and
//! attachments past the most that are read.

use super::*;
use crate::edge::inbound::parse_header;

/// Three times the limit.
fn huge() -> u64 {
    3 * cfg().limits.message_max_bytes
}

fn header(from: &str, subject: &str, id: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: kpkt.retail@ra.example.my\r\nSubject: {subject}\r\n\
         Message-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
    )
    .into_bytes()
}

fn problems(d: &Effects) -> Vec<(String, String, String)> {
    d.emails
        .iter()
        .flat_map(|e| {
            e.context["problems"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|p| {
            let text = |k: &str| p[k].as_str().unwrap_or_default().to_string();
            (text("code"), text("ms"), text("en"))
        })
        .collect()
}

#[test]
fn a_developers_pack_too_large_to_read_opens_an_incomplete_case_naming_the_limit() {
    let mem = MemView::default();
    let msg = parse_header(
        &header(DEV, "Permohonan Sijil Digital - Ali", "big@dev"),
        huge(),
    );
    let d = decide(&msg, &mem);
    assert_eq!(d.filing, Some(Folder::Processed));
    let case = d.written_case().expect("a case");
    assert_eq!(case.state, CaseState::Incomplete);
    assert!(case.documents.is_empty() && d.keep_attachments.is_empty());
    assert_eq!(
        templates(&d),
        vec![(Template::Incomplete, vec![DEV.to_string()])]
    );
    // Only the size: nothing was read, so nothing is called missing.
    let [(code, ms, en)] = problems(&d).try_into().expect("one problem");
    assert_eq!(code, "MESSAGE_TOO_LARGE");
    assert!(
        en.contains("25 MiB") && ms.contains("25 MiB"),
        "{en} / {ms}"
    );
    assert_eq!(d.emails[0].thread.in_reply_to.as_deref(), Some("big@dev"));
}

#[test]
fn a_developers_reply_too_large_to_read_keeps_the_case_incomplete() {
    let mut mem = MemView::default();
    let mut docs = documents();
    docs.pop();
    let raw = message(DEV, "Permohonan", "p@dev", &body(&fields()), &docs);
    let d = decide_raw(&raw, &mem);
    mem.apply(&d, &[], now());
    let reference = d.written_case().expect("a case").reference.clone();

    let reply = parse_header(&header(DEV, &format!("Re: [{reference}]"), "r@dev"), huge());
    let d = decide(&reply, &mem);
    assert_eq!(d.filing, Some(Folder::Processed));
    let case = d.written_case().expect("the case");
    assert_eq!(case.state, CaseState::Incomplete);
    assert_eq!(case.documents.len(), 3, "what it held is kept");
    let mut codes = codes(&d);
    codes.sort();
    assert_eq!(codes, ["LOA_MISSING", "MESSAGE_TOO_LARGE"]);
}

#[test]
fn anyone_else_too_large_to_read_is_quarantined_unanswered() {
    let mut mem = MemView::default();
    let raw = message(DEV, "Permohonan", "p@dev", &body(&fields()), &[]);
    let d = decide_raw(&raw, &mem);
    mem.apply(&d, &[], now());
    let reference = d.written_case().expect("a case").reference.clone();
    let on_case = format!("Re: [{reference}]");
    let staff = "aina@ra.example.my";
    let cases = [
        (
            "stranger@gmail.com",
            "Permohonan Sijil Digital",
            "unknown sender",
        ),
        (staff, "Permohonan Sijil Digital", "a staff pack"),
        (staff, on_case.as_str(), "a staff command"),
        (SIGNEE, on_case.as_str(), "the signee on the case"),
        ("MAILER-DAEMON@mx.my", "Undelivered", "a bounce"),
    ];
    for (from, subject, what) in cases {
        let msg = parse_header(&header(from, subject, "x@y"), huge());
        let d = decide(&msg, &mem);
        assert_eq!(d.filing, Some(Folder::Quarantine), "{what}");
        assert!(d.emails.is_empty() && d.cases.is_empty(), "{what}: {d:?}");
        assert!(d.keep_attachments.is_empty(), "{what}");
    }
    let msg = parse_header(&header(staff, &on_case, "x@y"), huge());
    assert_eq!(decide(&msg, &mem).reason, "message over the size limit");
    // A registered developer's registration is answered, as a pack is: it
    // changes nothing, and they can send it again smaller.
    let msg = parse_header(&header(DEV, "Daftar eSPA HDA-2026-000123", "x@y"), huge());
    let d = decide(&msg, &mem);
    assert_eq!(d.filing, Some(Folder::Rejected));
    assert!(d.espas.is_empty() && d.keep_attachments.is_empty());
    assert_eq!(d.emails.len(), 1);
    assert_eq!(
        d.emails[0].context["problems"][0]["code"],
        "MESSAGE_TOO_LARGE"
    );
}

#[test]
fn attachments_past_the_most_read_are_named_to_the_developer() {
    let mem = MemView::default();
    let mut docs = documents();
    for i in 0..crate::pack_check::MAX_ATTACHMENTS {
        docs.push(if i % 2 == 0 {
            ("Surat tambahan.pdf", pdf(&format!("extra {i}")))
        } else {
            ("Lampiran.pdf", pdf(&format!("more {i}")))
        });
    }
    let raw = message(DEV, "Permohonan", "many@dev", &body(&fields()), &docs);
    let d = decide_raw(&raw, &mem);
    assert_eq!(d.filing, Some(Folder::Processed));
    assert_eq!(
        d.written_case().map(|c| c.state),
        Some(CaseState::Incomplete)
    );
    let named: Vec<(String, String, String)> = problems(&d)
        .into_iter()
        .filter(|(code, _, _)| code == "TOO_MANY_ATTACHMENTS")
        .collect();
    let [(_, ms, en)] = named.as_slice() else {
        panic!("TOO_MANY_ATTACHMENTS once: {:?}", codes(&d));
    };
    assert!(en.contains("more than 50 attachments"), "{en}");
    assert!(ms.contains("lebih daripada 50 lampiran"), "{ms}");
}
