//! Commands on a case (SPEC §5): the whole (state × command × role) table of
//! the state machine, and replies read, threaded and answered end to end
//! through `handle`.

use super::*;
use crate::config::StaffRole;
use crate::core::command::{Command, Kind};
use crate::core::email::Thread;
use crate::core::transitions::{self, Giver, Refused};

const VERIFIER: &str = "aina@ra.example.my";
const OFFICER: &str = "badrul@ra.example.my";
const QC: &str = "chong@ra.example.my";
const ADMIN: &str = "dewi@ra.example.my";

fn staff(address: &str, role: StaffRole) -> Giver {
    Giver::Staff {
        address: address.into(),
        roles: vec![role],
    }
}

fn owner() -> Giver {
    Giver::Owner {
        address: DEV.into(),
    }
}

fn command(kind: Kind) -> Command {
    match kind {
        Kind::Verified => Command::Verified,
        Kind::Unreachable => Command::Unreachable,
        Kind::Approved => Command::Approved,
        Kind::QcPass => Command::QcPass,
        Kind::QcFail => Command::QcFail {
            reason: "gambar kabur".into(),
        },
        Kind::Reject => Command::Reject {
            reason: "nama tidak sepadan dengan MyKad".into(),
        },
        Kind::ResetPin => Command::ResetPin,
        Kind::Resend => Command::Resend,
        Kind::Status => Command::Status,
        Kind::Note => Command::Note {
            text: "called twice".into(),
        },
        Kind::Withdraw => Command::Withdraw,
    }
}

/// A received case as a complete pack makes it, in `state`.
fn case_in(state: CaseState) -> Case {
    let d = decide_raw(
        &message(DEV, "Permohonan", "p@dev", &body(&fields()), &documents()),
        &MemView::default(),
    );
    let mut case = d.cases[0].case.clone();
    assert_eq!(case.state, CaseState::Received);
    case.state = state;
    case
}

/// One row of SPEC §5: command, roles, states it is accepted in, the
/// state it leaves the case in.
type Row = (
    Kind,
    &'static [&'static str],
    Vec<CaseState>,
    Option<CaseState>,
);

