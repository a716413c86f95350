//! Who signs next (SPEC §3): strictly in order. Signee *n* is sent EMEL 4
//! as soon as 1…n−1 have signed and *n* is ready, whichever happens last;
//! when the last has signed, COMPLETED goes to the developer and every
//! signee, and the eSPA and each manual case become `signed`.
//!
//! [`advance`] is the one place that decides it. Every path that changes
//! a signee calls it afterwards: a `QC-PASS` (a certificate became
//! active), an `EKYC-OK`, a pack linked, a correction, a signature.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::context::{espa_context, signee_context};
use super::signing::SignLink;
use super::{Espa, Route, Signee, SigneeState, thread_ref};
use crate::config::Config;
use crate::core::case::{Actor, CaseState, Event, EventKind};
use crate::core::effects::{CaseWrite, Effects};
use crate::core::email::{Email, FromAddress, Recipient, Template};
use crate::core::view::{View, ViewResult};

/// The order whose turn it is: the first signee, by order, who has not
/// signed. None once everyone has, and none while a signee has declined
/// (nobody after them is asked until the developer corrects the list).
pub fn next(espa: &Espa) -> Option<u32> {
    if espa.declined().is_some() {
        return None;
    }
    espa.signees
        .iter()
        .filter(|s| s.state != SigneeState::Signed)
        .map(|s| s.order)
        .min()
}

/// Whether everyone has signed.
pub fn all_signed(espa: &Espa) -> bool {
    !espa.signees.is_empty() && espa.signees.iter().all(|s| s.state == SigneeState::Signed)
}

/// Whether the signee holds a link that can still sign at `now`.
pub fn has_live_link(signee: &Signee, now: DateTime<Utc>) -> bool {
    signee
        .sign_link
        .as_ref()
        .is_some_and(|l| l.used_at.is_none() && now < l.expires_at)
}

