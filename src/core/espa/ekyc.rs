//! `EKYC-OK <order>` on the eSPA thread (SPEC §3): the developer confirms
//! that an `idsaya` signee completed eKYC in the iDsaya app, so they are
//! ready to sign; refused, with the reason, for anybody else.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::handle::{ack, event};
use super::refusal::refused;
use super::{Espa, EspaWrite, Route, SigneeState, thread_ref, turn};
use crate::config::Config;
use crate::core::case::{Actor, EventKind};
use crate::core::effects::{Effects, Folder};
use crate::core::email::Thread;
use crate::core::message::Inbound;
use crate::core::reply;
use crate::core::view::{View, ViewResult};

/// `EKYC-OK <order>` (also `EKYC OK 2`, `eKYC-OK: 2`): `Some(None)` when
/// the order is missing or not a number.
pub(super) fn parse(line: &str) -> Option<Option<u32>> {
    let words: Vec<String> = line
        .split(|c: char| c.is_whitespace() || c == ':' || c == '-' || c == '_' || c == '*')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    let rest = match words.as_slice() {
        [first, ok, rest @ ..] if first == "EKYC" && ok == "OK" => rest,
        [first, rest @ ..] if first == "EKYCOK" => rest,
        _ => return None,
    };
    Some(match rest {
        [n] => n.trim_end_matches('.').parse().ok(),
        _ => None,
    })
}

/// The developer confirms an `idsaya` signee's eKYC: they are ready, and
/// EMEL 4 goes to them if it is their turn.
pub(super) fn confirm(
    msg: &Inbound,
    mut espa: Espa,
    order: Option<u32>,
    effects: Effects,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<Effects> {
    let actor = Actor::Developer(msg.from.clone().unwrap_or_default());
    let line = reply::first_line(&msg.text).unwrap_or_default();
    let thread = Thread::replying_to(msg);
    let refuse = |effects, why: &str, (ms, en): (String, String)| {
        refused(
            effects,
            &espa,
            &actor,
            &line,
            why,
            (ms, en),
            thread.clone(),
            now,
        )
    };
    let Some(order) = order else {
        return Ok(refuse(
            effects,
            "EKYC-OK without an order",
            (
                "Nyatakan turutan penandatangan selepas EKYC-OK, contohnya: EKYC-OK 1".into(),
                "Give the signee's order after EKYC-OK, for example: EKYC-OK 1".into(),
            ),
        ));
    };
    let Some(signee) = espa.signee(order) else {
        return Ok(refuse(
            effects,
            "EKYC-OK for an order not registered",
            (
                format!("Tiada penandatangan dengan turutan {order} dalam eSPA ini."),
                format!("This eSPA has no signee with order {order}."),
            ),
        ));
    };
    let refusal = match (signee.route, signee.state) {
        (Route::Manual, _) => Some((
            format!(
                "Penandatangan {order} menggunakan laluan manual: mereka sedia apabila sijil mereka aktif (QC-LULUS oleh RA), bukan melalui EKYC-OK."
            ),
            format!(
                "Signee {order} is on the manual route: they are ready when their certificate is active (the RA's QC-PASS), not by EKYC-OK."
            ),
        )),
        (_, SigneeState::Ready) => Some((
            format!("eKYC penandatangan {order} telah pun disahkan."),
            format!("Signee {order}'s eKYC is already confirmed."),
        )),
        (_, SigneeState::Signed) => Some((
            format!("Penandatangan {order} telah menandatangani."),
            format!("Signee {order} has already signed."),
        )),
        (_, SigneeState::Declined) => Some((
            format!(
                "Penandatangan {order} telah menolak untuk menandatangani: hantar senarai penandatangan yang dibetulkan."
            ),
            format!("Signee {order} declined to sign: send a corrected signee list."),
        )),
        (Route::Idsaya, SigneeState::Waiting) => None,
    };
    if let Some(why) = refusal {
        return Ok(refuse(effects, "EKYC-OK refused", why));
    }
    let tag = thread_ref(&espa.reference);
    let mut done = Effects::only_filing(Folder::Processed, "eKYC confirmed");
    done.events = effects.events;
    done.events.push((
        tag.clone(),
        event(
            now,
            &actor,
            EventKind::CommandAccepted {
                command: "EKYC-OK".into(),
                argument: Some(order.to_string()),
            },
        ),
    ));
    done.events.push((
        tag,
        event(
            now,
            &actor,
            EventKind::SigneeReady {
                order,
                how: "ekyc_ok".into(),
            },
        ),
    ));
    if let Some(s) = espa.signee_mut(order) {
        s.state = SigneeState::Ready;
    }
    let mut ack = ack(&espa, false);
    ack.thread = Thread::replying_to(msg);
    ack.context["command"] = json!("EKYC-OK");
    ack.context["argument"] = json!(order);
    done.emails.push(ack);
    turn::advance(&mut espa, view, &mut done, cfg, now)?;
    espa.version += 1;
    espa.updated_at = now;
    done.espas.push(EspaWrite { espa, new: false });
    Ok(done)
}
