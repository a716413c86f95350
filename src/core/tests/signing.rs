//! Signing in order (SPEC §3, §7) with an in-memory view and a clock that
//! is an input: readiness from a QC-PASS or
//! an EKYC-OK, the code's rules (once a minute, ten minutes, five wrong
//! tries), five wrong PINs, a signature, a decline, COMPLETED; and every
//! refusal a link can meet.

use chrono::TimeDelta;

use super::*;
use crate::core::email::FromAddress;
use crate::core::espa::signing::{self, Client, Outcome, PinCheck, Status, Visit};
use crate::core::espa::{Espa, EspaDocument, Route, Signee, SigneeState, turn};
use crate::core::pin;
use crate::pack_check::SigneeRole;

const CLIENT: Client<'static> = Client {
    ip: "192.0.2.7",
    user_agent: "Mozilla/5.0 (Linux; Android 14) Mobile",
};

/// Our stand-in for the apply path's minting: a token's "hash" and a
/// code's "mac" that the tests can name.
pub(super) fn mint(mem: &mut MemView, d: &Effects, at: DateTime<Utc>) {
    let mut d = d.clone();
    for (reference, order) in &d.sign_links.clone() {
        let w = d.espas.iter_mut().find(|w| w.espa.reference == *reference);
        if let Some(s) = w.and_then(|w| w.espa.signee_mut(*order)) {
            let link = s.sign_link.as_mut().expect("a link to mint");
            link.token_sha256 = token(*order, link.number);
        }
    }
    for (reference, order) in &d.sign_codes.clone() {
        let w = d.espas.iter_mut().find(|w| w.espa.reference == *reference);
        if let Some(s) = w.and_then(|w| w.espa.signee_mut(*order)) {
            s.code.as_mut().expect("a code to mint").mac = "right".into();
        }
    }
    mem.apply(&d, &[], at);
}

fn token(order: u32, number: u32) -> String {
    format!("token-{order}-{number}")
}

pub(super) fn signee(order: u32, role: SigneeRole, email: &str, route: Route) -> Signee {
    Signee::registered(order, role, format!("Signee {order}"), email.into(), route)
}

/// A registered eSPA: 1 the developer (idsaya), 2 the buyer [`SIGNEE`]
/// (manual, with a case), 3 a witness (idsaya).
pub(super) fn registered(mem: &mut MemView) -> Espa {
    let espa = Espa {
        reference: "HDA-2026-000123".into(),
        project: "Taman Seri Indah".into(),
        company: "Seri Indah Development Sdn Bhd".into(),
        developer_address: DEV.into(),
        signees: vec![
            signee(1, SigneeRole::Pemaju, "lim@developer.my", Route::Idsaya),
            signee(2, SigneeRole::Pembeli, SIGNEE, Route::Manual),
            signee(3, SigneeRole::Saksi, "siti@example.com", Route::Idsaya),
        ],
        document: EspaDocument {
            name: "eSPA.pdf".into(),
            size: 100,
            sha256: "ab".repeat(32),
        },
        thread: Default::default(),
        created_at: now(),
        updated_at: now(),
        completed_at: None,
        version: 1,
        signed_pdf: None,
    };
    mem.espas.push(espa.clone());
    espa
}

/// The buyer's pack arrives (linked on arrival) and the RA makes the
/// certificate active.
fn buyer_active(mem: &mut MemView) -> String {
    let d = decide_raw(
        &message(DEV, "Permohonan", "p1@dev", &body(&fields()), &documents()),
        mem,
    );
    mint(mem, &d, now());
    let mut case = d.cases[0].case.clone();
    assert_eq!(
        mem.espa("HDA-2026-000123").unwrap().unwrap().signees[1].case_ref,
        Some(case.reference.clone()),
        "linked on arrival"
    );
    // The RA's flow, as its commands leave the case (tested in commands.rs).
    case.state = CaseState::Active;
    case.pin.hash = Some("$argon2id$…".into());
    let mut effects = Effects {
        cases: vec![crate::core::CaseWrite {
            case: case.clone(),
            new: None,
        }],
        ..Effects::default()
    };
    crate::core::espa::link::follow_cases(&mut effects, mem, &cfg(), now()).unwrap();
    mint(mem, &effects, now());
    case.reference
}

fn espa(mem: &MemView) -> Espa {
    mem.espa("HDA-2026-000123").unwrap().unwrap()
}

