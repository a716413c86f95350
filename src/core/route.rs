//! Which part of the core a classified message goes to, and as whom the
//! sender acts on a case (owning developer, staff, the case's signee).

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::core::Folder;
use crate::core::case::{Actor, Case, CaseState};
use crate::core::classify::Class;
use crate::core::effects::Effects;
use crate::core::intake;
use crate::core::message::Inbound;
use crate::core::undelivered;
use crate::core::view::{View, ViewResult};

/// Where `msg` goes. A message over the size limit, read from its header
/// alone, is answered only where its sender can mend it: a registered
/// developer's pack, or their reply on an incomplete case of theirs; the
/// rest is quarantined as too large.
pub fn message(
    msg: &Inbound,
    class: &Class,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<Effects> {
    if msg.oversize && !matches!(class, Class::Pack | Class::CaseReply { .. }) {
        return Ok(Effects::only_filing(Folder::Quarantine, TOO_LARGE));
    }
    Ok(match class {
        Class::Malformed => Effects::only_filing(Folder::Quarantine, "malformed message"),
        Class::Automated { report: true, .. } => {
            return undelivered::delivery_report(msg, view, cfg, now);
        }
        Class::Automated { .. } => Effects::only_filing(Folder::Quarantine, "automated mail"),
        Class::Unknown => Effects::only_filing(Folder::Quarantine, "unknown sender"),
        Class::Registration | Class::EspaReply { .. } => {
            Effects::only_filing(Folder::Quarantine, "eSPA registration not yet supported")
        }
        Class::Pack => return intake::new_pack(msg, view, cfg, now),
        Class::CaseReply { reference } => return case_reply(msg, reference, view, cfg, now),
    })
}

/// Why a message over the size limit is quarantined.
const TOO_LARGE: &str = "message over the size limit";

fn case_reply(
    msg: &Inbound,
    reference: &str,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<Effects> {
    let Some(case) = view.case(reference)? else {
        return Ok(Effects::only_filing(
            Folder::Quarantine,
            "unknown case reference",
        ));
    };
    let from = msg.from.clone().unwrap_or_default();
    let Some(actor) = actor_on(&case, &from, cfg) else {
        return Ok(Effects::only_filing(
            Folder::Quarantine,
            "reply from a stranger",
        ));
    };
    if matches!(actor, Actor::Developer(_)) && case.state == CaseState::Incomplete {
        return Ok(intake::supplement(msg, case, actor, cfg, now));
    }
    if msg.oversize {
        return Ok(Effects::only_filing(Folder::Quarantine, TOO_LARGE));
    }
    // Staff commands, developer commands and signee messages come in later
    // slices; the message is kept on the case meanwhile.
    let mut effects = Effects::only_filing(Folder::Quarantine, "case replies not yet supported");
    effects
        .events
        .push((case.reference.clone(), intake::message_in(msg, &actor, now)));
    Ok(effects)
}

/// Who `from` is on `case`: the owning developer first, then staff, then
/// the case's own signee; anyone else is a stranger.
fn actor_on(case: &Case, from: &str, cfg: &Config) -> Option<Actor> {
    let owner = cfg
        .developer_for(from)
        .is_some_and(|d| d.company == case.company);
    if owner {
        return Some(Actor::Developer(from.to_string()));
    }
    if cfg.staff_for(from).is_some() {
        return Some(Actor::Staff(from.to_string()));
    }
    let signee = case
        .application
        .as_ref()
        .is_some_and(|a| a.email.eq_ignore_ascii_case(from));
    signee.then(|| Actor::Signee(from.to_string()))
}
