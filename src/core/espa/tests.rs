//! eSPA registration through [`crate::core::handle`] with an in-memory
//! view: the check table, good registrations as developers write them, the
//! duplicate reference, STATUS, corrections before and after a signature,
//! and replies that do not thread.

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::config::{Config, Developer};
use crate::core::classify::Classifier;
use crate::core::email::{FromAddress, Template};
use crate::core::{Effects, Folder, Input, MemView, handle};
use crate::edge::inbound::parse;

const DEV: &str = "submit@seriindah.my";
const REF: &str = "HDA-2026-000123";

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
    format!("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% {text}\n%%EOF\n").into_bytes()
}

const ZIP: &[u8] = b"PK\x03\x04\x14\x00\x00\x00\x08\x00secret-stuff-here";

const SIGNEES: &str = "1. Pemaju | Tan Sri Lim Holdings Sdn Bhd (Lim Ah Kow) | lim@developer.my | idsaya\n\
2. Pembeli | Ali bin Abu | ali@example.com | manual\n\
3. Saksi | Siti binti Ahmad | siti@example.com | idsaya\n";

fn body(signees: &str) -> String {
    format!(
        "Rujukan eSPA / eSPA Reference: {REF}\nProjek / Project: Taman Seri Indah Fasa 2, Lot 12\nPenandatangan / Signees:\n{signees}\nTerima kasih.\n"
    )
}

struct Mail<'a> {
    subject: &'a str,
    id: &'a str,
    in_reply_to: Option<&'a str>,
    body: &'a str,
    html: bool,
    files: Vec<(&'a str, Vec<u8>)>,
}

fn registration<'a>(body: &'a str) -> Mail<'a> {
    Mail {
        subject: "Daftar eSPA HDA-2026-000123",
        id: "reg-1@seriindah.my",
        in_reply_to: None,
        body,
        html: false,
        files: vec![("eSPA HDA-2026-000123.pdf", pdf("espa"))],
    }
}