/// SPEC §5 written out by hand: for each command and giver, the states in
/// which it is accepted, and the state it leaves the case in (None: the
/// state does not change).
#[test]
fn every_state_command_and_role_cell_follows_the_spec_table() {
    use CaseState::*;
    let all = [
        Incomplete, Received, Verified, PinPending, PinSet, Active, Signed, Rejected, Withdrawn,
    ];
    let before_active = [Incomplete, Received, Verified, PinPending, PinSet];
    let givers = [
        ("verifier", staff(VERIFIER, StaffRole::Verifier)),
        ("officer", staff(OFFICER, StaffRole::Officer)),
        ("qc", staff(QC, StaffRole::Qc)),
        ("admin", staff(ADMIN, StaffRole::Admin)),
        ("owner", owner()),
    ];
    // (command, roles, states, to)
    let table: Vec<Row> = vec![
        (
            Kind::Verified,
            &["verifier"],
            vec![Received],
            Some(Verified),
        ),
        (Kind::Unreachable, &["verifier"], vec![Received], None),
        (
            Kind::Approved,
            &["officer"],
            vec![Verified],
            Some(PinPending),
        ),
        (Kind::QcPass, &["qc"], vec![PinSet], Some(Active)),
        (Kind::QcFail, &["qc"], vec![PinSet], Some(PinPending)),
        (
            Kind::Reject,
            &["verifier", "officer", "qc", "admin"],
            before_active.to_vec(),
            Some(Rejected),
        ),
        (
            Kind::ResetPin,
            &["qc", "admin"],
            vec![PinSet, Active],
            Some(PinPending),
        ),
        // RESEND on an active case has no link to send until signing
        // links exist: refused as "nothing to do", tested below.
        (
            Kind::Resend,
            &["verifier", "officer", "qc", "admin"],
            vec![PinPending],
            None,
        ),
        (
            Kind::Status,
            &["verifier", "officer", "qc", "admin", "owner"],
            all.to_vec(),
            None,
        ),
        (
            Kind::Note,
            &["verifier", "officer", "qc", "admin"],
            all.to_vec(),
            None,
        ),
        (
            Kind::Withdraw,
            &["owner"],
            before_active.to_vec(),
            Some(Withdrawn),
        ),
    ];
    assert_eq!(
        table.len(),
        Kind::ALL.len(),
        "every command is in the table"
    );
    let cfg = cfg();
    let mut cells = 0;
    for (kind, roles, states, to) in &table {
        for (role, giver) in &givers {
            for state in all {
                cells += 1;
                let case = case_in(state);
                let got = transitions::decide(
                    &case,
                    &command(*kind),
                    giver,
                    &[],
                    &Thread::default(),
                    &cfg,
                    now(),
                );
                let cell = format!("{kind} by {role} in {state}");
                let role_may = roles.contains(role);
                let accepted = role_may && states.contains(&state);
                match got {
                    Ok(a) => {
                        assert!(accepted, "{cell}: accepted, the spec refuses it");
                        assert_eq!(a.case.state, to.unwrap_or(state), "{cell}");
                        assert!(!a.emails.is_empty(), "{cell}: every command is answered");
                    }
                    Err(refusal) => {
                        assert!(
                            !accepted,
                            "{cell}: refused ({refusal:?}), the spec accepts it"
                        );
                        match refusal {
                            Refused::RoleMayNot { .. } => assert!(!role_may, "{cell}"),
                            Refused::NotNow { allowed, .. } => {
                                assert!(role_may, "{cell}");
                                assert!(!allowed.contains(kind), "{cell}");
                            }
                            Refused::NothingToDo { .. } => {
                                assert_eq!((*kind, state), (Kind::Resend, Active), "{cell}")
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cells, 11 * 5 * 9);
}

#[test]
fn a_refusal_names_the_commands_this_giver_may_give_now() {
    let case = case_in(CaseState::Received);
    let cfg = cfg();
    let refusal = transitions::decide(
        &case,
        &Command::Approved,
        &staff(VERIFIER, StaffRole::Verifier),
        &[],
        &Thread::default(),
        &cfg,
        now(),
    )
    .expect_err("a verifier may not approve");
    let allowed: Vec<&str> = refusal.allowed().iter().map(|k| k.keyword()).collect();
    assert_eq!(
        allowed,
        ["VERIFIED", "UNREACHABLE", "REJECT", "STATUS", "NOTE"]
    );
    let (ms, en) = refusal.sentences();
    assert!(
        ms.contains("APPROVED") && en.contains("APPROVED"),
        "{ms} / {en}"
    );
}

#[test]
fn the_developer_is_told_at_the_third_unreachable_only() {
    let cfg = cfg();
    let mut case = case_in(CaseState::Received);
    let verifier = staff(VERIFIER, StaffRole::Verifier);
    for attempt in 1..=4 {
        let a = transitions::decide(
            &case,
            &Command::Unreachable,
            &verifier,
            &[],
            &Thread::default(),
            &cfg,
            now(),
        )
        .expect("accepted");
        let told = a
            .emails
            .iter()
            .any(|e| e.template == Template::Unreachable && e.to[0].email == DEV);
        assert_eq!(told, attempt == 3, "attempt {attempt}");
        assert_eq!(a.case.unreachable, attempt);
        assert_eq!(a.case.state, CaseState::Received);
        case = a.case;
    }
}

/// A pack taken into `mem`, with the Message-IDs its emails got.
fn received(mem: &mut MemView) -> Vec<(Template, String, String)> {
    let d = decide_raw(
        &message(DEV, "Permohonan", "p1@dev", &body(&fields()), &documents()),
        mem,
    );
    let ids: Vec<String> = (0..d.emails.len()).map(|i| format!("ours{i}@ra")).collect();
    mem.apply(&d, &ids, now());
    d.emails
        .iter()
        .zip(ids)
        .map(|(e, id)| (e.template, e.to[0].email.clone(), id))
        .collect()
}

fn reply(from: &str, in_reply_to: Option<&str>, id: &str, text: &str) -> Vec<u8> {
    let threading = in_reply_to
        .map(|m| format!("In-Reply-To: <{m}>\r\nReferences: <{m}>\r\n"))
        .unwrap_or_default();
    format!(
        "From: {from}\r\nTo: kpkt.retail@ra.example.my\r\nSubject: Re: [SJL-2026-000001] Panggilan pengesahan\r\nMessage-ID: <{id}>\r\n{threading}Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    )
    .into_bytes()
}

fn id_of(sent: &[(Template, String, String)], template: Template) -> String {
    sent.iter()
        .find(|(t, _, _)| *t == template)
        .map(|(_, _, id)| id.clone())
        .expect("that email was sent")
}

#[test]
fn a_threaded_verified_moves_the_case_and_asks_the_officers() {
    let mut mem = MemView::default();
    let sent = received(&mut mem);
    let verify = id_of(&sent, Template::StaffVerify);
    let text =
        "Disahkan\r\n\r\nOn Wed, 25 Nov 2026 at 09:01, POS Digicert RA wrote:\r\n> TOLAK\r\n";
    let d = decide_raw(&reply(VERIFIER, Some(&verify), "c1@ra", text), &mem);
    assert_eq!(d.filing, Some(Folder::Processed));
    assert_eq!(d.cases[0].case.state, CaseState::Verified);
    let t = templates(&d);
    assert!(
        t.contains(&(Template::StaffGenerate, vec![OFFICER.to_string()])),
        "{t:?}"
    );
    let ack = d
        .emails
        .iter()
        .find(|e| e.template == Template::CommandAck)
        .expect("an ACK");
    assert_eq!(ack.to[0].email, VERIFIER);
    assert_eq!(
        ack.thread.in_reply_to.as_deref(),
        Some("c1@ra"),
        "the answer threads to the command"
    );
    assert!(d.events.iter().any(|(_, e)| matches!(
        &e.what,
        EventKind::CommandAccepted { command, .. } if command == "VERIFIED"
    )));
}

#[test]
fn a_staff_command_that_does_not_thread_to_an_email_sent_to_them_changes_nothing() {
    let mut mem = MemView::default();
    let sent = received(&mut mem);
    // An email of this case, but sent to someone else (the developer's ACK).
    let ack = id_of(&sent, Template::Ack);
    for (label, in_reply_to) in [
        ("a new message", None),
        ("a forward of another's email", Some(ack.as_str())),
    ] {
        let d = decide_raw(&reply(VERIFIER, in_reply_to, "f1@x", "VERIFIED"), &mem);
        assert!(d.cases.is_empty(), "{label}: nothing changes");
        assert_eq!(d.filing, Some(Folder::Rejected), "{label}");
        assert_eq!(
            templates(&d),
            [(Template::CommandError, vec![VERIFIER.to_string()])],
            "{label}: the real address is told"
        );
        let error = &d.emails[0];
        assert!(
            error.context["reason_en"]
                .as_str()
                .unwrap_or("")
                .contains("reply to that case email"),
            "{label}: {}",
            error.context
        );
        assert!(
            d.events
                .iter()
                .any(|(_, e)| matches!(&e.what, EventKind::CommandRefused { .. })),
            "{label}"
        );
    }
}

#[test]
fn with_authentication_required_only_a_vouched_sender_commands() {
    let mut mem = MemView::default();
    let sent = received(&mut mem);
    let verify = id_of(&sent, Template::StaffVerify);
    let mut cfg = cfg();
    cfg.security.require_authenticated_sender = true;
    cfg.security.authserv_id = Some("mx.ra.example.my".into());
    let decide = |raw: Vec<u8>| {
        let msg = parse(&raw);
        let class = Classifier::new(&cfg).classify(&msg, &cfg);
        handle(
            Input::Message {
                msg: &msg,
                class: &class,
            },
            &mem,
            &cfg,
            now(),
        )
        .expect("reads")
    };
    let plain = reply(VERIFIER, Some(&verify), "a1@ra", "VERIFIED");
    let d = decide(plain.clone());
    assert!(d.cases.is_empty(), "no Authentication-Results: refused");
    let foreign = [
        b"Authentication-Results: mx.attacker.example; dkim=pass header.d=ra.example.my\r\n"
            .as_slice(),
        &plain,
    ]
    .concat();
    assert!(
        decide(foreign).cases.is_empty(),
        "someone else's header counts for nothing"
    );
    let ours = [
        b"Authentication-Results: mx.ra.example.my; dkim=pass header.d=ra.example.my\r\n"
            .as_slice(),
        &plain,
    ]
    .concat();
    let d = decide(ours);
    assert_eq!(d.cases[0].case.state, CaseState::Verified);
}

#[test]
fn the_signees_reply_is_forwarded_to_staff_and_never_a_command() {
    let mut mem = MemView::default();
    let sent = received(&mut mem);
    let emel1 = id_of(&sent, Template::Emel1);
    let d = decide_raw(
        &reply(
            SIGNEE,
            Some(&emel1),
            "s1@buyer",
            "VERIFIED\r\nBila saya akan dihubungi?",
        ),
        &mem,
    );
    assert!(d.cases.is_empty(), "the case does not change");
    assert_eq!(d.filing, Some(Folder::Processed));
    assert_eq!(
        templates(&d),
        [(Template::SigneeMessage, vec![VERIFIER.to_string()])]
    );
    assert!(
        d.emails[0].context["message"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("Bila saya")
    );
}

#[test]
fn status_shows_the_history_and_withdraw_by_the_owner_tells_the_holders() {
    let mut mem = MemView::default();
    let sent = received(&mut mem);
    let ack = id_of(&sent, Template::Ack);
    let verify = id_of(&sent, Template::StaffVerify);
    let note = decide_raw(
        &reply(VERIFIER, Some(&verify), "n1@ra", "NOTE called, no answer"),
        &mem,
    );
    mem.apply(&note, &[], now());
    let d = decide_raw(&reply(DEV, Some(&ack), "st@dev", "status"), &mem);
    assert_eq!(templates(&d), [(Template::Status, vec![DEV.to_string()])]);
    let history = d.emails[0].context["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(history.len() >= 3, "{history:?}");
    assert!(
        history
            .iter()
            .all(|h| h["at"].as_str().is_some_and(|t| t.ends_with("+08:00"))),
        "{history:?}"
    );
    let shown = d.emails[0].context["history"].to_string();
    assert!(
        shown.contains("NOTE") && shown.contains("RA staff"),
        "{shown}"
    );
    assert!(
        !shown.contains(VERIFIER),
        "the developer never sees staff addresses: {shown}"
    );

    let d = decide_raw(&reply(DEV, Some(&ack), "wd@dev", "BATAL"), &mem);
    assert_eq!(d.cases[0].case.state, CaseState::Withdrawn);
    let t = templates(&d);
    assert!(
        t.contains(&(Template::Withdrawn, vec![VERIFIER.to_string()])),
        "{t:?}"
    );
    assert!(
        t.contains(&(Template::CommandAck, vec![DEV.to_string()])),
        "{t:?}"
    );
}

#[test]
fn a_reject_without_its_reason_is_refused_saying_so() {
    let mut mem = MemView::default();
    let sent = received(&mut mem);
    let verify = id_of(&sent, Template::StaffVerify);
    let d = decide_raw(&reply(VERIFIER, Some(&verify), "r0@ra", "REJECT"), &mem);
    assert!(d.cases.is_empty());
    assert_eq!(d.emails[0].template, Template::CommandError);
    assert!(
        d.emails[0].context["reason_en"]
            .as_str()
            .unwrap_or("")
            .contains("needs a reason")
    );

    let d = decide_raw(
        &reply(
            VERIFIER,
            Some(&verify),
            "r1@ra",
            "TOLAK nama tidak sepadan dengan MyKad",
        ),
        &mem,
    );
    assert_eq!(d.cases[0].case.state, CaseState::Rejected);
    let rejected: Vec<&str> = d
        .emails
        .iter()
        .filter(|e| e.template == Template::Rejected)
        .map(|e| e.to[0].email.as_str())
        .collect();
    assert_eq!(rejected, [DEV, SIGNEE]);
    assert_eq!(
        d.emails[0].context["reason"],
        "nama tidak sepadan dengan MyKad"
    );
}

#[test]
fn the_signees_forwards_are_limited_per_hour_like_answers() {
    let mut mem = MemView::default();
    let sent = received(&mut mem);
    let emel1 = id_of(&sent, Template::Emel1);
    let mut cfg = cfg();
    cfg.security.reply_rate_per_hour = 2;
    let mut forwarded = Vec::new();
    for i in 0..3 {
        let raw = reply(
            SIGNEE,
            Some(&emel1),
            &format!("s{i}@buyer"),
            "Auto-reply: out of office",
        );
        let msg = parse(&raw);
        let class = Classifier::new(&cfg).classify(&msg, &cfg);
        let d = handle(
            Input::Message {
                msg: &msg,
                class: &class,
            },
            &mem,
            &cfg,
            now(),
        )
        .expect("reads");
        forwarded.push(d.emails.len());
        if i == 2 {
            assert!(
                d.events
                    .iter()
                    .any(|(_, e)| matches!(e.what, EventKind::ReplySuppressed { .. }))
            );
        }
        mem.apply(&d, &[], now());
    }
    assert_eq!(
        forwarded,
        [1, 1, 0],
        "the third in the hour is recorded, not forwarded"
    );
}
