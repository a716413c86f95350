//! Set-PIN links: issued (EMEL 2) and voided, and every decision a visit
//! can get, on a case brought to `pin_pending` from a real pack.

use super::*;
use crate::core::pin::{self, LinkStatus, Mistake, PinHash, Visit};

const PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

/// A received case from a real pack, in `mem`.
fn received(mem: &mut MemView) -> Case {
    let raw = message(
        DEV,
        "Permohonan Sijil Digital",
        "p@dev",
        &body(&fields()),
        &documents(),
    );
    let d = decide_raw(&raw, mem);
    mem.apply(&d, &[], now());
    d.written_case().cloned().expect("a case")
}

/// What the lead's APPROVED does around `issue_link`, then what the apply
/// path does with the link (`token` stands for the minted one).
fn approve(mem: &mut MemView, mut case: Case, token: &str, at: DateTime<Utc>) -> Effects {
    if case.state == CaseState::Received {
        case.transition(CaseState::Verified, at).unwrap();
    }
    case.transition(CaseState::PinPending, at).unwrap();
    let mut d = Effects::default();
    pin::issue_link(&mut case, &mut d, &cfg(), at);
    d.cases.push(crate::core::CaseWrite { case, new: None });
    let mut minted = d.clone();
    minted.cases[0].case.pin.link.as_mut().unwrap().token_sha256 = pin::token_sha256(token);
    mem.apply(&minted, &[], at);
    d
}

fn visit(mem: &MemView, token: &str, v: Visit<'_>, at: DateTime<Utc>) -> Effects {
    handle(
        Input::Pin {
            token_sha256: &pin::token_sha256(token),
            visit: v,
        },
        mem,
        &cfg(),
        at,
    )
    .expect("the view reads")
}

fn case_of(mem: &MemView, reference: &str) -> Case {
    mem.case(reference).unwrap().unwrap()
}

fn refusal(d: &Effects) -> Option<(String, String)> {
    d.events.iter().find_map(|(_, e)| match &e.what {
        EventKind::PinLinkRefused { why, visit } => Some((why.clone(), visit.clone())),
        _ => None,
    })
}

#[test]
fn issue_link_queues_emel2_to_the_signee_threaded_and_asks_for_a_token() {
    let mut mem = MemView::default();
    let case = received(&mut mem);
    let d = approve(&mut mem, case.clone(), "t1", now());
    assert_eq!(
        templates(&d),
        vec![(Template::Emel2, vec![SIGNEE.to_string()])]
    );
    let email = &d.emails[0];
    assert_eq!(email.case_ref.as_deref(), Some(case.reference.as_str()));
    assert_eq!(email.thread, case.thread, "threaded like EMEL 1");
    assert_eq!(email.context["pin_link"]["hours"], 72);
    assert!(
        email.context.get("pin_url").is_none(),
        "the core never has the token"
    );
    assert_eq!(d.pin_links, vec![case.reference.clone()]);
    let link = d.cases[0].case.pin.link.clone().unwrap();
    assert_eq!((link.number, link.token_sha256.as_str()), (1, ""));
    assert_eq!(link.expires_at, now() + chrono::TimeDelta::hours(72));
    assert!(d.events.iter().any(|(_, e)| matches!(
        e.what,
        EventKind::PinLinkIssued {
            number: 1,
            replaced: None,
            ..
        }
    )));
}

#[test]
fn a_new_link_voids_the_old_one() {
    let mut mem = MemView::default();
    let case = received(&mut mem);
    approve(&mut mem, case.clone(), "t1", now());
    let later = now() + chrono::TimeDelta::hours(1);
    // RESEND: the case stays pin_pending, a fresh link replaces the first.
    let mut c = case_of(&mem, &case.reference);
    let mut d = Effects::default();
    pin::issue_link(&mut c, &mut d, &cfg(), later);
    assert!(d.events.iter().any(|(_, e)| matches!(
        e.what,
        EventKind::PinLinkIssued {
            number: 2,
            replaced: Some(1),
            ..
        }
    )));
    c.pin.link.as_mut().unwrap().token_sha256 = pin::token_sha256("t2");
    d.cases.push(crate::core::CaseWrite { case: c, new: None });
    mem.apply(&d, &[], later);
    let c = case_of(&mem, &case.reference);
    assert_eq!(
        pin::link_status(&c, &pin::token_sha256("t1"), later),
        LinkStatus::Replaced
    );
    assert_eq!(
        pin::link_status(&c, &pin::token_sha256("t2"), later),
        LinkStatus::Current
    );
    let d = visit(&mem, "t1", Visit::Set(PinHash(PHC), None), later);
    assert!(d.cases.is_empty() && d.emails.is_empty());
    assert_eq!(refusal(&d), Some(("replaced".into(), "set_pin".into())));
}

