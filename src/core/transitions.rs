//! What each command of SPEC §5 does to a case: who may give it, in which
//! states, the new state and the emails that follow — one pure function,
//! [`decide`]. A refusal names why and the commands this giver may give in
//! this state; it changes nothing (the caller records it in the history).
//!
//! Where a QC-PASS happens: here, in [`decide`]'s `Command::QcPass` arm.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::config::{Config, StaffRole};
use crate::core::case::{Actor, Case, CaseState, Event, EventKind};
use crate::core::command::{Command, Kind};
use crate::core::context::case_context;
use crate::core::effects::{CaseWrite, Effects, Folder};
use crate::core::email::{Email, FromAddress, Recipient, Template, Thread};
use crate::core::undelivered::holders;

/// Who gives a command, as the configuration knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Giver {
    Staff {
        address: String,
        roles: Vec<StaffRole>,
    },
    /// The developer who owns the case.
    Owner { address: String },
}

impl Giver {
    pub fn address(&self) -> &str {
        match self {
            Giver::Staff { address, .. } | Giver::Owner { address } => address,
        }
    }

    pub fn actor(&self) -> Actor {
        match self {
            Giver::Staff { address, .. } => Actor::Staff(address.clone()),
            Giver::Owner { address } => Actor::Developer(address.clone()),
        }
    }

    fn has(&self, role: StaffRole) -> bool {
        matches!(self, Giver::Staff { roles, .. } if roles.contains(&role))
    }

    fn is_staff(&self) -> bool {
        matches!(self, Giver::Staff { .. })
    }
}

/// Why a command was refused. Each names what the giver may do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The giver's role may not give this command at all.
    RoleMayNot { command: Kind, allowed: Vec<Kind> },
    /// Not in the case's current state.
    NotNow {
        command: Kind,
        state: CaseState,
        allowed: Vec<Kind>,
    },
    /// Allowed, but there is nothing it could act on (e.g. `RESEND` on an
    /// active case before any signing link exists).
    NothingToDo {
        command: Kind,
        why_ms: String,
        why_en: String,
    },
}

impl Refused {
    /// Both languages, Malay first, for the ERROR email and the history.
    pub fn sentences(&self) -> (String, String) {
        match self {
            Refused::RoleMayNot { command, .. } => (
                format!("Peranan anda tidak dibenarkan memberi arahan {command}."),
                format!("Your role may not give the command {command}."),
            ),
            Refused::NotNow { command, state, .. } => (
                format!(
                    "Arahan {command} tidak dibenarkan semasa kes berstatus \"{}\".",
                    state.as_str()
                ),
                format!(
                    "{command} is not allowed while the case is \"{}\".",
                    state.as_str()
                ),
            ),
            Refused::NothingToDo { why_ms, why_en, .. } => (why_ms.clone(), why_en.clone()),
        }
    }

    pub fn allowed(&self) -> &[Kind] {
        match self {
            Refused::RoleMayNot { allowed, .. } | Refused::NotNow { allowed, .. } => allowed,
            Refused::NothingToDo { .. } => &[],
        }
    }
}

/// Whether `giver` may give `kind` at all (SPEC §5's "who" column).
pub fn may_give(giver: &Giver, kind: Kind) -> bool {
    use StaffRole::*;
    match kind {
        Kind::Verified | Kind::Unreachable => giver.has(Verifier),
        Kind::Approved => giver.has(Officer),
        Kind::QcPass | Kind::QcFail => giver.has(Qc),
        Kind::ResetPin => giver.has(Qc) || giver.has(Admin),
        Kind::Reject | Kind::Resend | Kind::Note => giver.is_staff(),
        Kind::Status => true,
        Kind::Withdraw => !giver.is_staff(),
    }
}

/// Whether `kind` is allowed in `state` (SPEC §5's "from" column).
pub fn allowed_in(kind: Kind, state: CaseState) -> bool {
    use CaseState::*;
    match kind {
        Kind::Verified | Kind::Unreachable => state == Received,
        Kind::Approved => state == Verified,
        Kind::QcPass | Kind::QcFail => state == PinSet,
        Kind::Reject | Kind::Withdraw => state.is_before_active(),
        Kind::ResetPin => matches!(state, PinSet | Active),
        Kind::Resend => matches!(state, PinPending | Active),
        Kind::Status | Kind::Note => true,
    }
}

/// The commands `giver` may give on a case in `state`.
pub fn allowed_for(giver: &Giver, state: CaseState) -> Vec<Kind> {
    Kind::ALL
        .into_iter()
        .filter(|k| may_give(giver, *k) && allowed_in(*k, state))
        .collect()
}

