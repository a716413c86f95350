//! Packs and eSPAs meet (SPEC §3). A pack names its eSPA and the signee's
//! order: it is linked to that signee when it passes its check and the
//! eSPA is registered, or when the registration arrives later. Its role
//! and email must be the registration's; a mismatch goes back to the
//! developer with the pack check's codes (on arrival the pack is
//! `incomplete` with them; for a registration that arrives later, its
//! acknowledgement lists them) and nothing is linked. A pack for an
//! `idsaya` signee switches them to `manual`.
//!
//! Once linked, the eSPA follows the case: its certificate `active` makes
//! the signee ready, and leaving `active` (a `RESET-PIN`, a lock) makes
//! them wait again. Every change ends in [`turn::advance`].

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Espa, EspaWrite, Route, SigneeState, thread_ref, turn};
use crate::config::Config;
use crate::core::case::{Actor, Case, CaseState, Event, EventKind};
use crate::core::effects::Effects;
use crate::core::view::{View, ViewResult};
use crate::pack_check::{Application, Code, Problem};

/// What a pack's application conflicts with in its eSPA's registration:
/// an order not registered, another role, another address. Nothing while
/// the eSPA is not registered (it is linked when the registration comes).
pub fn pack_problems(app: &Application, view: &impl View) -> ViewResult<Vec<Problem>> {
    Ok(match view.espa(&app.espa_ref)? {
        Some(espa) => problems_against(app, &espa),
        None => Vec::new(),
    })
}

fn problems_against(app: &Application, espa: &Espa) -> Vec<Problem> {
    let Some(signee) = espa.signee(app.order) else {
        return vec![Problem::new(
            Code::SigneeUnknown,
            Some(espa.reference.clone()),
        )];
    };
    let mut problems = Vec::new();
    if signee.role != app.role {
        problems.push(Problem::new(
            Code::SigneeRoleMismatch,
            Some(signee.role.as_str().to_string()),
        ));
    }
    if !signee.email.eq_ignore_ascii_case(&app.email) {
        problems.push(Problem::new(
            Code::SigneeEmailMismatch,
            Some(signee.email.clone()),
        ));
    }
    problems
}

/// Each case `effects` writes that belongs to a registered eSPA's signee
/// is linked (if it is not yet) and followed; the eSPAs that change are
/// written too, one version on, after [`turn::advance`].
pub fn follow_cases(
    effects: &mut Effects,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<()> {
    let cases: Vec<Case> = effects.cases.iter().map(|w| w.case.clone()).collect();
    for case in cases {
        let Some(app) = &case.application else {
            continue;
        };
        let written = effects
            .espas
            .iter()
            .rev()
            .find(|w| w.espa.reference == app.espa_ref)
            .map(|w| w.espa.clone());
        let Some(mut espa) = (match written {
            Some(espa) => Some(espa),
            None => view.espa(&app.espa_ref)?,
        }) else {
            continue;
        };
        if follow(&mut espa, &case, &mut effects.events, now) {
            turn::advance(&mut espa, view, effects, cfg, now)?;
            write(effects, espa, now);
        }
    }
    Ok(())
}

/// A pack that did not match its registration (see [`link_open_cases`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub case: String,
    pub order: u32,
    pub problems: Vec<Problem>,
}

/// The open cases already waiting for this eSPA's signees (packs that came
/// before the registration, or before a correction named their order) are
/// linked; those whose role or email differ are returned instead.
pub fn link_open_cases(
    espa: &mut Espa,
    view: &impl View,
    events: &mut Vec<(String, Event)>,
    now: DateTime<Utc>,
) -> ViewResult<Vec<Mismatch>> {
    let mut mismatched = Vec::new();
    let orders: Vec<u32> = espa
        .signees
        .iter()
        .filter(|s| s.case_ref.is_none())
        .map(|s| s.order)
        .collect();
    for order in orders {
        let Some(case) = view.open_for_order(&espa.reference, order)? else {
            continue;
        };
        let Some(app) = &case.application else {
            continue;
        };
        let problems = problems_against(app, espa);
        if problems.is_empty() {
            follow(espa, &case, events, now);
        } else {
            mismatched.push(Mismatch {
                case: case.reference.clone(),
                order,
                problems,
            });
        }
    }
    Ok(mismatched)
}

/// The mismatches as the acknowledgement lists them.
pub fn mismatches_context(mismatched: &[Mismatch]) -> Value {
    Value::Array(
        mismatched
            .iter()
            .map(|m| {
                json!({
                    "case": m.case,
                    "order": m.order,
                    "problems": m.problems.iter().map(|p| json!({
                        "code": p.code.id(),
                        "ms": p.ms(),
                        "en": p.en(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// Links `case` to its signee if it is not yet, and follows its state.
/// Whether the eSPA changed.
fn follow(
    espa: &mut Espa,
    case: &Case,
    events: &mut Vec<(String, Event)>,
    now: DateTime<Utc>,
) -> bool {
    let Some(app) = &case.application else {
        return false;
    };
    let reference = espa.reference.clone();
    let tag = thread_ref(&reference);
    let mut note = |reference: &str, what: EventKind| {
        events.push((
            reference.to_string(),
            Event {
                at: now,
                actor: Actor::System,
                what,
            },
        ));
    };
    let matches = problems_against(app, espa).is_empty();
    let Some(signee) = espa.signee_mut(app.order) else {
        return false;
    };
    let mut changed = false;
    if signee.case_ref.is_none() {
        if !matches || case.state.is_closed() || signee.state == SigneeState::Signed {
            return false;
        }
        signee.case_ref = Some(case.reference.clone());
        let linked = EventKind::PackLinked {
            espa: reference.clone(),
            order: app.order,
            case: case.reference.clone(),
        };
        note(&tag, linked.clone());
        note(&case.reference, linked);
        if signee.route == Route::Idsaya {
            // Their readiness now comes from the certificate, not eKYC.
            signee.route = Route::Manual;
            signee.state = SigneeState::Waiting;
        }
        changed = true;
    }
    if signee.case_ref.as_deref() != Some(case.reference.as_str())
        || matches!(signee.state, SigneeState::Signed | SigneeState::Declined)
    {
        return changed;
    }
    let ready = case.state == CaseState::Active && case.pin.locked_at.is_none();
    let order = signee.order;
    match (signee.state, ready) {
        (SigneeState::Waiting, true) => {
            signee.state = SigneeState::Ready;
            // A link from an earlier readiness is void: a fresh EMEL 4 comes.
            signee.sign_link = None;
            note(
                &tag,
                EventKind::SigneeReady {
                    order,
                    how: "certificate_active".into(),
                },
            );
            true
        }
        (SigneeState::Ready, false) => {
            signee.state = SigneeState::Waiting;
            let why = if case.pin.locked_at.is_some() {
                "certificate locked".to_string()
            } else {
                format!("case {}", case.state.as_str())
            };
            note(&tag, EventKind::SigneeNotReady { order, why });
            true
        }
        _ => changed,
    }
}

/// Puts `espa` among the eSPAs `effects` writes, one version past the one
/// read (replacing an earlier write of it in the same effects).
pub(super) fn write(effects: &mut Effects, mut espa: Espa, now: DateTime<Utc>) {
    espa.updated_at = now;
    if let Some(w) = effects
        .espas
        .iter_mut()
        .find(|w| w.espa.reference == espa.reference)
    {
        w.espa = espa;
    } else {
        espa.version += 1;
        effects.espas.push(EspaWrite { espa, new: false });
    }
}