fn raw(m: &Mail) -> Vec<u8> {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let threading = m
        .in_reply_to
        .map(|p| format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"))
        .unwrap_or_default();
    let (kind, text) = if m.html {
        let html: String = m
            .body
            .lines()
            .map(|l| {
                let l = l
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;");
                format!("<p>{l}</p>")
            })
            .collect();
        ("text/html", html)
    } else {
        ("text/plain", m.body.replace('\n', "\r\n"))
    };
    let mut out = format!(
        "From: {DEV}\r\nTo: kpkt.retail@ra.example.my\r\nSubject: {}\r\nMessage-ID: <{}>\r\n{threading}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: {kind}; charset=utf-8\r\n\r\n{text}\r\n",
        m.subject, m.id
    );
    for (name, bytes) in &m.files {
        out.push_str(&format!(
            "--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            b64(bytes)
        ));
    }
    out.push_str("--XX--\r\n");
    out.into_bytes()
}

fn decide(m: &Mail, mem: &MemView) -> Effects {
    let cfg = cfg();
    let msg = parse(&raw(m));
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
    .unwrap()
}

fn codes(d: &Effects) -> Vec<String> {
    let email = d
        .emails
        .iter()
        .find(|e| e.template == Template::EspaIncomplete)
        .unwrap_or_else(|| panic!("no espa-incomplete: {:?}", d.emails));
    email.context["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect()
}

/// A registered eSPA in a view, with its emails' Message-IDs indexed.
fn registered() -> (MemView, Vec<String>) {
    let mut mem = MemView::default();
    let b = body(SIGNEES);
    let d = decide(&registration(&b), &mem);
    assert_eq!(d.filing, Some(Folder::Processed), "{:?}", d.emails);
    let ids: Vec<String> = (0..d.emails.len())
        .map(|i| format!("sent-{i}@ra"))
        .collect();
    mem.apply(&d, &ids, now());
    (mem, ids)
}

#[test]
fn a_good_registration_is_stored_acknowledged_and_sends_emel0_from_hims() {
    let (mem, _) = registered();
    let b = body(SIGNEES);
    let d = decide(&registration(&b), &MemView::default());
    assert_eq!(d.keep_attachments, vec![0]);
    let espa = &d.espas[0].espa;
    assert!(d.espas[0].new);
    assert_eq!(espa.reference, REF);
    assert_eq!(espa.project, "Taman Seri Indah Fasa 2, Lot 12");
    assert_eq!(espa.company, "Seri Indah Development Sdn Bhd");
    assert_eq!(espa.signees.len(), 3);
    assert_eq!(espa.signees[1].route, Route::Manual);
    assert_eq!(espa.signees[1].role, crate::pack_check::SigneeRole::Pembeli);
    assert!(espa.signees.iter().all(|s| s.state == SigneeState::Waiting));
    assert_eq!(espa.document.size, pdf("espa").len() as u64);
    assert_eq!(espa.document.sha256.len(), 64);
    assert_eq!(
        espa.thread.in_reply_to.as_deref(),
        Some("reg-1@seriindah.my")
    );

    let ack = &d.emails[0];
    assert_eq!(ack.template, Template::EspaAck);
    assert_eq!(ack.to[0].email, DEV);
    assert_eq!(ack.case_ref.as_deref(), Some("eSPA HDA-2026-000123"));
    assert_eq!(
        ack.context["espa"]["document"]["sha256"],
        espa.document.sha256
    );
    assert_eq!(ack.context["espa"]["signees"][2]["state"], "waiting");
    let emel0: Vec<_> = d
        .emails
        .iter()
        .filter(|e| e.template == Template::Emel0)
        .collect();
    let to: Vec<&str> = emel0.iter().map(|e| e.to[0].email.as_str()).collect();
    assert_eq!(to, ["lim@developer.my", "siti@example.com"]);
    assert!(emel0.iter().all(|e| e.from == FromAddress::Hims));
    assert!(
        emel0
            .iter()
            .all(|e| e.thread.in_reply_to.as_deref() == Some("reg-1@seriindah.my"))
    );
    assert_eq!(mem.espas.len(), 1);
}

#[test]
fn registrations_as_developers_write_them_are_read() {
    let variants = [
        // Extra spaces, `1)` and tabs, a route left out (idsaya).
        "Penandatangan / Signees:\n  1)  Pemaju |  Lim Ah Kow |lim@developer.my|idsaya\n2)\tPembeli\t|\tAli bin Abu\t|\tali@example.com\t|\tManual\n3. Saksi | Siti binti Ahmad | siti@example.com\n",
        // English labels only, a blank line after the label, a table border.
        "Signees:\n\n| 1. Developer | Lim Ah Kow | <lim@developer.my> | iDsaya |\n| 2. Buyer | Ali bin Abu | mailto:ali@example.com | MANUAL |\n| 3. Witness | Siti binti Ahmad | siti@example.com | idsaya |\n",
        // Malay label only, bullets.
        "Penandatangan:\n- 1. Pemaju | Lim Ah Kow | lim@developer.my | idsaya\n- 2. Pembeli | Ali bin Abu | ali@example.com | manual\n- 3. Saksi | Siti binti Ahmad | siti@example.com | idsaya\n",
    ];
    for signees in variants {
        for html in [false, true] {
            let b = format!(
                "eSPA Reference: {REF}\nProject: Taman Seri Indah\n{signees}\nRegards,\nClerk\n"
            );
            let mut m = registration(&b);
            m.html = html;
            let d = decide(&m, &MemView::default());
            assert_eq!(
                d.filing,
                Some(Folder::Processed),
                "{signees} html={html}: {:?}",
                d.emails.first().map(|e| &e.context["problems"])
            );
            let s = &d.espas[0].espa.signees;
            assert_eq!(s.len(), 3, "{signees}");
            assert_eq!(s[0].email, "lim@developer.my");
            assert_eq!(s[1].route, Route::Manual);
            assert_eq!(s[2].route, Route::Idsaya);
            assert_eq!(s[2].name, "Siti binti Ahmad");
        }
    }
}

/// What is checked, the text, the attachments, the codes wanted.
type Row<'a> = (&'a str, &'a str, Vec<(&'a str, Vec<u8>)>, &'a [&'a str]);

