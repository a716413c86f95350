//! A store that cannot be read stops the decision.

use super::*;

/// A store that cannot be read: every read fails.
pub(super) struct Unreadable;

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
    fn history(&self, _: &str) -> ViewResult<Vec<Event>> {
        Err(ViewError("disk gone".into()))
    }
    fn espa(&self, _: &str) -> ViewResult<Option<crate::core::espa::Espa>> {
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
    fn history(&self, r: &str) -> ViewResult<Vec<Event>> {
        self.0.history(r)
    }
    fn espa(&self, r: &str) -> ViewResult<Option<crate::core::espa::Espa>> {
        self.0.espa(r)
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