fn ekyc_ok(mem: &mut MemView, order: u32) -> Effects {
    let mut e = espa(mem);
    e.signee_mut(order).unwrap().state = SigneeState::Ready;
    let mut effects = Effects::default();
    turn::advance(&mut e, mem, &mut effects, &cfg(), now()).unwrap();
    e.version += 1;
    effects.espas.push(crate::core::espa::EspaWrite {
        espa: e,
        new: false,
    });
    mint(mem, &effects, now());
    effects
}

/// Decides `v`; a signature is given the PDF the web edge would have
/// made over the eSPA's current PDF.
fn visit(mem: &mut MemView, tok: &str, v: Visit<'_>, at: DateTime<Utc>) -> (Outcome, Effects) {
    let made;
    let v = match v {
        Visit::Sign {
            code_mac,
            pin,
            client,
            pdf: None,
        } => {
            made = signed_over(mem);
            Visit::Sign {
                code_mac,
                pin,
                client,
                pdf: Some(&made),
            }
        }
        other => other,
    };
    let d = signing::visit(tok, v, mem, &cfg(), at).unwrap();
    mint(mem, &d.effects, at);
    (d.outcome, d.effects)
}

fn sign(code: &str, pin: PinCheck) -> Visit<'_> {
    Visit::Sign {
        code_mac: code,
        pin,
        client: CLIENT,
        pdf: None,
    }
}

/// A signed PDF over the eSPA's current one.
fn signed_over(mem: &MemView) -> signing::SignedPdf {
    let base = mem
        .espas
        .last()
        .map(|e| e.current_sha256().to_string())
        .unwrap_or_default();
    signing::SignedPdf {
        sha256: crate::edge::inbound::sha256_hex(format!("{base}+1").as_bytes()),
        size: 200,
        base_sha256: base,
        certificate_serial: "0A1B".into(),
    }
}

fn templates(d: &Effects) -> Vec<(Template, String)> {
    d.emails
        .iter()
        .map(|e| (e.template, e.to[0].email.clone()))
        .collect()
}

#[test]
fn emel4_goes_to_each_in_turn_whoever_became_ready_first() {
    let mut mem = MemView::default();
    registered(&mut mem);
    buyer_active(&mut mem);
    // The buyer is ready long before their turn: no EMEL 4 yet.
    assert_eq!(espa(&mem).signees[1].state, SigneeState::Ready);
    assert!(espa(&mem).signees[1].sign_link.is_none());
    assert_eq!(turn::next(&espa(&mem)), Some(1));
    // EKYC-OK 1: it is the developer's turn and they are ready.
    let d = ekyc_ok(&mut mem, 1);
    assert_eq!(
        templates(&d),
        [(Template::Emel4, "lim@developer.my".to_string())]
    );
    assert_eq!(d.emails[0].from, FromAddress::Hims);
    assert_eq!(d.emails[0].context["needs_pin"], false);

    let t1 = token(1, 1);
    let (out, d) = visit(&mut mem, &t1, Visit::RequestCode, now());
    assert_eq!(out, Outcome::CodeSent);
    assert_eq!(
        templates(&d),
        [(Template::SignCode, "lim@developer.my".into())]
    );
    assert_eq!(d.emails[0].from, FromAddress::Hims);
    let at = now() + TimeDelta::minutes(2);
    let (out, d) = visit(&mut mem, &t1, sign("right", PinCheck::NotNeeded), at);
    assert_eq!(out, Outcome::Signed { completed: false });
    // SIGNED to the signer, EMEL 4 to the buyer (ready since before), the
    // developer's progress note.
    assert_eq!(
        templates(&d),
        [
            (Template::Signed, "lim@developer.my".to_string()),
            (Template::Emel4, SIGNEE.to_string()),
            (Template::EspaProgress, DEV.to_string()),
        ]
    );
    let sig = espa(&mem).signees[0].signature.clone().unwrap();
    assert_eq!(
        (sig.at, sig.route, sig.client_ip.as_str()),
        (at, Route::Idsaya, "192.0.2.7")
    );
    assert_eq!(sig.document_sha256, "ab".repeat(32));
    // The link died with its use; a second submission signs nothing.
    let (out, d) = visit(&mut mem, &t1, sign("right", PinCheck::NotNeeded), at);
    assert_eq!(out, Outcome::Refused(Status::Used));
    assert!(d.espas.is_empty() && d.emails.is_empty());

    // The buyer signs with the code and the PIN; the witness is not
    // ready: nobody is sent EMEL 4, the developer is told who waits.
    let t2 = token(2, 1);
    visit(&mut mem, &t2, Visit::RequestCode, at);
    let (out, d) = visit(&mut mem, &t2, sign("right", PinCheck::Right), at);
    assert_eq!(out, Outcome::Signed { completed: false });
    let progress = d
        .emails
        .iter()
        .find(|e| e.template == Template::EspaProgress)
        .unwrap();
    assert_eq!(progress.context["next"]["order"], 3);
    assert_eq!(progress.context["next_waiting"], true);
    assert!(!d.emails.iter().any(|e| e.template == Template::Emel4));

    // EKYC-OK 3 after their turn came: EMEL 4 at once. The last signature
    // completes: COMPLETED to the developer and each signee, from HIMS,
    // and the buyer's case becomes signed.
    let d = ekyc_ok(&mut mem, 3);
    assert_eq!(
        templates(&d),
        [(Template::Emel4, "siti@example.com".into())]
    );
    let t3 = token(3, 1);
    visit(&mut mem, &t3, Visit::RequestCode, at);
    let (out, d) = visit(&mut mem, &t3, sign("right", PinCheck::NotNeeded), at);
    assert_eq!(out, Outcome::Signed { completed: true });
    let completed: Vec<_> = d
        .emails
        .iter()
        .filter(|e| e.template == Template::Completed)
        .map(|e| (e.from, e.to[0].email.as_str()))
        .collect();
    assert_eq!(
        completed,
        [
            (FromAddress::Hims, DEV),
            (FromAddress::Hims, "lim@developer.my"),
            (FromAddress::Hims, SIGNEE),
            (FromAddress::Hims, "siti@example.com"),
        ]
    );
    assert_eq!(d.cases.len(), 1);
    assert_eq!(d.cases[0].case.state, CaseState::Signed);
    assert!(espa(&mem).completed_at.is_some());
    let signatures = &d
        .emails
        .iter()
        .find(|e| e.template == Template::Completed)
        .unwrap()
        .context["signatures"];
    assert_eq!(signatures.as_array().unwrap().len(), 3);
}