#[test]
fn every_check_has_its_code_and_nothing_changes() {
    let table: &[Row] = &[
        (
            "no reference",
            "Projek / Project: X\nPenandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim@developer.my\n",
            vec![("e.pdf", pdf("a"))],
            &["ESPA_REF_MISSING"],
        ),
        (
            "bad reference",
            "Rujukan eSPA / eSPA Reference: 123\nProjek / Project: X\nPenandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim@developer.my\n",
            vec![("e.pdf", pdf("a"))],
            &["ESPA_REF_INVALID"],
        ),
        (
            "no project",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nPenandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim@developer.my\n",
            vec![("e.pdf", pdf("a"))],
            &["PROJECT_MISSING"],
        ),
        (
            "no signees",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nProjek / Project: X\n",
            vec![("e.pdf", pdf("a"))],
            &["SIGNEES_MISSING"],
        ),
        (
            "unreadable line",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nProjek / Project: X\nPenandatangan / Signees:\n1. Pemaju | Lim Ah Kow\n",
            vec![("e.pdf", pdf("a"))],
            &["SIGNEE_LINE_INVALID"],
        ),
        (
            "gap",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nProjek / Project: X\nPenandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim@developer.my\n3. Saksi | Siti binti Ahmad | siti@example.com\n",
            vec![("e.pdf", pdf("a"))],
            &["ORDER_GAP"],
        ),
        (
            "repeat",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nProjek / Project: X\nPenandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim@developer.my\n1. Saksi | Siti binti Ahmad | siti@example.com\n",
            vec![("e.pdf", pdf("a"))],
            &["ORDER_REPEATED"],
        ),
        (
            "role",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nProjek / Project: X\nPenandatangan / Signees:\n1. Peguam | Lim Ah Kow | lim@developer.my\n",
            vec![("e.pdf", pdf("a"))],
            &["SIGNEE_ROLE_INVALID"],
        ),
        (
            "name",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nProjek / Project: X\nPenandatangan / Signees:\n1. Pemaju |  | lim@developer.my\n",
            vec![("e.pdf", pdf("a"))],
            &["SIGNEE_NAME_INVALID"],
        ),
        (
            "email",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nProjek / Project: X\nPenandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim(at)developer.my\n",
            vec![("e.pdf", pdf("a"))],
            &["SIGNEE_EMAIL_INVALID"],
        ),
        (
            "same address",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nProjek / Project: X\nPenandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim@developer.my\n2. Saksi | Siti binti Ahmad | LIM@developer.my\n",
            vec![("e.pdf", pdf("a"))],
            &["SIGNEE_EMAIL_REPEATED"],
        ),
        (
            "route",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nProjek / Project: X\nPenandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim@developer.my | courier\n",
            vec![("e.pdf", pdf("a"))],
            &["SIGNEE_ROUTE_INVALID"],
        ),
        (
            "no pdf",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nProjek / Project: X\nPenandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim@developer.my\n",
            vec![],
            &["PDF_MISSING"],
        ),
        (
            "two pdfs",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nProjek / Project: X\nPenandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim@developer.my\n",
            vec![("a.pdf", pdf("a")), ("b.pdf", pdf("b"))],
            &["PDF_TOO_MANY"],
        ),
        (
            "zip named pdf",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nProjek / Project: X\nPenandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim@developer.my\n",
            vec![("e.pdf", ZIP.to_vec())],
            &["ATTACHMENT_NOT_PDF"],
        ),
        (
            "pdf named docx",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nProjek / Project: X\nPenandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim@developer.my\n",
            vec![("e.docx", pdf("a"))],
            &["ATTACHMENT_NOT_PDF"],
        ),
        (
            "empty",
            "Rujukan eSPA / eSPA Reference: HDA-2026-000123\nProjek / Project: X\nPenandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim@developer.my\n",
            vec![("e.pdf", Vec::new())],
            &["ATTACHMENT_EMPTY"],
        ),
    ];
    for (what, text, files, want) in table {
        let mut m = registration(text);
        m.subject = "Daftar eSPA";
        m.files = files.clone();
        let d = decide(&m, &MemView::default());
        assert_eq!(d.filing, Some(Folder::Rejected), "{what}");
        assert!(
            d.espas.is_empty() && d.keep_attachments.is_empty() && d.events.is_empty(),
            "{what}"
        );
        assert_eq!(d.emails.len(), 1, "{what}");
        assert_eq!(d.emails[0].to[0].email, DEV);
        assert_eq!(codes(&d), *want, "{what}");
    }
    // Too large: MESSAGE_TOO_LARGE; the limits as for packs.
    let mut cfg = cfg();
    cfg.limits.attachment_max_bytes = 10;
    let b = body(SIGNEES);
    let msg = parse(&raw(&registration(&b)));
    let class = Classifier::new(&cfg).classify(&msg, &cfg);
    let d = handle(
        Input::Message {
            msg: &msg,
            class: &class,
        },
        &MemView::default(),
        &cfg,
        now(),
    )
    .unwrap();
    assert_eq!(codes(&d), ["ATTACHMENT_TOO_LARGE"]);
    let mut big = msg.clone();
    big.oversize = true;
    big.text.clear();
    big.attachments.clear();
    let d = handle(
        Input::Message {
            msg: &big,
            class: &class,
        },
        &MemView::default(),
        &cfg,
        now(),
    )
    .unwrap();
    assert_eq!(codes(&d), ["MESSAGE_TOO_LARGE"]);
}