#[test]
fn a_pin_on_a_current_link_sets_it_and_asks_qc() {
    let mut mem = MemView::default();
    let case = received(&mut mem);
    approve(&mut mem, case.clone(), "t1", now());
    let at = now() + chrono::TimeDelta::minutes(5);
    let d = visit(&mem, "t1", Visit::Set(PinHash(PHC), None), at);
    assert_eq!(d.reason, "pin set");
    let written = &d.cases[0].case;
    assert_eq!(written.state, CaseState::PinSet);
    assert_eq!(written.pin.hash.as_deref(), Some(PHC));
    assert_eq!(written.pin.set_at, Some(at));
    assert_eq!(written.pin.link.as_ref().unwrap().used_at, Some(at));
    assert_eq!(
        templates(&d),
        vec![(Template::StaffQc, vec!["chong@ra.example.my".to_string()])],
        "every qc officer, nobody else"
    );
    let ctx = d.emails[0].context.to_string();
    assert!(
        !ctx.contains(PHC) && !ctx.contains("5673"),
        "no hash, no ID number"
    );
    assert_eq!(d.emails[0].thread, case.thread);
    let kinds: Vec<&EventKind> = d.events.iter().map(|(_, e)| &e.what).collect();
    assert!(matches!(kinds[0], EventKind::PinLinkUsed { number: 1 }));
    assert!(matches!(
        kinds[1],
        EventKind::StateChanged {
            to: CaseState::PinSet,
            ..
        }
    ));
    assert!(matches!(kinds[2], EventKind::PinSet));
    assert!(
        !format!("{:?}", written.pin).contains("argon2"),
        "Debug hides the hash"
    );

    mem.apply(&d, &[], at);
    let again = visit(&mem, "t1", Visit::Set(PinHash(PHC), None), at);
    assert!(again.cases.is_empty() && again.emails.is_empty());
    assert_eq!(refusal(&again), Some(("used".into(), "set_pin".into())));
}

#[test]
fn every_refusal_changes_nothing_and_is_recorded() {
    let mut mem = MemView::default();
    let case = received(&mut mem);
    approve(&mut mem, case.clone(), "t1", now());

    // Unknown: nothing to record it on.
    let d = visit(&mem, "never-issued", Visit::Set(PinHash(PHC), None), now());
    assert_eq!(
        d,
        Effects {
            reason: "unknown pin link",
            ..Effects::default()
        }
    );

    // Expired: at the expiry itself already.
    let expiry = now() + chrono::TimeDelta::hours(72);
    let d = visit(&mem, "t1", Visit::Set(PinHash(PHC), None), expiry);
    assert!(d.cases.is_empty() && d.emails.is_empty());
    assert_eq!(refusal(&d), Some(("expired".into(), "set_pin".into())));
    let d = visit(&mem, "t1", Visit::Open, expiry);
    assert_eq!(refusal(&d), Some(("expired".into(), "open".into())));

    // Not pin_pending: the case was rejected meanwhile.
    let mut rejected = case_of(&mem, &case.reference);
    rejected.transition(CaseState::Rejected, now()).unwrap();
    let mut gone = mem.clone();
    gone.cases = vec![rejected];
    let d = visit(&gone, "t1", Visit::Set(PinHash(PHC), None), now());
    assert!(d.cases.is_empty() && d.emails.is_empty());
    assert_eq!(refusal(&d), Some(("not_pending".into(), "set_pin".into())));

    // A weak PIN on a current link: recorded by code, nothing else.
    let d = visit(
        &mem,
        "t1",
        Visit::Refused(&[Mistake::Run, Mistake::Mismatch]),
        now(),
    );
    assert!(d.cases.is_empty() && d.emails.is_empty());
    assert!(d.events.iter().any(|(r, e)| r == &case.reference
        && e.what
            == EventKind::PinRefused {
                codes: vec!["PIN_RUN".into(), "PIN_MISMATCH".into()]
            }));

    // Opening a current link is recorded as such.
    let d = visit(&mem, "t1", Visit::Open, now());
    assert!(d.cases.is_empty());
    assert!(matches!(
        d.events[0].1.what,
        EventKind::PinLinkOpened { number: 1 }
    ));
    assert_eq!(
        d.events[0].1.actor,
        crate::core::case::Actor::Signee(SIGNEE.into())
    );
}

#[test]
fn a_case_read_before_a_link_was_issued_or_used_is_behind() {
    let mut mem = MemView::default();
    let case = received(&mut mem);
    approve(&mut mem, case.clone(), "t1", now());
    let pending = case_of(&mem, &case.reference);
    let d = visit(&mem, "t1", Visit::Set(PinHash(PHC), None), now());
    let set = d.cases[0].case.clone();
    assert!(
        pin::behind(&set.pin, &pending.pin),
        "the PIN set would be lost"
    );
    assert!(
        pin::behind(&pending.pin, &case.pin),
        "the link issued would be lost"
    );
    assert!(!pin::behind(&pending.pin, &set.pin));
    assert!(!pin::behind(&set.pin, &set.pin));
    // A new link after the PIN was set (QC-FAIL) is a step forward too.
    let mut failed = set.clone();
    failed.transition(CaseState::PinPending, now()).unwrap();
    pin::issue_link(&mut failed, &mut Effects::default(), &cfg(), now());
    assert!(!pin::behind(&set.pin, &failed.pin));
}

#[test]
fn the_page_greets_by_first_name_only() {
    let mut mem = MemView::default();
    let case = received(&mut mem);
    assert_eq!(pin::first_name(&case).as_deref(), Some("Ali"));
}
