//! Which part of the core a classified message goes to: intake for packs,
//! `espa` for registrations and replies on an eSPA thread, `case_reply` for
//! replies on a case, `undelivered` for delivery reports.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::core::Folder;
use crate::core::case_reply;
use crate::core::classify::Class;
use crate::core::effects::Effects;
use crate::core::espa;
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
    if msg.oversize
        && !matches!(
            class,
            Class::Pack | Class::CaseReply { .. } | Class::Registration
        )
    {
        return Ok(Effects::only_filing(Folder::Quarantine, TOO_LARGE));
    }
    Ok(match class {
        Class::Malformed => Effects::only_filing(Folder::Quarantine, "malformed message"),
        Class::Automated { report: true, .. } => {
            return undelivered::delivery_report(msg, view, cfg, now);
        }
        Class::Automated { .. } => Effects::only_filing(Folder::Quarantine, "automated mail"),
        Class::Unknown => Effects::only_filing(Folder::Quarantine, "unknown sender"),
        Class::Registration => return espa::handle::register(msg, view, cfg, now),
        Class::EspaReply { espa } => return espa::handle::reply(msg, espa, view, cfg, now),
        Class::Pack => return intake::new_pack(msg, view, cfg, now),
        Class::CaseReply { reference } => {
            return case_reply::handle(msg, reference, view, cfg, now);
        }
    })
}

/// Why a message over the size limit is quarantined.
pub(crate) const TOO_LARGE: &str = "message over the size limit";