#[test]
fn the_code_is_sent_once_a_minute_lasts_ten_minutes_and_dies_after_five_wrong_tries() {
    let mut mem = MemView::default();
    registered(&mut mem);
    ekyc_ok(&mut mem, 1);
    let t = token(1, 1);
    // Signing before asking for a code.
    let (out, _) = visit(&mut mem, &t, sign("right", PinCheck::NotNeeded), now());
    assert_eq!(out, Outcome::CodeMissing);
    assert_eq!(
        visit(&mut mem, &t, Visit::RequestCode, now()).0,
        Outcome::CodeSent
    );
    let (out, d) = visit(
        &mut mem,
        &t,
        Visit::RequestCode,
        now() + TimeDelta::seconds(20),
    );
    assert_eq!(out, Outcome::CodeTooSoon { seconds: 40 });
    assert!(d.emails.is_empty(), "no second CODE within the minute");
    // Ten minutes after it was sent the code is dead.
    let late = now() + TimeDelta::minutes(10);
    let (out, _) = visit(&mut mem, &t, sign("right", PinCheck::NotNeeded), late);
    assert_eq!(out, Outcome::CodeExpired);
    // A new one; four wrong tries say how many are left, the fifth voids
    // it, and then even the right code does not sign.
    assert_eq!(
        visit(&mut mem, &t, Visit::RequestCode, late).0,
        Outcome::CodeSent
    );
    for left in [4, 3, 2, 1] {
        let (out, _) = visit(&mut mem, &t, sign("wrong", PinCheck::NotNeeded), late);
        assert_eq!(out, Outcome::CodeWrong { tries_left: left });
    }
    let (out, _) = visit(&mut mem, &t, sign("wrong", PinCheck::NotNeeded), late);
    assert_eq!(out, Outcome::CodeVoid);
    let (out, _) = visit(&mut mem, &t, sign("right", PinCheck::NotNeeded), late);
    assert_eq!(out, Outcome::CodeVoid);
    assert_eq!(espa(&mem).signees[0].state, SigneeState::Ready);
    // A new code works.
    let later = late + TimeDelta::minutes(1);
    assert_eq!(
        visit(&mut mem, &t, Visit::RequestCode, later).0,
        Outcome::CodeSent
    );
    let (out, _) = visit(&mut mem, &t, sign("right", PinCheck::NotNeeded), later);
    assert_eq!(out, Outcome::Signed { completed: false });
}

