//! Delivery reports and SMTP refusals of our emails.

use super::*;

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
