//! The core driven through [`handle`] by each kind of input, with an
//! in-memory view: packs, supplements, duplicates, delivery reports, the
//! reply-rate limit, SMTP refusals and the clock; and a view that fails.

use super::*;
use crate::config::Developer;
use crate::core::Folder;
use crate::core::case::EventKind;
use crate::core::case::{Case, CaseState};
use crate::core::classify::Classifier;
use crate::core::email::Template;
use crate::core::view::SentEmail;
use crate::core::view::{View, ViewError, ViewResult};
use crate::core::{Effects, Input, MemView, Refusal, handle};
use crate::edge::inbound::parse;
use chrono::TimeZone;
use chrono::{DateTime, Utc};

const DEV: &str = "submit@seriindah.my";
const SIGNEE: &str = "ali@buyer.example.com";

fn cfg() -> Config {
    let mut cfg = Config::embedded_default();
    cfg.developers = vec![Developer {
        company: "Seri Indah Development Sdn Bhd".into(),
        addresses: vec![DEV.into()],
        domain: None,
    }];
    cfg
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
        .single()
        .unwrap()
}

fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% {text}\ntrailer << /Root 1 0 R >>\n%%EOF\n").into_bytes()
}

const JPEG: &[u8] = &[
    0xff, 0xd8, 0xff, 0xe0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0xff,
    0xd9,
];
/// A JPEG other than [`JPEG`]: a comment segment makes another file of it.
fn jpeg_back() -> Vec<u8> {
    let mut b = JPEG[..JPEG.len() - 2].to_vec();
    b.extend_from_slice(&[0xff, 0xfe, 0, 6, b'b', b'a', b'c', b'k', 0xff, 0xd9]);
    b
}

const ZIP: &[u8] = b"PK\x03\x04\x14\x00\x00\x00\x08\x00secret-stuff-here";

fn fields() -> Vec<(&'static str, String)> {
    [
        ("Rujukan eSPA / eSPA Reference", "HDA-2026-000123"),
        ("Turutan / Signing Order", "2"),
        ("Nama Penuh / Full Name", "Ali bin Abu"),
        ("Jenis Pengenalan / ID Type", "MyKad"),
        ("No. Pengenalan / ID Number", "900101-14-5673"),
        ("Warganegara / Nationality", "Malaysia"),
        ("Emel / Email", SIGNEE),
        ("Telefon / Phone", "+971501234567"),
        ("Peranan / Role", "Pembeli"),
        ("Sebab / Reason", "LUAR_NEGARA"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

fn documents() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "Borang Permohonan PDF Signing Certificate (AATL).pdf",
            pdf("form"),
        ),
        ("MyKad depan.jpg", JPEG.to_vec()),
        // Another scan: the two sides as one file is a problem of its own.
        ("MyKad belakang.jpg", jpeg_back()),
        ("Letter of Authorisation.pdf", pdf("loa")),
    ]
}