/// What the eSPA's signees call for now: EMEL 4 to the signee whose turn
/// it is when they are ready and hold no live link; COMPLETED once the
/// last has signed. `espa` is changed in place; the caller writes it.
pub fn advance(
    espa: &mut Espa,
    view: &impl View,
    effects: &mut Effects,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<()> {
    if espa.completed_at.is_some() {
        return Ok(());
    }
    if let Some(order) = next(espa) {
        let due = espa
            .signee(order)
            .is_some_and(|s| s.state == SigneeState::Ready && !has_live_link(s, now));
        if due {
            issue_link(espa, order, effects, cfg, now);
        }
        return Ok(());
    }
    if all_signed(espa) {
        complete(espa, view, effects, cfg, now)?;
    }
    Ok(())
}

/// A new signing link for signee `order` and EMEL 4 with it (from the HIMS
/// address). The apply path mints the token ([`Effects::sign_links`]).
fn issue_link(
    espa: &mut Espa,
    order: u32,
    effects: &mut Effects,
    cfg: &Config,
    now: DateTime<Utc>,
) {
    let ttl = TimeDelta::from_std(cfg.web.sign_link_ttl).unwrap_or(TimeDelta::days(7));
    let before = signed_context(espa, cfg);
    let Some(signee) = espa.signee_mut(order) else {
        return;
    };
    signee.links_issued += 1;
    let number = signee.links_issued;
    let expires_at = now + ttl;
    signee.sign_link = Some(SignLink {
        token_sha256: String::new(),
        number,
        issued_at: now,
        expires_at,
        used_at: None,
    });
    signee.code = None;
    let signee = signee.clone();
    let tag = thread_ref(&espa.reference);
    let issued = EventKind::SignLinkIssued {
        order,
        number,
        expires_at,
    };
    // On the signee's case too: its `RESEND` knows then there is a link to
    // send again.
    for reference in std::iter::once(&tag).chain(signee.case_ref.as_ref()) {
        effects.events.push((
            reference.clone(),
            Event {
                at: now,
                actor: Actor::System,
                what: issued.clone(),
            },
        ));
    }
    let mut ctx = espa_context(espa);
    ctx["signee"] = signee_context(&signee);
    ctx["sign_link"] = json!({ "days": ttl.num_days(), "number": number });
    ctx["signed_before"] = before;
    ctx["needs_pin"] = json!(signee.route == Route::Manual);
    effects.emails.push(Email {
        template: Template::Emel4,
        from: FromAddress::Hims,
        to: vec![recipient(&signee)],
        case_ref: Some(tag),
        thread: espa.thread.clone(),
        context: ctx,
    });
    effects.sign_links.push((espa.reference.clone(), order));
}

/// `RESEND` on the active case of a signee who was sent EMEL 4 and has
/// not signed: their link is voided and a fresh one sent, if it is still
/// their turn (a link whose turn passed is told "used" or "halted" anyway).
pub fn resend(
    case: &crate::core::case::Case,
    view: &impl View,
    effects: &mut Effects,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<()> {
    let Some(app) = &case.application else {
        return Ok(());
    };
    let Some(mut espa) = view.espa(&app.espa_ref)? else {
        return Ok(());
    };
    let Some(order) = espa
        .signees
        .iter()
        .find(|s| s.case_ref.as_deref() == Some(case.reference.as_str()))
        .map(|s| s.order)
    else {
        return Ok(());
    };
    let due = next(&espa) == Some(order)
        && espa
            .signee(order)
            .is_some_and(|s| s.state == SigneeState::Ready);
    if due {
        issue_link(&mut espa, order, effects, cfg, now);
        super::link::write(effects, espa, now);
    }
    Ok(())
}

/// The last signature is in: COMPLETED to the developer and to every
/// signee (one email each, so one refused address stops no other copy),
/// and every manual signee's case becomes `signed`.
fn complete(
    espa: &mut Espa,
    view: &impl View,
    effects: &mut Effects,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<()> {
    espa.completed_at = Some(now);
    let tag = thread_ref(&espa.reference);
    effects.events.push((
        tag.clone(),
        Event {
            at: now,
            actor: Actor::System,
            what: EventKind::Completed,
        },
    ));
    let mut ctx = espa_context(espa);
    ctx["signatures"] = signed_context(espa, cfg);
    ctx["document_sha256"] = json!(espa.document.sha256);
    if espa.signed_pdf.is_some() {
        ctx["signed_sha256"] = json!(espa.current_sha256());
    }
    let developer = Recipient {
        name: Some(espa.company.clone()).filter(|c| !c.is_empty()),
        email: espa.developer_address.clone(),
    };
    let everyone = std::iter::once(developer).chain(espa.signees.iter().map(recipient));
    for to in everyone {
        effects.emails.push(Email {
            template: Template::Completed,
            from: FromAddress::Hims,
            to: vec![to],
            case_ref: Some(tag.clone()),
            thread: espa.thread.clone(),
            context: ctx.clone(),
        });
    }
    for reference in espa.signees.iter().filter_map(|s| s.case_ref.as_ref()) {
        let Some(mut case) = view.case(reference)? else {
            continue;
        };
        if let Ok(change) = case.transition(CaseState::Signed, now) {
            effects.events.push((
                case.reference.clone(),
                Event {
                    at: now,
                    actor: Actor::System,
                    what: change,
                },
            ));
            effects.cases.push(CaseWrite { case, new: None });
        }
    }
    Ok(())
}

/// Who has signed so far, in order: order, role, name, route and time.
pub fn signed_context(espa: &Espa, cfg: &Config) -> Value {
    let mut signed: Vec<&Signee> = espa
        .signees
        .iter()
        .filter(|s| s.signature.is_some())
        .collect();
    signed.sort_by_key(|s| s.order);
    Value::Array(
        signed
            .into_iter()
            .map(|s| {
                let mut v = signee_context(s);
                if let Some(sig) = &s.signature {
                    v["at"] = json!(cfg.general.local_time(sig.at));
                }
                v
            })
            .collect(),
    )
}

pub(super) fn recipient(signee: &Signee) -> Recipient {
    Recipient {
        name: Some(signee.name.clone()),
        email: signee.email.clone(),
    }
}