#[test]
fn five_wrong_pins_lock_the_certificate_and_a_reset_pin_then_a_new_link_sign() {
    let mut mem = MemView::default();
    registered(&mut mem);
    let case = buyer_active(&mut mem);
    ekyc_ok(&mut mem, 1);
    let t1 = token(1, 1);
    visit(&mut mem, &t1, Visit::RequestCode, now());
    visit(&mut mem, &t1, sign("right", PinCheck::NotNeeded), now());
    let t2 = token(2, 1);
    visit(&mut mem, &t2, Visit::RequestCode, now());
    // A wrong code never reaches the PIN: nothing counted on the case.
    visit(&mut mem, &t2, sign("wrong", PinCheck::Wrong), now());
    assert_eq!(mem.case(&case).unwrap().unwrap().pin.failures, 0);
    for left in [4, 3, 2, 1] {
        let (out, _) = visit(&mut mem, &t2, sign("right", PinCheck::Wrong), now());
        assert_eq!(out, Outcome::PinWrong { tries_left: left });
    }
    let (out, d) = visit(&mut mem, &t2, sign("right", PinCheck::Wrong), now());
    assert_eq!(out, Outcome::PinLocked);
    let locked: Vec<_> = d
        .emails
        .iter()
        .filter(|e| e.template == Template::PinLocked)
        .collect();
    assert!(!locked.is_empty(), "the staff holding the case are told");
    let stored = mem.case(&case).unwrap().unwrap();
    assert_eq!(stored.pin.failures, pin::MAX_WRONG_PINS);
    assert!(stored.pin.locked_at.is_some());
    // Locked: even the right PIN does not sign now.
    let (out, _) = visit(&mut mem, &t2, sign("right", PinCheck::Right), now());
    assert_eq!(out, Outcome::Refused(Status::Locked));
    assert_eq!(espa(&mem).signees[1].state, SigneeState::Waiting);

    // RESET-PIN: a new set-PIN link clears the count and the lock; a new
    // PIN and QC-PASS make the certificate active again, and a fresh
    // EMEL 4 replaces the old link.
    let mut reset = stored.clone();
    reset.state = CaseState::PinPending;
    let mut effects = Effects::default();
    pin::issue_link(&mut reset, &mut effects, &cfg(), now());
    assert_eq!((reset.pin.failures, reset.pin.locked_at), (0, None));
    reset.state = CaseState::Active;
    let mut effects = Effects {
        cases: vec![crate::core::CaseWrite {
            case: reset,
            new: None,
        }],
        ..Effects::default()
    };
    crate::core::espa::link::follow_cases(&mut effects, &mem, &cfg(), now()).unwrap();
    assert_eq!(templates(&effects), [(Template::Emel4, SIGNEE.into())]);
    mint(&mut mem, &effects, now());
    let (out, _) = visit(&mut mem, &t2, Visit::Open, now());
    assert_eq!(out, Outcome::Refused(Status::Replaced));
    let t2b = token(2, 2);
    visit(&mut mem, &t2b, Visit::RequestCode, now());
    let (out, _) = visit(&mut mem, &t2b, sign("right", PinCheck::Right), now());
    assert_eq!(out, Outcome::Signed { completed: false });
}

#[test]
fn a_decline_stops_everyone_after_and_tells_the_developer_and_the_staff() {
    let mut mem = MemView::default();
    registered(&mut mem);
    buyer_active(&mut mem);
    ekyc_ok(&mut mem, 1);
    let t1 = token(1, 1);
    visit(&mut mem, &t1, Visit::RequestCode, now());
    visit(&mut mem, &t1, sign("right", PinCheck::NotNeeded), now());
    let t2 = token(2, 1);
    let (out, d) = visit(
        &mut mem,
        &t2,
        Visit::Decline {
            reason: "   ",
            client: CLIENT,
        },
        now(),
    );
    assert_eq!(out, Outcome::ReasonMissing);
    assert!(d.espas.is_empty());
    let (out, d) = visit(
        &mut mem,
        &t2,
        Visit::Decline {
            reason: "Harga dalam perjanjian salah / the price is wrong",
            client: CLIENT,
        },
        now(),
    );
    assert_eq!(out, Outcome::Declined);
    let to: Vec<_> = templates(&d);
    assert_eq!(to[0], (Template::EspaDeclined, DEV.into()));
    assert!(
        to.len() > 1,
        "and the staff holding the buyer's case: {to:?}"
    );
    assert_eq!(
        d.emails[0].context["reason"],
        "Harga dalam perjanjian salah / the price is wrong"
    );
    assert_eq!(turn::next(&espa(&mem)), None);
    let (out, _) = visit(&mut mem, &t2, Visit::Open, now());
    assert_eq!(out, Outcome::Refused(Status::Declined));
    let history: Vec<_> = mem
        .history("eSPA HDA-2026-000123")
        .unwrap()
        .into_iter()
        .map(|e| e.what)
        .collect();
    assert!(
        history
            .iter()
            .any(|w| matches!(w, EventKind::SignDeclined { order: 2, .. }))
    );
}