#[test]
fn a_second_registration_of_a_reference_is_refused_naming_it() {
    let (mem, _) = registered();
    let b = body(SIGNEES);
    let mut m = registration(&b);
    m.id = "reg-2@seriindah.my";
    let d = decide(&m, &mem);
    assert_eq!(d.filing, Some(Folder::Rejected));
    assert_eq!(codes(&d), ["ESPA_EXISTS"]);
    let en = d.emails[0].context["problems"][0]["en"].as_str().unwrap();
    assert!(en.contains(REF), "{en}");
    assert!(d.espas.is_empty());
}

fn on_thread<'a>(parent: &'a str, id: &'a str, body: &'a str) -> Mail<'a> {
    Mail {
        subject: "Re: [eSPA HDA-2026-000123] eSPA didaftarkan / eSPA registered",
        id,
        in_reply_to: Some(parent),
        body,
        html: false,
        files: Vec::new(),
    }
}

#[test]
fn status_on_the_thread_lists_every_signee() {
    let (mem, ids) = registered();
    let d = decide(
        &on_thread(&ids[0], "st@seriindah.my", "status\n\n> quoted"),
        &mem,
    );
    assert_eq!(d.filing, Some(Folder::Processed));
    assert_eq!(d.emails.len(), 1);
    let e = &d.emails[0];
    assert_eq!(e.template, Template::EspaStatus);
    assert_eq!(e.to[0].email, DEV);
    assert_eq!(e.thread.in_reply_to.as_deref(), Some("st@seriindah.my"));
    assert_eq!(e.context["espa"]["signees"].as_array().unwrap().len(), 3);
    assert_eq!(e.context["espa"]["signees"][1]["route"], "manual");
    assert!(!e.context["history"].as_array().unwrap().is_empty());
}

#[test]
fn replies_that_do_not_thread_to_an_email_sent_to_the_developer_change_nothing() {
    let (mut mem, ids) = registered();
    // Threads to nothing of ours.
    let d = decide(&on_thread("elsewhere@x", "t1@seriindah.my", "STATUS"), &mem);
    assert_eq!(d.filing, Some(Folder::Rejected));
    assert_eq!(d.emails[0].template, Template::CommandError);
    // EMEL 0 went to a signee, not to the developer.
    let d = decide(&on_thread(&ids[1], "t2@seriindah.my", SIGNEES), &mem);
    assert_eq!(d.emails[0].template, Template::CommandError);
    assert!(d.espas.is_empty());
    // Anything else than STATUS or a correction: the command ERROR.
    let d = decide(&on_thread(&ids[0], "t3@seriindah.my", "APPROVED"), &mem);
    assert_eq!(d.emails[0].template, Template::CommandError);
    assert_eq!(d.emails[0].context["allowed"][0], "STATUS");
    // An unknown eSPA is quarantined.
    mem.espas.clear();
    let d = decide(&on_thread(&ids[0], "t4@seriindah.my", "STATUS"), &mem);
    assert_eq!(d.filing, Some(Folder::Quarantine));
}