/// What an accepted command does: the case as it is now, what to record,
/// and the emails (the answer to the giver last).
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub case: Case,
    pub events: Vec<Event>,
    pub emails: Vec<Email>,
    /// A new PIN link is to be minted for the case (see `core::pin`).
    pub pin_link: bool,
    /// The signee's signing link is to be sent again, fresh (`RESEND` on
    /// an active case whose signee was sent EMEL 4: see
    /// `core::espa::turn::resend`).
    pub sign_link: bool,
    /// The CA is to issue the certificate for the case's sealed key
    /// (`QC-PASS`; see `Effects::certificates`).
    pub certificate: bool,
}

/// Decides `command` from `giver` on `case` at `now`. `history` is the
/// case's history (a `STATUS` answer shows it); `answer` threads the
/// answer to the command's own message.
pub fn decide(
    case: &Case,
    command: &Command,
    giver: &Giver,
    history: &[Event],
    answer: &Thread,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<Accepted, Refused> {
    let kind = command.kind();
    if !may_give(giver, kind) {
        return Err(Refused::RoleMayNot {
            command: kind,
            allowed: allowed_for(giver, case.state),
        });
    }
    if !allowed_in(kind, case.state) {
        return Err(Refused::NotNow {
            command: kind,
            state: case.state,
            allowed: allowed_for(giver, case.state),
        });
    }
    let before = case.state;
    let mut out = Accepted {
        case: case.clone(),
        events: Vec::new(),
        emails: Vec::new(),
        pin_link: false,
        sign_link: false,
        certificate: false,
    };
    let actor = giver.actor();
    out.events.push(Event {
        at: now,
        actor: actor.clone(),
        what: EventKind::CommandAccepted {
            command: kind.keyword().to_string(),
            argument: command.text().map(str::to_string),
        },
    });
    let move_to = |out: &mut Accepted, to: CaseState| {
        // `allowed_in` admits only moves the life cycle allows.
        if let Ok(what) = out.case.transition(to, now) {
            out.events.push(Event {
                at: now,
                actor: actor.clone(),
                what,
            });
        }
    };
    match command {
        Command::Verified => {
            move_to(&mut out, CaseState::Verified);
            let ctx = case_context(&out.case);
            out.emails.extend(
                to_each(cfg, StaffRole::Officer)
                    .map(|r| case_email(&out.case, Template::StaffGenerate, vec![r], &ctx)),
            );
        }
        Command::Unreachable => {
            out.case.unreachable += 1;
            out.case.updated_at = now;
            if out.case.unreachable == UNREACHABLE_TELLS_DEVELOPER {
                let mut ctx = case_context(&out.case);
                ctx["attempts"] = json!(out.case.unreachable);
                out.emails.push(case_email(
                    &out.case,
                    Template::Unreachable,
                    vec![developer(&out.case)],
                    &ctx,
                ));
            }
        }
        Command::Approved => {
            move_to(&mut out, CaseState::PinPending);
            out.pin_link = true;
        }
        Command::QcPass => {
            move_to(&mut out, CaseState::Active);
            out.certificate = true;
            if let Some(signee) = signee(&out.case) {
                let ctx = case_context(&out.case);
                out.emails
                    .push(case_email(&out.case, Template::Emel3, vec![signee], &ctx));
            }
        }
        Command::QcFail { .. } | Command::ResetPin => {
            move_to(&mut out, CaseState::PinPending);
            out.pin_link = true;
            // A new PIN makes a new key: the old one, and any certificate
            // for it, are done with.
            if let Some(serial) = out.case.keys.revoke(now) {
                out.events.push(Event {
                    at: now,
                    actor: actor.clone(),
                    what: EventKind::CertificateRevoked { serial },
                });
            }
        }
        Command::Resend => {
            let sent_emel4 = history
                .iter()
                .any(|e| matches!(e.what, EventKind::SignLinkIssued { .. }));
            let signed = history
                .iter()
                .any(|e| matches!(e.what, EventKind::Signed { .. }));
            if out.case.state == CaseState::Active && sent_emel4 && !signed {
                out.sign_link = true;
            } else if out.case.state == CaseState::Active {
                return Err(Refused::NothingToDo {
                    command: kind,
                    why_ms: "Tiada pautan untuk dihantar semula: PIN telah ditetapkan dan pautan \
                             menandatangani belum dikeluarkan."
                        .into(),
                    why_en: "There is no link to send again: the PIN is set and no signing link \
                             has been issued yet."
                        .into(),
                });
            }
            if !out.sign_link {
                out.pin_link = true;
            }
        }
        Command::Reject { reason } => {
            move_to(&mut out, CaseState::Rejected);
            out.events.push(Event {
                at: now,
                actor: actor.clone(),
                what: EventKind::Rejected {
                    codes: Vec::new(),
                    reason: reason.clone(),
                },
            });
            let mut ctx = case_context(&out.case);
            ctx["reason"] = json!(reason);
            let mut to = vec![developer(&out.case)];
            to.extend(signee(&out.case));
            // One email each: the signee need not see the developer's address.
            for r in to {
                out.emails
                    .push(case_email(&out.case, Template::Rejected, vec![r], &ctx));
            }
        }
        Command::Withdraw => {
            // The staff who held it, as the state before said.
            let held_by = holders(&out.case, cfg);
            move_to(&mut out, CaseState::Withdrawn);
            let ctx = case_context(&out.case);
            for r in held_by {
                out.emails
                    .push(case_email(&out.case, Template::Withdrawn, vec![r], &ctx));
            }
        }
        Command::Status => {
            let mut ctx = case_context(&out.case);
            ctx["history"] = history_context(history, matches!(giver, Giver::Owner { .. }), cfg);
            let mut status = case_email(
                &out.case,
                Template::Status,
                vec![to_giver(giver, cfg)],
                &ctx,
            );
            status.thread = answer.clone();
            out.emails.push(status);
            return Ok(out);
        }
        Command::Note { .. } => {}
    }
    let mut ctx = case_context(&out.case);
    ctx["command"] = json!(kind.keyword());
    ctx["argument"] = json!(command.text());
    ctx["before"] = json!(before.as_str());
    ctx["unreachable"] = json!(out.case.unreachable);
    let mut ack = case_email(
        &out.case,
        Template::CommandAck,
        vec![to_giver(giver, cfg)],
        &ctx,
    );
    ack.thread = answer.clone();
    out.emails.push(ack);
    Ok(out)
}

/// The developer is told when the verifier could not reach the signee
/// this many times.
pub const UNREACHABLE_TELLS_DEVELOPER: u32 = 3;

/// The effects of an accepted command: the case written, its history, the
/// emails, and the message filed as processed.
/// When it calls for a new PIN link, the link is issued here (the old one
/// void, EMEL 2 to the signee), before the case is written.
pub fn effects_of(accepted: Accepted, cfg: &Config, now: DateTime<Utc>) -> Effects {
    let Accepted {
        mut case,
        events,
        emails,
        pin_link,
        sign_link: _,
        certificate,
    } = accepted;
    let reference = case.reference.clone();
    let mut effects = Effects::only_filing(Folder::Processed, "command accepted");
    effects.events = events.into_iter().map(|e| (reference.clone(), e)).collect();
    if pin_link {
        crate::core::pin::issue_link(&mut case, &mut effects, cfg, now);
    }
    if certificate {
        effects.certificates.push(reference.clone());
    }
    effects.emails.extend(emails);
    effects.cases.push(CaseWrite { case, new: None });
    effects
}

fn case_email(
    case: &Case,
    template: Template,
    to: Vec<Recipient>,
    ctx: &serde_json::Value,
) -> Email {
    Email {
        template,
        from: FromAddress::Ra,
        to,
        case_ref: Some(case.reference.clone()),
        thread: case.thread.clone(),
        context: ctx.clone(),
    }
}

fn to_each(cfg: &Config, role: StaffRole) -> impl Iterator<Item = Recipient> + '_ {
    cfg.staff_with(role).map(|s| Recipient {
        name: Some(s.name.clone()),
        email: s.address.clone(),
    })
}