fn message(from: &str, subject: &str, id: &str, body: &str, files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut m = format!(
        "From: {from}\r\nTo: kpkt.retail@ra.example.my\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    );
    for (name, bytes) in files {
        let mime = if name.ends_with(".pdf") {
            "application/pdf"
        } else {
            "image/jpeg"
        };
        m.push_str(&format!(
            "--XX\r\nContent-Type: {mime}\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            b64(bytes)
        ));
    }
    m.push_str("--XX--\r\n");
    m.into_bytes()
}

fn body(fields: &[(&str, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect()
}

fn decide_raw(raw: &[u8], mem: &MemView) -> Effects {
    let cfg = cfg();
    let msg = parse(raw);
    let class = Classifier::new(&cfg).classify(&msg, &cfg);
    handle(
        Input::Message {
            msg: &msg,
            class: &class,
        },
        mem,
        &cfg,
        now(),
    )
    .expect("the view reads")
}

fn templates(d: &Effects) -> Vec<(Template, Vec<String>)> {
    d.emails
        .iter()
        .map(|e| (e.template, e.to.iter().map(|r| r.email.clone()).collect()))
        .collect()
}

fn codes(d: &Effects) -> Vec<String> {
    d.emails
        .iter()
        .flat_map(|e| {
            e.context["problems"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|p| p["code"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_valid_pack_opens_a_received_case_with_ack_emel1_and_staff_verify() {
    let mem = MemView::default();
    let raw = message(
        DEV,
        "Permohonan Sijil Digital - Ali bin Abu",
        "p1@dev",
        &body(&fields()),
        &documents(),
    );
    let d = decide_raw(&raw, &mem);
    assert_eq!(d.filing, Some(Folder::Processed));
    let case = d.written_case().expect("a case");
    assert_eq!(case.reference, "SJL-2026-000001");
    assert_eq!(case.state, CaseState::Received);
    assert_eq!(case.company, "Seri Indah Development Sdn Bhd");
    assert_eq!(case.documents.len(), 4);
    assert_eq!(d.keep_attachments, vec![0, 1, 2, 3]);
    assert_eq!(
        d.cases[0].new,
        Some(crate::core::NewCase {
            year: 2026,
            sequence: 1
        })
    );
    let sent = templates(&d);
    assert_eq!(sent[0], (Template::Ack, vec![DEV.to_string()]));
    assert_eq!(sent[1], (Template::Emel1, vec![SIGNEE.to_string()]));
    assert_eq!(
        sent[2],
        (
            Template::StaffVerify,
            vec!["aina@ra.example.my".to_string()]
        )
    );
    let ctx = &d.emails[0].context;
    assert_eq!(ctx["signee"]["id_masked"], "900101-14-****");
    assert!(
        !ctx.to_string().contains("5673"),
        "the full ID number never reaches a template"
    );
    assert!(
        d.emails
            .iter()
            .all(|e| e.thread.in_reply_to.as_deref() == Some("p1@dev"))
    );
}

#[test]
fn a_pack_without_loa_is_incomplete_then_the_reply_completes_it() {
    let mut mem = MemView::default();
    let mut docs = documents();
    docs.pop();
    let raw = message(
        DEV,
        "Permohonan Sijil Digital - Ali bin Abu",
        "p2@dev",
        &body(&fields()),
        &docs,
    );
    let d = decide_raw(&raw, &mem);
    let case = d.written_case().cloned().expect("a case");
    assert_eq!(case.state, CaseState::Incomplete);
    assert_eq!(
        templates(&d),
        vec![(Template::Incomplete, vec![DEV.to_string()])]
    );
    assert_eq!(codes(&d), vec!["LOA_MISSING".to_string()]);
    mem.apply(&d, &[], now());

    let reply = message(
        DEV,
        &format!("Re: [{}] Permohonan tidak lengkap", case.reference),
        "p2-reply@dev",
        "Bersama ini LOA.\r\n\r\nOn Wed, 25 Nov 2026, RA wrote:\r\n> Telefon / Phone: +8613800138000\r\n",
        &[("LOA.pdf", pdf("loa"))],
    );
    let d = decide_raw(&reply, &mem);
    let case = d.written_case().expect("the case");
    assert_eq!(case.state, CaseState::Received, "{:?}", case.problems);
    assert_eq!(case.documents.len(), 4);
    assert_eq!(
        case.application.as_ref().map(|a| a.phone.as_str()),
        Some("+971501234567")
    );
    let sent: Vec<Template> = templates(&d).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        sent,
        vec![Template::Ack, Template::Emel1, Template::StaffVerify]
    );
}

#[test]
fn a_corrected_field_line_in_the_reply_is_merged() {
    let mut mem = MemView::default();
    let mut f = fields();
    // A foreigner on a Malaysian number: WARGA_ASING does not fit, but a
    // corrected number (or reason) does, so the case waits for the reply.
    f[7].1 = "+60123456789".into();
    f[5].1 = "China".into();
    f[3].1 = "Passport".into();
    f[4].1 = "E12345678".into();
    f[9].1 = "WARGA_ASING".into();
    let docs = vec![
        documents().remove(0),
        ("Passport.jpg", JPEG.to_vec()),
        documents().remove(3),
    ];
    let d = decide_raw(
        &message(DEV, "Permohonan", "p3@dev", &body(&f), &docs),
        &mem,
    );
    assert_eq!(
        d.written_case().map(|c| c.state),
        Some(CaseState::Incomplete)
    );
    assert_eq!(codes(&d), vec!["REASON_MALAYSIAN_PHONE".to_string()]);
    mem.apply(&d, &[], now());
    let reference = d
        .written_case()
        .map(|c| c.reference.clone())
        .unwrap_or_default();
    let reply = message(
        DEV,
        &format!("RE: [{reference}]"),
        "p3-r@dev",
        "Telefon / Phone: +971501234567\r\n",
        &[],
    );
    let d = decide_raw(&reply, &mem);
    assert_eq!(d.written_case().map(|c| c.state), Some(CaseState::Received));
}

#[test]
fn a_zip_named_pdf_is_named_in_the_problems_and_not_kept() {
    let mem = MemView::default();
    let mut docs = documents();
    docs[3].1 = ZIP.to_vec();
    let d = decide_raw(
        &message(DEV, "Permohonan", "p4@dev", &body(&fields()), &docs),
        &mem,
    );
    assert_eq!(
        d.written_case().map(|c| c.state),
        Some(CaseState::Incomplete)
    );
    assert!(
        codes(&d).contains(&"ATTACHMENT_TYPE_MISMATCH".to_string()),
        "{:?}",
        codes(&d)
    );
    assert_eq!(d.keep_attachments, vec![0, 1, 2]);
}

#[test]
fn a_second_pack_for_the_same_signee_names_the_existing_case() {
    let mut mem = MemView::default();
    let first = decide_raw(
        &message(DEV, "Permohonan", "p5@dev", &body(&fields()), &documents()),
        &mem,
    );
    mem.apply(&first, &[], now());
    let d = decide_raw(
        &message(
            DEV,
            "Permohonan",
            "p5-again@dev",
            &body(&fields()),
            &documents(),
        ),
        &mem,
    );
    assert_eq!(d.filing, Some(Folder::Rejected));
    assert!(d.cases.is_empty());
    assert_eq!(
        templates(&d),
        vec![(Template::Duplicate, vec![DEV.to_string()])]
    );
    assert_eq!(d.emails[0].context["existing"]["ref"], "SJL-2026-000001");
    assert_eq!(
        d.events.len(),
        1,
        "the refusal is kept on the existing case"
    );
}

#[test]
fn strangers_robots_and_unsupported_mail_are_quarantined_silently() {
    let mut mem = MemView::default();
    let first = decide_raw(
        &message(DEV, "Permohonan", "p6@dev", &body(&fields()), &documents()),
        &mem,
    );
    mem.apply(&first, &[], now());
    let cases = [
        message("stranger@gmail.com", "Permohonan Sijil Digital", "s1@x", &body(&fields()), &documents()),
        message("stranger@gmail.com", "Re: [SJL-2026-000001]", "s2@x", "VERIFIED", &[]),
        message(DEV, "Re: [SJL-2099-000009] ?", "s3@x", "hello", &[]),
        message(DEV, "Daftar eSPA HDA-2026-000123", "s4@x", "", &[]),
        b"From: submit@seriindah.my\r\nAuto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\nAway".to_vec(),
    ];
    for raw in cases {
        let d = decide_raw(&raw, &mem);
        assert_eq!(
            d.filing,
            Some(Folder::Quarantine),
            "{}",
            String::from_utf8_lossy(&raw[..60])
        );
        assert!(d.emails.is_empty() && d.cases.is_empty());
    }
}

#[test]
fn a_bounce_of_emel1_is_recorded_and_the_developer_and_verifier_told() {
    let mut mem = MemView::default();
    let first = decide_raw(
        &message(DEV, "Permohonan", "p7@dev", &body(&fields()), &documents()),
        &mem,
    );
    mem.apply(&first, &[], now());
    mem.sent.push((
        "sijil.emel1@ra.example.my".into(),
        SentEmail {
            case_ref: "SJL-2026-000001".into(),
            to: vec![SIGNEE.into()],
            at: Some(now()),
        },
    ));
    let dsn = format!(
        "From: MAILER-DAEMON@mx.example.my\r\nSubject: Undelivered Mail\r\nMessage-ID: <dsn1@mx>\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n\
--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n\
Final-Recipient: rfc822; {SIGNEE}\r\nAction: failed\r\nStatus: 5.1.1\r\n\
--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <sijil.emel1@ra.example.my>\r\n--B--\r\n"
    );
    let d = decide_raw(dsn.as_bytes(), &mem);
    assert_eq!(d.filing, Some(Folder::Processed));
    assert!(d.cases.is_empty(), "no state change");
    assert!(
        matches!(&d.events[0].1.what, EventKind::DeliveryFailed { recipient, .. } if recipient == SIGNEE)
    );
    assert_eq!(
        templates(&d),
        vec![
            (Template::Bounce, vec![DEV.to_string()]),
            (Template::Bounce, vec!["aina@ra.example.my".to_string()]),
        ]
    );
    // A report about mail that is not ours: quarantined, nothing sent.
    let stray = dsn.replace("sijil.emel1@ra.example.my", "someone-else@x");
    let d = decide_raw(stray.as_bytes(), &mem);
    assert_eq!(d.filing, Some(Folder::Quarantine));
    assert!(d.emails.is_empty() && d.events.is_empty());
}

#[test]
fn only_the_signees_address_failing_calls_for_notices() {
    let d = decide_raw(
        &message(DEV, "Permohonan", "p8@dev", &body(&fields()), &documents()),
        &MemView::default(),
    );
    let mut mem = MemView::default();
    mem.apply(&d, &[], now());
    let case = d.written_case().expect("a case");
    let cfg = cfg();
    let refused = |to: &str| {
        let recipients = [to.to_string()];
        let refusal = Refusal {
            case_ref: Some(&case.reference),
            recipients: &recipients,
            code: "550",
        };
        handle(Input::Refused(refusal), &mem, &cfg, now()).expect("the view reads")
    };
    // As an SMTP server refusing it would write it: other case, same address.
    let told = refused(&SIGNEE.to_uppercase());
    assert_eq!(told.filing, None, "a refusal is not a message to file");
    let to: Vec<_> = told.emails.iter().map(|e| e.to[0].email.as_str()).collect();
    assert_eq!(to, [DEV, "aina@ra.example.my"]);
    assert!(told.emails.iter().all(|e| e.template == Template::Bounce
        && e.context["bounce"]["status"] == "550"
        && e.case_ref.as_deref() == Some(case.reference.as_str())));
    assert!(refused(DEV).emails.is_empty());
}

#[test]
fn a_tick_forgets_past_reply_counters_and_old_records_and_purges_what_is_due() {
    let cfg = cfg();
    let d = handle(Input::Tick, &MemView::default(), &cfg, now()).expect("the view reads");
    assert_eq!(d.forget_reply_counters_before, Some(now()));
    assert_eq!(
        d.forget_messages_before,
        Some(now() - chrono::TimeDelta::days(cfg.store.remember_messages_days.into()))
    );
    assert!(d.cases.is_empty() && d.events.is_empty() && d.emails.is_empty());
    assert_eq!(d.filing, None);

    // A rejected case: nothing before purge_after_days, its documents
    // (all but the LOA) after.
    let mut mem = MemView::default();
    let opened = decide_raw(
        &message(DEV, "Permohonan", "p12@dev", &body(&fields()), &documents()),
        &mem,
    );
    mem.apply(&opened, &[], now());
    mem.cases[0].state = CaseState::Rejected;
    let keep = chrono::TimeDelta::days(cfg.store.purge_after_days.into());
    let early = handle(
        Input::Tick,
        &mem,
        &cfg,
        now() + keep - chrono::TimeDelta::days(1),
    );
    assert!(early.expect("the view reads").cases.is_empty());
    let due = handle(
        Input::Tick,
        &mem,
        &cfg,
        now() + keep + chrono::TimeDelta::days(1),
    )
    .expect("the view reads");
    let case = &due.cases[0].case;
    let purged: Vec<&str> = case
        .documents
        .iter()
        .filter(|d| d.purged_at.is_some())
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(purged.len(), 3, "{purged:?}");
    assert!(purged.iter().all(|n| !n.contains("Authorisation")));
    assert_eq!(due.destroy_documents.len(), 3, "form and both MyKad sides");
    assert!(matches!(
        &due.events[0].1.what,
        EventKind::DocumentsPurged { documents } if documents.len() == 3
    ));
    // An unreadable store decides no purge.
    assert!(handle(Input::Tick, &Unreadable, &cfg, now()).is_err());
}

/// A store that cannot be read: every read fails.
struct Unreadable;

impl View for Unreadable {
    fn case(&self, _: &str) -> ViewResult<Option<Case>> {
        Err(ViewError("disk gone".into()))
    }
    fn open_for_order(&self, _: &str, _: u32) -> ViewResult<Option<Case>> {
        Err(ViewError("disk gone".into()))
    }
    fn open_for_id(&self, _: &str, _: &str) -> ViewResult<Option<Case>> {
        Err(ViewError("disk gone".into()))
    }
    fn next_sequence(&self, _: i32) -> ViewResult<u64> {
        Err(ViewError("disk gone".into()))
    }
    fn sent_email(&self, _: &str) -> ViewResult<Option<SentEmail>> {
        Err(ViewError("disk gone".into()))
    }
    fn replies_this_hour(&self, _: &str, _: &str, _: DateTime<Utc>) -> ViewResult<u32> {
        Err(ViewError("disk gone".into()))
    }
    fn for_each_case(&self, _: &mut dyn FnMut(&Case)) -> ViewResult<()> {
        Err(ViewError("disk gone".into()))
    }
}

/// Like [`MemView`], except that the sequence number cannot be read.
struct SequenceUnreadable(MemView);

impl View for SequenceUnreadable {
    fn case(&self, r: &str) -> ViewResult<Option<Case>> {
        self.0.case(r)
    }
    fn open_for_order(&self, e: &str, o: u32) -> ViewResult<Option<Case>> {
        self.0.open_for_order(e, o)
    }
    fn open_for_id(&self, e: &str, i: &str) -> ViewResult<Option<Case>> {
        self.0.open_for_id(e, i)
    }
    fn next_sequence(&self, _: i32) -> ViewResult<u64> {
        Err(ViewError("sequence unreadable".into()))
    }
    fn sent_email(&self, m: &str) -> ViewResult<Option<SentEmail>> {
        self.0.sent_email(m)
    }
    fn replies_this_hour(&self, a: &str, r: &str, n: DateTime<Utc>) -> ViewResult<u32> {
        self.0.replies_this_hour(a, r, n)
    }
    fn for_each_case(&self, f: &mut dyn FnMut(&Case)) -> ViewResult<()> {
        self.0.for_each_case(f)
    }
}

#[test]
fn a_view_that_fails_stops_the_decision_instead_of_deciding_on_missing_data() {
    let cfg = cfg();
    let classify = |raw: &[u8]| {
        let msg = parse(raw);
        let class = Classifier::new(&cfg).classify(&msg, &cfg);
        (msg, class)
    };
    let pack = message(DEV, "Permohonan", "p9@dev", &body(&fields()), &documents());
    let reply = message(
        DEV,
        "Re: [SJL-2026-000001] Permohonan",
        "r9@dev",
        "Telefon / Phone: +971501234567",
        &[],
    );
    let dsn = "From: MAILER-DAEMON@mx.example.my\r\nSubject: Undelivered\r\nMessage-ID: <dsn9@mx>\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n\
--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n\
Final-Recipient: rfc822; ali@buyer.example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\
--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <sijil.x@ra.example.my>\r\n--B--\r\n";
    for raw in [pack.as_slice(), reply.as_slice(), dsn.as_bytes()] {
        let (msg, class) = classify(raw);
        let decided = handle(
            Input::Message {
                msg: &msg,
                class: &class,
            },
            &Unreadable,
            &cfg,
            now(),
        );
        assert_eq!(
            decided,
            Err(ViewError("disk gone".into())),
            "{:?} must not be decided",
            class
        );
    }
    let recipients = [SIGNEE.to_string()];
    let refusal = Refusal {
        case_ref: Some("SJL-2026-000001"),
        recipients: &recipients,
        code: "550",
    };
    assert!(handle(Input::Refused(refusal), &Unreadable, &cfg, now()).is_err());

    // The sequence unreadable with everything else fine: no case is made
    // (a read error taken for "none yet" would reuse SJL-2026-000001).
    let (msg, class) = classify(&pack);
    let mut mem = MemView::default();
    let first = decide_raw(
        &message(DEV, "Permohonan", "p10@dev", &body(&fields()), &documents()),
        &mem,
    );
    mem.apply(&first, &[], now());
    let mut other = fields();
    other[1].1 = "3".into();
    other[4].1 = "910101-14-5679".into();
    let (msg2, class2) = classify(&message(
        DEV,
        "Permohonan",
        "p11@dev",
        &body(&other),
        &documents(),
    ));
    let view = SequenceUnreadable(mem);
    for (msg, class) in [(&msg, &class), (&msg2, &class2)] {
        let decided = handle(Input::Message { msg, class }, &view, &cfg, now());
        match decided {
            Err(e) => assert_eq!(e, ViewError("sequence unreadable".into())),
            // The first pack duplicates the case the view holds: refused
            // without a sequence number, which is right.
            Ok(d) => {
                assert_eq!(d.filing, Some(Folder::Rejected));
                assert!(d.cases.is_empty());
            }
        }
    }
    let decided = handle(
        Input::Message {
            msg: &msg2,
            class: &class2,
        },
        &view,
        &cfg,
        now(),
    );
    assert!(decided.is_err(), "a new case needs its sequence number");
}

#[test]
fn a_robot_answering_our_answers_is_not_answered_forever() {
    let mut mem = MemView::default();
    let mut docs = documents();
    docs.pop();
    let first = decide_raw(
        &message(DEV, "Permohonan", "loop0@dev", &body(&fields()), &docs),
        &mem,
    );
    mem.apply(&first, &[], now());
    let reference = first
        .written_case()
        .map(|c| c.reference.clone())
        .unwrap_or_default();
    let limit = cfg().security.reply_rate_per_hour as usize;
    let mut answered = 1;
    for i in 1..=limit + 5 {
        let echo = message(
            DEV,
            &format!("Re: [{reference}] Permohonan tidak lengkap"),
            &format!("loop{i}@dev"),
            "ok",
            &[],
        );
        let d = decide_raw(&echo, &mem);
        assert_eq!(
            d.filing,
            Some(Folder::Processed),
            "the message still takes effect"
        );
        answered += d.emails.len();
        if d.emails.is_empty() {
            assert!(
                d.events
                    .iter()
                    .any(|(_, e)| matches!(e.what, EventKind::ReplySuppressed { .. }))
            );
        }
        mem.apply(&d, &[], now());
    }
    assert_eq!(
        answered, limit,
        "at most {limit} answers an hour on one case"
    );
}

/// The fields of a foreigner on a China number: WARGA_ASING, whom iDsaya
/// serves (SPEC §4 "not eligible").
fn china_fields() -> Vec<(&'static str, String)> {
    let mut f = fields();
    f[3].1 = "Passport".into();
    f[4].1 = "E12345678".into();
    f[5].1 = "China".into();
    f[7].1 = "+86 138 0013 8000".into();
    f[9].1 = "WARGA_ASING".into();
    f
}

fn passport_documents() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        documents().remove(0),
        ("Passport.jpg", JPEG.to_vec()),
        documents().remove(3),
    ]
}

fn history(d: &Effects) -> Vec<&EventKind> {
    d.events.iter().map(|(_, e)| &e.what).collect()
}

#[test]
fn a_signee_idsaya_serves_is_not_eligible_and_the_case_is_rejected() {
    let mem = MemView::default();
    let raw = message(
        DEV,
        "Permohonan Sijil Digital - Wang Wei",
        "cn1@dev",
        &body(&china_fields()),
        &passport_documents(),
    );
    let d = decide_raw(&raw, &mem);
    assert_eq!(d.filing, Some(Folder::Rejected));
    let case = d.written_case().expect("a case, to answer STATUS on");
    assert_eq!(case.state, CaseState::Rejected);
    // Only the developer is answered: no EMEL 1, no call asked of staff.
    assert_eq!(
        templates(&d),
        vec![(Template::Ineligible, vec![DEV.to_string()])]
    );
    let ctx = &d.emails[0].context;
    assert_eq!(ctx["ineligible"][0]["code"], "PHONE_IDSAYA_COUNTRY");
    assert!(
        ctx["ineligible"][0]["en"]
            .as_str()
            .is_some_and(|s| s.contains("iDsaya")),
        "{ctx}"
    );
    assert_eq!(ctx["problems"], serde_json::json!([]));
    let events = history(&d);
    assert!(events.contains(&&EventKind::StateChanged {
        from: None,
        to: CaseState::Rejected
    }));
    let rejected = events.iter().find_map(|e| match e {
        EventKind::Rejected { codes, reason } => Some((codes.clone(), reason.clone())),
        _ => None,
    });
    let (codes, reason) = rejected.expect("the reason is in the history");
    assert_eq!(codes, vec!["PHONE_IDSAYA_COUNTRY".to_string()]);
    assert!(
        reason.starts_with("not eligible for the manual route: A China (+86)"),
        "{reason}"
    );
}

#[test]
fn an_ineligible_pack_also_lists_what_a_new_pack_must_correct() {
    let mem = MemView::default();
    let mut docs = passport_documents();
    docs.pop();
    let d = decide_raw(
        &message(DEV, "Permohonan", "cn2@dev", &body(&china_fields()), &docs),
        &mem,
    );
    assert_eq!(d.written_case().map(|c| c.state), Some(CaseState::Rejected));
    let ctx = &d.emails[0].context;
    assert_eq!(ctx["ineligible"].as_array().map(Vec::len), Some(1));
    assert_eq!(ctx["problems"][0]["code"], "LOA_MISSING");
}

#[test]
fn a_correction_that_makes_the_signee_ineligible_closes_the_case() {
    let mut mem = MemView::default();
    let mut f = china_fields();
    f[7].1 = "+971501234567".into();
    let mut docs = passport_documents();
    docs.pop();
    let d = decide_raw(
        &message(DEV, "Permohonan", "cn3@dev", &body(&f), &docs),
        &mem,
    );
    let reference = d
        .written_case()
        .map(|c| c.reference.clone())
        .unwrap_or_default();
    assert_eq!(codes(&d), vec!["LOA_MISSING".to_string()]);
    mem.apply(&d, &[], now());

    let reply = message(
        DEV,
        &format!("RE: [{reference}] Permohonan tidak lengkap"),
        "cn3-r@dev",
        "Nombor betul / correct number:\r\nTelefon / Phone: +86 138 0013 8000\r\n",
        &[("LOA.pdf", pdf("loa"))],
    );
    let d = decide_raw(&reply, &mem);
    assert_eq!(d.filing, Some(Folder::Rejected));
    assert_eq!(d.written_case().map(|c| c.state), Some(CaseState::Rejected));
    assert_eq!(
        templates(&d),
        vec![(Template::Ineligible, vec![DEV.to_string()])]
    );
    assert!(history(&d).contains(&&EventKind::StateChanged {
        from: Some(CaseState::Incomplete),
        to: CaseState::Rejected
    }));
}

#[test]
fn after_a_refusal_for_a_wrong_number_a_corrected_pack_opens_a_new_case() {
    let mut mem = MemView::default();
    let d = decide_raw(
        &message(
            DEV,
            "Permohonan",
            "cn4@dev",
            &body(&china_fields()),
            &passport_documents(),
        ),
        &mem,
    );
    mem.apply(&d, &[], now());
    let mut f = china_fields();
    f[7].1 = "+971501234567".into();
    let d = decide_raw(
        &message(
            DEV,
            "Permohonan",
            "cn4-new@dev",
            &body(&f),
            &passport_documents(),
        ),
        &mem,
    );
    assert_eq!(d.filing, Some(Folder::Processed));
    let case = d.written_case().expect("a new case");
    assert_eq!(case.state, CaseState::Received, "{:?}", case.problems);
    assert_eq!(case.reference, "SJL-2026-000002");
}