#[test]
fn a_correction_before_any_signature_replaces_the_signees_and_the_pdf() {
    let (mut mem, ids) = registered();
    // Signee 3 is ready already: kept as they stay, same address and route.
    mem.espas[0].signees[2].state = SigneeState::Ready;
    let new = "Penandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim@developer.my | idsaya\n2. Pembeli | Ali bin Abu | ali@example.com | idsaya\n3. Saksi | Siti binti Ahmad | siti@example.com | idsaya\n4. Tuan Tanah | Tan Ah Seng | tan@example.com\n\nOn Wed, RA wrote:\n> 1. Pemaju | quoted | old@example.com | manual\n";
    let mut m = on_thread(&ids[0], "c1@seriindah.my", new);
    m.files = vec![("eSPA v2.pdf", pdf("v2"))];
    let d = decide(&m, &mem);
    assert_eq!(d.filing, Some(Folder::Processed), "{:?}", d.emails);
    let espa = &d.espas[0].espa;
    assert!(!d.espas[0].new);
    assert_eq!(espa.signees.len(), 4);
    assert_eq!(espa.signees[1].route, Route::Idsaya);
    assert_eq!(espa.signees[2].state, SigneeState::Ready);
    assert_eq!(espa.document.name, "eSPA v2.pdf");
    assert_eq!(d.keep_attachments, vec![0]);
    assert_eq!(d.emails[0].template, Template::EspaAck);
    assert_eq!(d.emails[0].context["correction"], true);
    // EMEL 0 only to those newly on the idsaya route.
    let emel0: Vec<&str> = d
        .emails
        .iter()
        .filter(|e| e.template == Template::Emel0)
        .map(|e| e.to[0].email.as_str())
        .collect();
    assert_eq!(emel0, ["ali@example.com", "tan@example.com"]);

    // A correction with a problem changes nothing.
    let bad = "Penandatangan / Signees:\n1. Pemaju | Lim Ah Kow | lim@developer.my\n3. Saksi | Siti binti Ahmad | siti@example.com\n";
    let d = decide(&on_thread(&ids[0], "c2@seriindah.my", bad), &mem);
    assert!(d.espas.is_empty());
    assert_eq!(d.filing, Some(Folder::Rejected));
    assert_eq!(codes(&d), ["ORDER_GAP"]);
    assert_eq!(
        d.emails[0].case_ref.as_deref(),
        Some("eSPA HDA-2026-000123")
    );
}

#[test]
fn a_correction_after_a_signature_is_refused_with_the_reason() {
    let (mut mem, ids) = registered();
    mem.espas[0].signees[0].state = SigneeState::Signed;
    let d = decide(&on_thread(&ids[0], "c3@seriindah.my", SIGNEES), &mem);
    assert!(d.espas.is_empty());
    assert_eq!(d.filing, Some(Folder::Rejected));
    let e = &d.emails[0];
    assert_eq!(e.template, Template::CommandError);
    assert!(
        e.context["reason_en"]
            .as_str()
            .unwrap()
            .contains("Signee 1 has signed")
    );
}