fn developer(case: &Case) -> Recipient {
    Recipient {
        name: Some(case.company.clone()).filter(|c| !c.is_empty()),
        email: case.developer_address.clone(),
    }
}

fn signee(case: &Case) -> Option<Recipient> {
    case.application.as_ref().map(|a| Recipient {
        name: Some(a.full_name.clone()),
        email: a.email.clone(),
    })
}

fn to_giver(giver: &Giver, cfg: &Config) -> Recipient {
    let name = match giver {
        Giver::Staff { address, .. } => cfg.staff_for(address).map(|s| s.name.clone()),
        Giver::Owner { address } => cfg.developer_for(address).map(|d| d.company.clone()),
    };
    Recipient {
        name,
        email: giver.address().to_string(),
    }
}

/// The history as the STATUS email lists it: the operator's local time,
/// who, what — in words (events hold nothing secret). For the developer,
/// the RA's staff are "RA staff", never their addresses.
pub fn history_context(history: &[Event], for_developer: bool, cfg: &Config) -> serde_json::Value {
    let hide_staff = |s: String| {
        if !for_developer {
            return s;
        }
        cfg.staff
            .iter()
            .fold(s, |s, staff| s.replace(&staff.address, "RA staff"))
    };
    serde_json::Value::Array(
        history
            .iter()
            .zip(crate::core::history::described(history))
            .map(|(e, what)| {
                let actor = match &e.actor {
                    Actor::Staff(_) if for_developer => "RA staff".to_string(),
                    other => other.to_string(),
                };
                json!({
                    "at": cfg.general.local_time(e.at),
                    "actor": actor,
                    "what": hide_staff(what),
                })
            })
            .collect(),
    )
}
