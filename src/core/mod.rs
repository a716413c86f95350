//! The decision core. Every input the daemon gets — an inbound message, an
//! SMTP refusal the outbox met, a tick of the clock (a link used on the web
//! next) — goes through [`handle`], which reads a [`View`] of the store and
//! returns the [`Effects`] to apply. Pure: no I/O, and no clock of its own
//! (`now` is an input, so tests drive time).
//!
//! | module | its job |
//! |---|---|
//! | [`classify`] | what kind of message this is (SPEC §2) |
//! | [`route`] | which part of the core a classified message goes to |
//! | [`case_reply`] | a reply on a case: who wrote it, whether it threads to an email sent to them (and is vouched for), supplement, command or the signee writing back |
//! | [`transitions`] | what each command does (SPEC §5): who may, from which state, the new state and emails — where a QC-PASS happens |
//! | [`authenticated`] | `Authentication-Results` from the operator's own server |
//! | [`history`] | a case's history in words, for `sijil case` and `STATUS` |
//! | [`intake`] | packs open cases; a developer's supplement completes one |
//! | [`espa`] | the eSPA: registration by email, its signees and document, the developer's replies on its thread |
//! | [`undelivered`] | delivery reports and SMTP refusals of our emails |
//! | [`reply_rate`] | the per-hour limit on answers to one sender |
//! | [`retention`] | what is purged or forgotten, and when (SPEC §8) |
//! | [`pin`] | the set-PIN link (EMEL 2), the PIN rules, setting it (STAFF-QC) |
//! | [`case`] | the case, its life cycle and history events |
//! | [`context`] | what an email's template sees, with its labels |
//! | [`email`] | an email decided, not yet rendered |
//! | [`reply`] | the own text of a reply, and its first line (a staff command) |
//! | [`command`] | a staff command read from that line (SPEC §5) |
//! | [`message`] | an inbound message's facts, as the mailbox edge reads them |
//! | [`effects`], [`view`] | the core's output and its read-only input |

pub mod authenticated;
pub mod case;
pub mod case_reply;
pub mod certificate;
pub mod classify;
pub mod command;
pub mod context;
pub mod effects;
pub mod email;
pub mod espa;
pub mod history;
pub mod intake;
pub mod message;
pub mod pin;
pub mod reply;
pub mod reply_rate;
pub mod retention;
pub mod route;
pub mod transitions;
pub mod undelivered;
pub mod view;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::core::message::Inbound;

pub use classify::Class;
pub use effects::{CaseWrite, Effects, Folder, NewCase};
pub use undelivered::Refusal;
pub use view::{MemView, SentEmail, View, ViewError, ViewResult};

/// Everything the core decides about.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// An inbound message, parsed and classified.
    Message { msg: &'a Inbound, class: &'a Class },
    /// The SMTP server refused one of our emails for good.
    Refused(Refusal<'a>),
    /// The daemon's clock: periodic chores (documents purged after their
    /// case ended, old message records and reply counters forgotten;
    /// reminders later).
    Tick,
    /// A visit to a set-PIN link on the web, by the SHA-256 of its token.
    Pin {
        token_sha256: &'a str,
        visit: pin::Visit<'a>,
    },
}

/// Decides what `input` does. A store that cannot be read stops the
/// decision (`Err`): nothing is applied and the input is tried again.
pub fn handle(
    input: Input<'_>,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<Effects> {
    match input {
        Input::Message { msg, class } => {
            let mut effects = route::message(msg, class, view, cfg, now)?;
            espa::link::follow_cases(&mut effects, view, cfg, now)?;
            reply_rate::limit(msg.from.as_deref(), &mut effects, view, cfg, now)?;
            Ok(effects)
        }
        Input::Refused(refusal) => undelivered::refused(refusal, view, cfg),
        Input::Tick => {
            let due = retention::due(view, cfg, now)?;
            let mut effects = retention::purge(&due, view, now)?;
            effects.reason = "tick";
            effects.forget_reply_counters_before = Some(now);
            effects.forget_messages_before = Some(retention::remember_since(cfg, now));
            Ok(effects)
        }
        Input::Pin {
            token_sha256,
            visit,
        } => pin::visit(token_sha256, visit, view, cfg, now),
    }
}

#[cfg(test)]
mod tests;
