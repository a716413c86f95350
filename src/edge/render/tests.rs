//! The renderer's tests: every template, the headers, determinism, and
//! hostile input.

use super::message::threading;
use super::*;
use crate::core::email::{FromAddress, Recipient, Thread};
use chrono::TimeZone;
use mail_parser::{HeaderValue as ParsedValue, MessageParser, MimeHeaders};

/// A store secret for the tests' Message-IDs.
const KEY: [u8; 32] = [7; 32];

fn email(template: Template, context: Value) -> Email {
    Email {
        template,
        from: FromAddress::Ra,
        to: vec![Recipient {
            name: Some("Submit Desk".into()),
            email: "submit@seriindah.my".into(),
        }],
        case_ref: Some("SJL-2026-000001".into()),
        thread: Thread::default(),
        context,
    }
}

fn ra() -> Address {
    Address {
        name: Some("POS Digicert RA".into()),
        email: "kpkt.retail@ra.example.my".into(),
    }
}

fn date() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap()
}

/// Every id of an In-Reply-To/References header, as mail-parser sees it.
fn ids(value: &ParsedValue<'_>) -> Vec<String> {
    match value {
        ParsedValue::Text(t) => vec![t.to_string()],
        ParsedValue::TextList(list) => list.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn every_template_renders_with_a_full_context() {
    let r = Renderer::new().unwrap();
    for template in Template::ALL {
        let (subject, text, html) = r.render_parts(template, &sample_context()).unwrap();
        let name = template.name();
        assert!(
            subject.starts_with("[SJL-2026-000001] "),
            "{name}: {subject}"
        );
        assert!(
            subject.contains(" / "),
            "{name}: bilingual subject: {subject}"
        );
        for part in [&subject, &text, &html] {
            assert!(
                !part.contains("{{") && !part.contains("}}"),
                "{name}: {part}"
            );
        }
        // Malay first, then English, in both parts.
        let (ms, en) = match template {
            Template::Emel0
            | Template::Emel1
            | Template::Emel2
            | Template::Emel3
            | Template::Emel4
            | Template::SignCode
            | Template::Signed => ("Salam sejahtera Ali bin Abu", "Dear Ali bin Abu"),
            Template::StaffVerify
            | Template::StaffQc
            | Template::StaffGenerate
            | Template::Withdrawn
            | Template::SigneeMessage
            | Template::PinLocked => ("Salam sejahtera", "Good day"),
            _ => ("Tuan/Puan", "Dear Sir/Madam"),
        };
        for part in [&text, &html] {
            let (m, e) = (part.find(ms), part.find(en));
            assert!(
                m.is_some() && e.is_some() && m < e,
                "{name}: order in\n{part}"
            );
            assert!(part.contains("Pihak Berkuasa Pendaftaran (RA)"), "{name}");
        }
        assert!(html.starts_with("<!DOCTYPE html>"), "{name}");
        assert!(html.trim_end().ends_with("</html>"), "{name}");
        assert!(text.contains("\n-- \n"), "{name}: signature separator");
        assert!(!text.contains("&amp;") && !text.contains("&lt;"), "{name}");
    }
}

#[test]
fn every_template_renders_with_an_empty_context() {
    let r = Renderer::new().unwrap();
    for template in Template::ALL {
        for context in [
            json!({}),
            json!({"signee": {}, "documents": [], "problems": []}),
        ] {
            let (subject, text, html) = r.render_parts(template, &context).unwrap();
            let name = template.name();
            assert!(
                !subject.contains("[]") && !subject.is_empty(),
                "{name}: {subject}"
            );
            assert!(!subject.ends_with('—'), "{name}: {subject}");
            assert!(!text.contains(" ()") && !html.contains(" ()"), "{name}");
            assert!(
                !text.contains("  ,") && !text.contains(" ."),
                "{name}:\n{text}"
            );
            assert!(html.contains("</html>"));
        }
    }
}

#[test]
fn template_content_per_email() {
    let r = Renderer::new().unwrap();
    let ctx = sample_context();
    let (_, text, html) = r.render_parts(Template::Incomplete, &ctx).unwrap();
    for part in [&text, &html] {
        assert!(part.contains("LOA_MISSING") && part.contains("The LOA is missing."));
        assert!(
            part.contains("[SJL-2026-000001]"),
            "reply keeping the reference"
        );
        assert!(part.contains("Label: nilai") && part.contains("Label: value"));
    }
    let (subject, text, _) = r.render_parts(Template::Duplicate, &ctx).unwrap();
    assert!(subject.starts_with("[SJL-2026-000001] Permohonan pendua / Duplicate"));
    assert!(text.contains("Diterima, menunggu pengesahan"));
    assert!(text.contains("Received, awaiting verification"));
    let (_, text, html) = r.render_parts(Template::StaffVerify, &ctx).unwrap();
    for part in [&text, &html] {
        for needle in [
            "HDA-2026-000123",
            "900101-14-****",
            "+971501234567",
            "ali@example.com",
            "LUAR_NEGARA",
            "Seri Indah Development Sdn Bhd",
            "MyKad depan.jpg",
            "21 KB",
            "ab12cd34",
            "VERIFIED",
            "DISAHKAN",
            "UNREACHABLE",
            "TIADA-JAWAPAN",
            "Pembeli",
            "Buyer",
        ] {
            assert!(part.contains(needle), "staff-verify lacks {needle}");
        }
    }
    let (subject, text, html) = r.render_parts(Template::Emel1, &ctx).unwrap();
    assert!(subject.starts_with("[SJL-2026-000001] "));
    for part in [&text, &html] {
        assert!(part.contains("MYCRS") && part.contains("pilihan"));
        assert!(part.contains("1–3 hari bekerja") || part.contains("1&ndash;3 hari bekerja"));
        assert!(part.contains("MyKad depan.jpg") && !part.contains("ab12cd34"));
        assert!(!part.contains("900101"), "no ID number to the signee");
    }
    let (subject, text, _) = r.render_parts(Template::Ack, &ctx).unwrap();
    assert_eq!(
        subject,
        "[SJL-2026-000001] Permohonan diterima / Application received — Ali bin Abu"
    );
    assert!(text.contains("SHA-256 ab12cd34"));
}

#[test]
fn html_is_escaped_and_text_is_not() {
    let r = Renderer::new().unwrap();
    let mut ctx = sample_context();
    ctx["signee"]["name"] = json!("Tan & <Lim>");
    let (subject, text, html) = r.render_parts(Template::Ack, &ctx).unwrap();
    assert!(subject.ends_with("— Tan & <Lim>"));
    assert!(text.contains("Tan & <Lim>"));
    assert!(html.contains("Tan &amp; &lt;Lim&gt;") && !html.contains("<Lim>"));
}

#[test]
fn rendered_message_parses_with_every_header() {
    let r = Renderer::new().unwrap();
    let mut ctx = sample_context();
    ctx["signee"]["name"] = json!("Pembeli — Ali bin Abu, Tuan Tanah 陈大文");
    let mut e = email(Template::Ack, ctx);
    e.to.push(Recipient {
        name: Some("陈大文".into()),
        email: "chen@example.com".into(),
    });
    e.thread = Thread {
        in_reply_to: Some("pack-1@seriindah.my".into()),
        references: vec!["<start@seriindah.my>".into(), "pack-1@seriindah.my".into()],
    };
    let id = message_id_for("ra.example.my", &KEY, b"inbound-key/0");
    let out = r.render(&e, &ra(), &id, date()).unwrap();

    assert!(out.bytes.is_ascii(), "7-bit clean");
    let crlf = out.bytes.windows(2).filter(|w| w == b"\r\n").count();
    let lf = out.bytes.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(crlf, lf, "every line ends with CRLF");
    assert_eq!(out.message_id, id);
    assert_eq!(out.envelope_from, "kpkt.retail@ra.example.my");
    assert_eq!(out.envelope_to, ["submit@seriindah.my", "chen@example.com"]);
    let expected_subject = "[SJL-2026-000001] Permohonan diterima / Application received \
                            — Pembeli — Ali bin Abu, Tuan Tanah 陈大文";
    assert_eq!(out.subject, expected_subject);

    let m = MessageParser::default().parse(&out.bytes).unwrap();
    assert_eq!(m.subject(), Some(expected_subject));
    let from = m.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("POS Digicert RA"));
    assert_eq!(from.address(), Some("kpkt.retail@ra.example.my"));
    let to: Vec<_> = m.to().unwrap().iter().collect();
    assert_eq!(to.len(), 2);
    assert_eq!(to[0].address(), Some("submit@seriindah.my"));
    assert_eq!(to[1].name(), Some("陈大文"));
    assert_eq!(to[1].address(), Some("chen@example.com"));
    assert_eq!(m.date().unwrap().to_timestamp(), date().timestamp());
    assert_eq!(m.message_id(), Some(id.as_str()));
    assert_eq!(ids(m.in_reply_to()), ["pack-1@seriindah.my"]);
    assert_eq!(
        ids(m.references()),
        ["start@seriindah.my", "pack-1@seriindah.my"]
    );
    assert_eq!(
        m.header("Auto-Submitted").and_then(|v| v.as_text()),
        Some("auto-generated")
    );
    assert_eq!(
        m.header("X-Auto-Response-Suppress")
            .and_then(|v| v.as_text()),
        Some("All")
    );
    assert!(m.header("Precedence").is_none());

    let ct = m.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    let text = m.body_text(0).unwrap();
    let html = m.body_html(0).unwrap();
    assert!(text.starts_with("Tuan/Puan,"));
    assert!(text.contains("Pembeli — Ali bin Abu, Tuan Tanah 陈大文"));
    assert!(text.contains("1–3 hari bekerja"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("陈大文"));
    let parts: Vec<_> = m.parts.iter().filter_map(|p| p.content_type()).collect();
    let kinds: Vec<_> = parts
        .iter()
        .map(|c| (c.ctype().to_owned(), c.subtype().unwrap_or("").to_owned()))
        .collect();
    assert!(kinds.contains(&("text".into(), "plain".into())));
    assert!(kinds.contains(&("text".into(), "html".into())));
    for c in parts.iter().filter(|c| c.ctype() == "text") {
        assert_eq!(
            c.attribute("charset").map(str::to_ascii_lowercase),
            Some("utf-8".into())
        );
    }
}

#[test]
fn same_input_same_bytes() {
    let r = Renderer::new().unwrap();
    let e = email(Template::StaffVerify, sample_context());
    let a = r
        .render(&e, &ra(), "sijil.1@ra.example.my", date())
        .unwrap();
    let b = r
        .render(&e, &ra(), "<sijil.1@ra.example.my>", date())
        .unwrap();
    assert_eq!(a, b);
    let c = r
        .render(&e, &ra(), "sijil.2@ra.example.my", date())
        .unwrap();
    assert_ne!(a.bytes, c.bytes);
}

#[test]
fn message_ids_are_deterministic() {
    let a = message_id_for("ra.example.my", &KEY, b"key/0");
    assert_eq!(a, message_id_for("RA.example.my", &KEY, b"key/0"));
    assert_ne!(a, message_id_for("ra.example.my", &KEY, b"key/1"));
    assert_ne!(
        a,
        message_id_for("ra.example.my", &[1; 32], b"key/0"),
        "another store's secret gives another id: it cannot be guessed from the input"
    );
    assert!(a.starts_with("sijil.") && a.ends_with("@ra.example.my"));
    assert_eq!(a.len(), "sijil.".len() + 32 + "@ra.example.my".len());
    assert!(message_id_for("bad domain>", &KEY, b"k").ends_with("@localhost"));
    assert!(bare_id(&a).is_some());
}

#[test]
fn threading_normalises_ids() {
    let mut e = email(Template::Ack, json!({}));
    e.thread = Thread {
        in_reply_to: Some("  <b@x>  ".into()),
        references: vec![
            "a@x".into(),
            "<b@x>".into(),
            "no-at-sign".into(),
            "bad id@x".into(),
            "<a@x>".into(),
        ],
    };
    assert_eq!(
        threading(&e),
        (Some("<b@x>".into()), vec!["<a@x>".into(), "<b@x>".into()])
    );
    e.thread = Thread {
        in_reply_to: Some("p@x".into()),
        references: Vec::new(),
    };
    assert_eq!(threading(&e), (Some("<p@x>".into()), vec!["<p@x>".into()]));
    e.thread.references = (0..30).map(|i| format!("{i}@x")).collect();
    let (_, refs) = threading(&e);
    assert_eq!(refs.len(), 20);
    assert_eq!(refs.first().map(String::as_str), Some("<0@x>"));
    assert_eq!(refs.last().map(String::as_str), Some("<p@x>"));
    e.thread = Thread::default();
    assert_eq!(threading(&e), (None, Vec::new()));
}

#[test]
fn no_thread_means_no_threading_headers() {
    let r = Renderer::new().unwrap();
    let out = r
        .render(
            &email(Template::Emel1, sample_context()),
            &ra(),
            "m@x",
            date(),
        )
        .unwrap();
    let m = MessageParser::default().parse(&out.bytes).unwrap();
    assert!(m.header("In-Reply-To").is_none() && m.header("References").is_none());
}

#[test]
fn reference_is_guaranteed_in_the_subject() {
    let r = Renderer::new().unwrap();
    // The core left `ref` out of the context: it is taken from case_ref.
    let mut e = email(Template::Ack, json!({"signee": {"name": "Siti"}}));
    let out = r.render(&e, &ra(), "m@x", date()).unwrap();
    assert_eq!(
        out.subject,
        "[SJL-2026-000001] Permohonan diterima / Application received — Siti"
    );
    // A duplicate names the existing case first.
    e.template = Template::Duplicate;
    e.case_ref = Some("SJL-2026-000009".into());
    e.context = json!({"existing": {"ref": "SJL-2026-000009", "state": "verified"}});
    let out = r.render(&e, &ra(), "m@x", date()).unwrap();
    assert!(
        out.subject
            .starts_with("[SJL-2026-000009] Permohonan pendua")
    );
    // No reference at all: no empty brackets.
    e.case_ref = None;
    e.context = json!({});
    let out = r.render(&e, &ra(), "m@x", date()).unwrap();
    assert_eq!(out.subject, "Permohonan pendua / Duplicate application");
}

#[test]
fn hostile_names_cannot_inject_headers() {
    let r = Renderer::new().unwrap();
    let mut ctx = sample_context();
    ctx["signee"]["name"] = json!("Ali\r\nBcc: evil@example.com");
    let mut e = email(Template::Ack, ctx);
    e.to[0].name = Some("Desk\r\nBcc: evil@example.com".into());
    let out = r.render(&e, &ra(), "m@x", date()).unwrap();
    let m = MessageParser::default().parse(&out.bytes).unwrap();
    assert!(m.header("Bcc").is_none());
    assert!(!String::from_utf8_lossy(&out.bytes).contains("\r\nBcc:"));
    assert_eq!(out.envelope_to, ["submit@seriindah.my"]);
    assert!(
        out.subject.ends_with("— Ali Bcc: evil@example.com"),
        "{}",
        out.subject
    );
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let r = Renderer::new().unwrap();
    let mut e = email(Template::Ack, json!({}));
    assert!(r.render(&e, &ra(), "no brackets or at", date()).is_err());
    e.to[0].email = "not an address".into();
    assert!(r.render(&e, &ra(), "m@x", date()).is_err());
    e.to.clear();
    assert!(r.render(&e, &ra(), "m@x", date()).is_err());
    // The same recipient twice is one recipient.
    let mut e = email(Template::Ack, json!({}));
    e.to.push(Recipient {
        name: None,
        email: "SUBMIT@seriindah.my".into(),
    });
    assert_eq!(
        r.render(&e, &ra(), "m@x", date())
            .unwrap()
            .envelope_to
            .len(),
        1
    );
}

#[test]
fn tidy_text_keeps_the_signature_separator() {
    assert_eq!(
        tidy_text("\n\na  \n\n\n\n\nb\n-- \nc\n\n\n"),
        "a\n\n\nb\n-- \nc\n"
    );
}

#[test]
fn ineligible_says_not_eligible_names_idsaya_and_how_to_send_a_corrected_pack() {
    let r = Renderer::new().unwrap();
    let (subject, text, html) = r
        .render_parts(Template::Ineligible, &sample_context())
        .unwrap();
    assert_eq!(
        subject,
        "[SJL-2026-000001] Tidak layak untuk permohonan manual / Not eligible for the manual \
         application — Ali bin Abu"
    );
    for part in [&text, &html] {
        for needle in [
            "tidak layak",
            "not eligible",
            "PHONE_IDSAYA_COUNTRY",
            "A China (+86) phone number is not eligible.",
            "iDsaya",
            "permohonan baharu",
            "send a new application",
            "not as a reply",
            // The other problems, for the new pack.
            "LOA_MISSING",
        ] {
            assert!(part.contains(needle), "ineligible lacks {needle}:\n{part}");
        }
        // Not the INCOMPLETE email's promise of a re-check on reply.
        assert!(!part.contains("incomplete") && !part.contains("Cara membetulkan"));
    }
    let (_, text, _) = r
        .render_parts(
            Template::Ineligible,
            &json!({"ref": "SJL-2026-000001", "ineligible": [], "problems": []}),
        )
        .unwrap();
    assert!(!text.contains("Other items to correct"), "{text}");
}

#[test]
fn the_reason_reads_once_and_incomplete_shows_the_identification_row() {
    let r = Renderer::new().unwrap();
    let mut ctx = sample_context();
    ctx["signee"]["reason"] = json!("OKU");
    let (_, text, html) = r.render_parts(Template::Ack, &ctx).unwrap();
    assert!(
        text.contains("OKU (Orang Kurang Upaya / Person with disability)"),
        "{text}"
    );
    assert!(!html.contains("(OKU)"), "{html}");

    // The core's context of an incomplete pack, as the INCOMPLETE email gets it.
    let mut case_fields = crate::pack_check::fields::Fields::default();
    for (field, value) in [
        (crate::pack_check::fields::Field::IdType, "MyKad"),
        (crate::pack_check::fields::Field::IdNumber, "900101-14-5673"),
        (crate::pack_check::fields::Field::FullName, "Ali bin Abu"),
    ] {
        case_fields.0.insert(field, value.to_string());
    }
    let case = crate::core::case::Case {
        reference: "SJL-2026-000001".into(),
        state: crate::core::case::CaseState::Incomplete,
        created_at: date(),
        updated_at: date(),
        company: "Seri Indah Development Sdn Bhd".into(),
        developer_address: "submit@seriindah.my".into(),
        fields: case_fields,
        application: None,
        documents: vec![],
        problems: vec![],
        notices: Vec::new(),
        thread: Default::default(),
        unreachable: 0,
        pin: Default::default(),
        keys: Default::default(),
    };
    let ctx = crate::core::context::case_context(&case);
    let (_, text, html) = r.render_parts(Template::Incomplete, &ctx).unwrap();
    for part in [&text, &html] {
        assert!(part.contains("MyKad 900101-14-****"), "{part}");
        assert!(!part.contains("5673"), "the full ID number is never shown");
    }
}
