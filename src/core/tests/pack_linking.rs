//! Packs linked to their eSPA signee (SPEC §3, §4; `core::espa::link`):
//! a pack whose role or email differs from the registration is incomplete
//! saying so, a pack that came first is linked when the registration
//! comes, and a pack for an `idsaya` signee switches them to `manual`.

use super::signing::{mint, registered};
use super::*;
use crate::core::espa::{Route, SigneeState};

#[test]
fn a_pack_whose_role_or_email_differs_from_the_registration_is_incomplete_saying_so() {
    let mut mem = MemView::default();
    registered(&mut mem);
    let mut f = fields();
    for (k, v) in f.iter_mut() {
        if k.starts_with("Peranan") {
            *v = "Saksi".into();
        }
        if k.starts_with("Emel") {
            *v = "someone.else@example.com".into();
        }
    }
    let d = decide_raw(
        &message(DEV, "Permohonan", "p2@dev", &body(&f), &documents()),
        &mem,
    );
    let case = &d.cases[0].case;
    assert_eq!(case.state, CaseState::Incomplete);
    let codes: Vec<&str> = case.problems.iter().map(|p| p.code.id()).collect();
    assert_eq!(codes, ["SIGNEE_ROLE_MISMATCH", "SIGNEE_EMAIL_MISMATCH"]);
    assert!(d.espas.is_empty(), "nothing linked");
    let ms = case.problems[1].ms();
    assert!(ms.contains(SIGNEE), "the registered address is named: {ms}");
}

fn registration_mail(buyer_line: &str) -> Vec<u8> {
    let body = format!(
        "Rujukan eSPA / eSPA Reference: HDA-2026-000123\r\nProjek / Project: Taman Seri Indah\r\n\
         Penandatangan / Signees:\r\n1. Pemaju | Lim Ah Kow | lim@developer.my | idsaya\r\n{buyer_line}\r\n"
    );
    message(
        DEV,
        "Daftar eSPA HDA-2026-000123",
        "reg@dev",
        &body,
        &[("eSPA HDA-2026-000123.pdf", pdf("espa"))],
    )
}

#[test]
fn a_pack_before_the_registration_is_linked_when_it_comes_unless_it_differs() {
    // The pack first: a case, nothing to link to yet.
    let mut mem = MemView::default();
    let d = decide_raw(
        &message(DEV, "Permohonan", "p1@dev", &body(&fields()), &documents()),
        &mem,
    );
    mint(&mut mem, &d, now());
    let case = d.cases[0].case.reference.clone();
    assert_eq!(d.cases[0].case.state, CaseState::Received);
    // The registration names them as they are: linked, the ack says so.
    let mut linked = mem.clone();
    let reg = registration_mail(&format!("2. Pembeli | Ali bin Abu | {SIGNEE} | manual"));
    let d = decide_raw(&reg, &linked);
    assert_eq!(d.espas[0].espa.signees[1].case_ref, Some(case.clone()));
    let ack = &d.emails[0];
    assert_eq!(ack.template, Template::EspaAck);
    assert_eq!(ack.context["mismatched"].as_array().unwrap().len(), 0);
    mint(&mut linked, &d, now());
    let history = linked.history(&case).unwrap();
    assert!(
        history
            .iter()
            .any(|e| matches!(e.what, EventKind::PackLinked { order: 2, .. }))
    );
    // A registration that names another address for order 2: not linked,
    // and the ack lists the case with the code.
    let reg = registration_mail("2. Pembeli | Ali bin Abu | other@example.com | manual");
    let d = decide_raw(&reg, &mem);
    assert_eq!(d.espas[0].espa.signees[1].case_ref, None);
    let mismatched = &d.emails[0].context["mismatched"];
    assert_eq!(mismatched[0]["case"], case.as_str());
    assert_eq!(
        mismatched[0]["problems"][0]["code"],
        "SIGNEE_EMAIL_MISMATCH"
    );
}

#[test]
fn a_pack_for_an_idsaya_signee_switches_them_to_manual() {
    let mut mem = MemView::default();
    let reg = registration_mail(&format!("2. Pembeli | Ali bin Abu | {SIGNEE} | idsaya"));
    let d = decide_raw(&reg, &mem);
    assert!(
        d.emails
            .iter()
            .any(|e| e.template == Template::Emel0 && e.to[0].email == SIGNEE)
    );
    mint(&mut mem, &d, now());
    let d = decide_raw(
        &message(DEV, "Permohonan", "p1@dev", &body(&fields()), &documents()),
        &mem,
    );
    let espa = &d.espas[0].espa;
    assert_eq!(espa.signees[1].route, Route::Manual);
    assert_eq!(espa.signees[1].state, SigneeState::Waiting);
    assert_eq!(
        espa.signees[1].case_ref,
        Some(d.cases[0].case.reference.clone())
    );
}
