//! Packs, supplements, duplicates, strangers and the reply-rate limit.

use super::*;

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
fn strangers_robots_and_replies_to_unknown_cases_are_quarantined_silently() {
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

#[test]
fn one_scan_sent_as_both_mykad_sides_is_named_to_developer_and_verifier_but_not_refused() {
    let mut docs = documents();
    docs[2].1 = JPEG.to_vec();
    let d = decide_raw(
        &message(DEV, "Permohonan", "p13@dev", &body(&fields()), &docs),
        &MemView::default(),
    );
    let case = d.written_case().expect("a case");
    assert_eq!(case.state, CaseState::Received, "not in the way");
    assert_eq!(d.filing, Some(Folder::Processed));
    let named: Vec<Template> = d
        .emails
        .iter()
        .filter(|e| {
            e.context["notices"]
                .as_array()
                .is_some_and(|n| n.iter().any(|p| p["code"] == "MYKAD_SIDES_SAME"))
        })
        .map(|e| e.template)
        .collect();
    assert!(
        named.contains(&Template::Ack) && named.contains(&Template::StaffVerify),
        "{named:?}"
    );
}