#[test]
fn refusals_a_link_can_meet() {
    let mut mem = MemView::default();
    registered(&mut mem);
    ekyc_ok(&mut mem, 1);
    let t1 = token(1, 1);
    // Unknown token.
    let (out, d) = visit(&mut mem, "nobody-issued-this", Visit::Open, now());
    assert_eq!(out, Outcome::Unknown);
    assert!(d.events.is_empty());
    // Expired: seven days (`sign_link_days`) after it was issued.
    let week = now() + TimeDelta::days(7);
    assert_eq!(
        visit(&mut mem, &t1, Visit::Open, week).0,
        Outcome::Refused(Status::Expired)
    );
    // Not their turn: a link for signee 3 while 1 has not signed (it can
    // only exist if forged into the index; the page says so).
    let mut e = espa(&mem);
    let s3 = e.signee_mut(3).unwrap();
    s3.state = SigneeState::Ready;
    s3.sign_link = Some(signing::SignLink {
        token_sha256: "forged".into(),
        number: 1,
        issued_at: now(),
        expires_at: week,
        used_at: None,
    });
    mem.espas = vec![e.clone()];
    mem.sign_links
        .push(("forged".into(), e.reference.clone(), 3));
    assert_eq!(
        visit(&mut mem, "forged", Visit::RequestCode, now()).0,
        Outcome::Refused(Status::NotYourTurn)
    );
    assert_eq!(Status::NotYourTurn.http(), 409);
    assert_eq!(Status::Used.http(), 410);
    assert_eq!(Status::Locked.http(), 423);
}

#[test]
fn resend_on_an_active_case_sends_a_fresh_emel4_and_voids_the_old_link() {
    use crate::core::command::Command;
    use crate::core::transitions::{self, Giver};
    let mut mem = MemView::default();
    registered(&mut mem);
    let reference = buyer_active(&mut mem);
    // Before any EMEL 4, RESEND on the active case has nothing to send.
    let case = mem.case(&reference).unwrap().unwrap();
    let qc = Giver::Staff {
        address: "chong@ra.example.my".into(),
        roles: vec![crate::config::StaffRole::Qc],
    };
    let history = mem.history(&reference).unwrap();
    let answer = Default::default();
    let refused = transitions::decide(
        &case,
        &Command::Resend,
        &qc,
        &history,
        &answer,
        &cfg(),
        now(),
    );
    assert!(refused.is_err());
    // Signee 1 signs; the buyer gets EMEL 4, recorded on their case too.
    ekyc_ok(&mut mem, 1);
    let t1 = token(1, 1);
    visit(&mut mem, &t1, Visit::RequestCode, now());
    visit(&mut mem, &t1, sign("right", PinCheck::NotNeeded), now());
    let history = mem.history(&reference).unwrap();
    let accepted = transitions::decide(
        &case,
        &Command::Resend,
        &qc,
        &history,
        &answer,
        &cfg(),
        now(),
    )
    .expect("RESEND accepted once EMEL 4 went out");
    assert!(accepted.sign_link && !accepted.pin_link);
    let mut effects = transitions::effects_of(accepted, &cfg(), now());
    turn::resend(&case, &mem, &mut effects, &cfg(), now()).unwrap();
    assert!(effects.emails.iter().any(|e| e.template == Template::Emel4));
    mint(&mut mem, &effects, now());
    let (out, _) = visit(&mut mem, &token(2, 1), Visit::Open, now());
    assert_eq!(out, Outcome::Refused(Status::Replaced));
    let (out, _) = visit(&mut mem, &token(2, 2), Visit::Open, now());
    assert_eq!(out, Outcome::Shown { code_live: false });
}