#[test]
fn registration_emails_render_with_the_tag_in_the_subject() {
    let b = body(SIGNEES);
    let d = decide(&registration(&b), &MemView::default());
    let renderer = crate::edge::render::Renderer::new().unwrap();
    let from = crate::config::Address {
        name: Some("RA".into()),
        email: "kpkt.retail@ra.example.my".into(),
    };
    for (i, e) in d.emails.iter().enumerate() {
        let r = renderer
            .render(e, &from, &format!("m{i}@ra.example.my"), now())
            .unwrap();
        assert!(
            r.subject.starts_with("[eSPA HDA-2026-000123]"),
            "{}",
            r.subject
        );
        let (_, text, html) = renderer.render_parts(e.template, &e.context).unwrap();
        let sha = d.espas[0].espa.document.sha256.as_str();
        assert!(text.contains(sha) && html.contains(sha), "{:?}", e.template);
        // Quoted back without `>` (Outlook), nothing of ours reads as a
        // signee line of a correction.
        assert!(
            registration::read(&text, "").signee_lines.is_empty(),
            "{text}"
        );
    }
    let ack = &d.emails[0];
    let (_, text, _) = renderer.render_parts(ack.template, &ack.context).unwrap();
    for want in [
        "1. Pemaju (Developer)",
        "2. Pembeli (Buyer)",
        "manual",
        "menunggu / waiting",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    // Replies to them classify as replies on the eSPA thread.
    let cfg = cfg();
    let reply = format!(
        "From: {DEV}\r\nSubject: Re: [eSPA HDA-2026-000123] eSPA didaftarkan\r\n\r\nSTATUS\r\n"
    );
    assert_eq!(
        Classifier::new(&cfg).classify(&parse(reply.as_bytes()), &cfg),
        crate::core::Class::EspaReply { espa: REF.into() }
    );
}

#[test]
fn ekyc_ok_makes_an_idsaya_signee_ready_and_is_refused_with_a_reason_otherwise() {
    let (mut mem, ids) = registered();
    // EKYC-OK 1: ready, and it is their turn: EMEL 4 from HIMS.
    let d = decide(&on_thread(&ids[0], "e1@seriindah.my", "EKYC-OK 1"), &mem);
    assert_eq!(d.filing, Some(Folder::Processed), "{:?}", d.emails);
    let espa = &d.espas[0].espa;
    assert_eq!(espa.signees[0].state, SigneeState::Ready);
    assert_eq!(espa.version, 2);
    let templates: Vec<_> = d.emails.iter().map(|e| (e.template, e.from)).collect();
    assert_eq!(
        templates,
        [
            (Template::EspaAck, FromAddress::Ra),
            (Template::Emel4, FromAddress::Hims)
        ]
    );
    assert_eq!(d.emails[0].context["command"], "EKYC-OK");
    assert_eq!(d.sign_links, [(REF.to_string(), 1)]);
    mem.apply(&d, &[], now());
    // EKYC-OK 3 (not their turn): ready, no EMEL 4 yet.
    let d = decide(&on_thread(&ids[0], "e2@seriindah.my", "eKYC OK: 3"), &mem);
    assert_eq!(d.espas[0].espa.signees[2].state, SigneeState::Ready);
    assert!(!d.emails.iter().any(|e| e.template == Template::Emel4));
    mem.apply(&d, &[], now());
    // Refusals, each with its reason; nothing written.
    for (line, reason) in [
        ("EKYC-OK 1", "already confirmed"),
        ("EKYC-OK 2", "manual route"),
        ("EKYC-OK 9", "no signee with order 9"),
        ("EKYC-OK", "Give the signee's order"),
        ("EKYC-OK satu", "Give the signee's order"),
    ] {
        let d = decide(&on_thread(&ids[0], "e3@seriindah.my", line), &mem);
        assert!(d.espas.is_empty(), "{line}");
        assert_eq!(d.filing, Some(Folder::Rejected), "{line}");
        let e = &d.emails[0];
        assert_eq!(e.template, Template::CommandError, "{line}");
        let en = e.context["reason_en"].as_str().unwrap();
        assert!(en.contains(reason), "{line}: {en}");
    }
}

#[test]
fn after_a_decline_a_corrected_list_that_keeps_the_signed_goes_on() {
    let (mut mem, ids) = registered();
    let e = &mut mem.espas[0];
    e.signees[0].state = SigneeState::Signed;
    e.signees[1].state = SigneeState::Declined;
    // Dropping the signee who signed is refused.
    let without_first = "Penandatangan / Signees:\n1. Pembeli | Ali bin Abu | ali@example.com | manual\n2. Saksi | Siti binti Ahmad | siti@example.com | idsaya\n";
    let d = decide(&on_thread(&ids[0], "d1@seriindah.my", without_first), &mem);
    assert!(d.espas.is_empty());
    let en = d.emails[0].context["reason_en"].as_str().unwrap();
    assert!(en.contains("keep every signee who has signed"), "{en}");
    // A new PDF after a signature is refused, decline or not.
    let mut m = on_thread(&ids[0], "d2@seriindah.my", SIGNEES);
    m.files = vec![("eSPA v2.pdf", pdf("v2"))];
    assert!(decide(&m, &mem).espas.is_empty());
    // Keeping signee 1 and replacing the one who declined goes on.
    let replaced = "Penandatangan / Signees:\n1. Pemaju | Tan Sri Lim Holdings Sdn Bhd (Lim Ah Kow) | lim@developer.my | idsaya\n2. Pembeli | Aminah binti Abu | aminah@example.com | idsaya\n3. Saksi | Siti binti Ahmad | siti@example.com | idsaya\n";
    let d = decide(&on_thread(&ids[0], "d3@seriindah.my", replaced), &mem);
    assert_eq!(d.filing, Some(Folder::Processed), "{:?}", d.emails);
    let espa = &d.espas[0].espa;
    assert_eq!(espa.signees[0].state, SigneeState::Signed);
    assert_eq!(espa.signees[1].email, "aminah@example.com");
    assert_eq!(espa.signees[1].state, SigneeState::Waiting);
    assert_eq!(turn::next(espa), Some(2));
}
