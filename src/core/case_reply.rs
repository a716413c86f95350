//! A reply on a case (SPEC §5): who wrote it, whether it may count as a
//! command, and what it is — a developer's supplement to an incomplete
//! case, a command (decided in [`transitions`]), or the signee writing
//! back (forwarded to staff, never a command).
//!
//! A command counts only when its message threads (`In-Reply-To` /
//! `References`) to an email we sent to that same address about that case
//! — our Message-IDs are an HMAC under the store's secret, so nobody who did
//! not receive one can forge the thread — and, where the operator requires
//! it, when our own server vouches for the sender. Anything else changes
//! nothing, is recorded, and the real address is told.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::config::Config;
use crate::core::authenticated;
use crate::core::case::{Actor, Case, CaseState, Event, EventKind};
use crate::core::command::{self, Kind, ParseError};
use crate::core::context::{case_context, human_size};
use crate::core::effects::{Effects, Folder};
use crate::core::email::{Email, FromAddress, Recipient, Template, Thread};
use crate::core::intake;
use crate::core::message::Inbound;
use crate::core::reply;
use crate::core::transitions::{self, Giver};
use crate::core::undelivered::holders;
use crate::core::view::{View, ViewResult};

/// The longest command line kept in the history and quoted in an answer.
const LINE_KEPT: usize = 200;

pub fn handle(
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
    let line = reply::first_line(&msg.text).unwrap_or_default();
    let giver = match &actor {
        Actor::Signee(_) => {
            let history = view.history(&case.reference)?;
            return Ok(signee_wrote(msg, &case, &actor, &history, cfg, now));
        }
        // An incomplete case is completed by the developer's replies; only
        // a line that is one of their commands is read as a command.
        Actor::Developer(_) if case.state == CaseState::Incomplete && !is_owner_command(&line) => {
            return intake::supplement(msg, case, actor, view, cfg, now);
        }
        // Read from its header alone: no command can be read from it.
        _ if msg.oversize => {
            return Ok(Effects::only_filing(
                Folder::Quarantine,
                crate::core::route::TOO_LARGE,
            ));
        }
        Actor::Developer(address) => Giver::Owner {
            address: address.clone(),
        },
        Actor::Staff(address) => Giver::Staff {
            address: address.clone(),
            roles: cfg
                .staff_for(address)
                .map(|s| s.roles.clone())
                .unwrap_or_default(),
        },
        Actor::System => {
            return Ok(Effects::only_filing(
                Folder::Quarantine,
                "reply from a stranger",
            ));
        }
    };
    let mut effects = Effects::only_filing(Folder::Rejected, "command refused");
    effects
        .events
        .push((case.reference.clone(), intake::message_in(msg, &actor, now)));

    if cfg.security.require_authenticated_sender {
        let id = cfg.security.authserv_id.as_deref().unwrap_or_default();
        if !authenticated::vouches(&msg.authentication_results, id, &from) {
            return Ok(refused(
                effects,
                &case,
                &giver,
                &line,
                "unauthenticated: no passing Authentication-Results from our server",
                Answer::Untrusted(sentences::UNAUTHENTICATED),
                cfg,
                now,
            ));
        }
    }
    if !threads_to_us(msg, &case.reference, &from, view)? {
        return Ok(refused(
            effects,
            &case,
            &giver,
            &line,
            "not a reply to a case email sent to this address",
            Answer::Untrusted(sentences::UNTHREADED),
            cfg,
            now,
        ));
    }
    let answer = Thread::replying_to(msg);
    let command = match command::parse(&line) {
        Ok(command) => command,
        Err(error) => {
            let (ms, en, why) = parse_refusal(&error);
            return Ok(refused(
                effects,
                &case,
                &giver,
                &line,
                &why,
                Answer::Error {
                    ms,
                    en,
                    allowed: transitions::allowed_for(&giver, case.state),
                    thread: answer,
                },
                cfg,
                now,
            ));
        }
    };
    let history = if matches!(command.kind(), Kind::Status | Kind::Resend) {
        view.history(&case.reference)?
    } else {
        Vec::new()
    };
    match transitions::decide(&case, &command, &giver, &history, &answer, cfg, now) {
        Ok(accepted) => {
            let resend_sign_link = accepted.sign_link;
            let mut done = transitions::effects_of(accepted, cfg, now);
            done.events.splice(0..0, effects.events);
            if resend_sign_link {
                crate::core::espa::turn::resend(&case, view, &mut done, cfg, now)?;
            }
            Ok(done)
        }
        Err(refusal) => {
            let (ms, en) = refusal.sentences();
            Ok(refused(
                effects,
                &case,
                &giver,
                &line,
                &en,
                Answer::Error {
                    ms,
                    en: en.clone(),
                    allowed: refusal.allowed().to_vec(),
                    thread: answer,
                },
                cfg,
                now,
            ))
        }
    }
}

/// Who `from` is on `case`: the owning developer first, then staff, then
/// the case's own signee; anyone else is a stranger.
pub fn actor_on(case: &Case, from: &str, cfg: &Config) -> Option<Actor> {
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

fn is_owner_command(line: &str) -> bool {
    matches!(
        command::parse(line).map(|c| c.kind()),
        Ok(Kind::Status | Kind::Withdraw)
    )
}

/// Whether the message answers one of our emails about `reference` (a
/// case's, or an eSPA's tag) that went to `from` itself.
pub(crate) fn threads_to_us(
    msg: &Inbound,
    reference: &str,
    from: &str,
    view: &impl View,
) -> ViewResult<bool> {
    for id in msg.in_reply_to.iter().chain(&msg.references) {
        if let Some(sent) = view.sent_email(id)?
            && sent.case_ref == reference
            && sent.to.iter().any(|to| to.eq_ignore_ascii_case(from))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// How a refused reply is answered.
enum Answer {
    /// The sender may not be who the `From` says: the real address is told,
    /// on the case's own thread, never on the message's.
    Untrusted((&'static str, &'static str)),
    /// A trusted sender's command that could not be carried out.
    Error {
        ms: String,
        en: String,
        allowed: Vec<Kind>,
        thread: Thread,
    },
}

#[allow(clippy::too_many_arguments)]
fn refused(
    mut effects: Effects,
    case: &Case,
    giver: &Giver,
    line: &str,
    why: &str,
    answer: Answer,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Effects {
    let line = shortened(line);
    tracing::info!(case = %case.reference, reason = why, "command refused");
    effects.events.push((
        case.reference.clone(),
        Event {
            at: now,
            actor: giver.actor(),
            what: EventKind::CommandRefused {
                line: line.clone(),
                reason: why.to_string(),
            },
        },
    ));
    let (ms, en, allowed, thread) = match answer {
        Answer::Untrusted((ms, en)) => (
            ms.to_string(),
            en.to_string(),
            Vec::new(),
            case.thread.clone(),
        ),
        Answer::Error {
            ms,
            en,
            allowed,
            thread,
        } => (ms, en, allowed, thread),
    };
    let mut ctx = case_context(case);
    ctx["line"] = json!(line);
    ctx["reason_ms"] = json!(ms);
    ctx["reason_en"] = json!(en);
    ctx["allowed"] = json!(allowed.iter().map(|k| k.keyword()).collect::<Vec<_>>());
    let name = match giver {
        Giver::Staff { address, .. } => cfg.staff_for(address).map(|s| s.name.clone()),
        Giver::Owner { address } => cfg.developer_for(address).map(|d| d.company.clone()),
    };
    effects.emails.push(Email {
        template: Template::CommandError,
        from: FromAddress::Ra,
        to: vec![Recipient {
            name,
            email: giver.address().to_string(),
        }],
        case_ref: Some(case.reference.clone()),
        thread,
        context: ctx,
    });
    effects
}

/// The signee wrote back: recorded, and forwarded to the staff holding the
/// case with the attachments listed (not attached). Never a command.
fn signee_wrote(
    msg: &Inbound,
    case: &Case,
    actor: &Actor,
    history: &[Event],
    cfg: &Config,
    now: DateTime<Utc>,
) -> Effects {
    let mut effects = Effects::only_filing(Folder::Processed, "signee wrote");
    let attachments: Vec<serde_json::Value> = msg
        .attachments
        .iter()
        .map(|a| {
            json!({
                "name": a.name,
                "size": human_size(a.bytes.len() as u64),
                "content_type": a.content_type,
            })
        })
        .collect();
    effects
        .events
        .push((case.reference.clone(), intake::message_in(msg, actor, now)));
    effects.events.push((
        case.reference.clone(),
        Event {
            at: now,
            actor: actor.clone(),
            what: EventKind::SigneeWrote {
                subject: msg.subject.clone(),
                attachments: msg.attachments.iter().map(|a| a.name.clone()).collect(),
            },
        },
    ));
    // Like answers (`reply_rate`), forwards are limited per hour: a signee's
    // robot answering our emails must not flood the staff.
    let hour_ago = now - chrono::TimeDelta::hours(1);
    let this_hour = history
        .iter()
        .filter(|e| e.at > hour_ago && matches!(e.what, EventKind::SigneeWrote { .. }))
        .count();
    if this_hour >= cfg.security.reply_rate_per_hour as usize {
        effects.events.push((
            case.reference.clone(),
            Event {
                at: now,
                actor: Actor::System,
                what: EventKind::ReplySuppressed {
                    template: Template::SigneeMessage.name().to_string(),
                    to: "staff".to_string(),
                },
            },
        ));
        return effects;
    }
    let mut ctx = case_context(case);
    ctx["message"] = json!({
        "subject": msg.subject,
        "text": reply::own_text(&msg.text),
        "attachments": attachments,
    });
    for staff in holders(case, cfg) {
        effects.emails.push(Email {
            template: Template::SigneeMessage,
            from: FromAddress::Ra,
            to: vec![staff],
            case_ref: Some(case.reference.clone()),
            thread: case.thread.clone(),
            context: ctx.clone(),
        });
    }
    effects
}

fn parse_refusal(error: &ParseError) -> (String, String, String) {
    match error {
        ParseError::Unknown(word) if word.is_empty() => (
            "Tiada arahan ditemui pada baris pertama balasan anda.".into(),
            "No command was found on the first line of your reply.".into(),
            "no command".into(),
        ),
        ParseError::Unknown(word) => (
            format!("\"{word}\" bukan arahan yang dikenali."),
            format!("\"{word}\" is not a known command."),
            format!("unknown command \"{word}\""),
        ),
        ParseError::MissingArgument(kind) => (
            format!(
                "Arahan {kind} memerlukan sebab selepas kata kunci, contohnya \"{kind} nama tidak sepadan dengan MyKad\"."
            ),
            format!(
                "{kind} needs a reason after the keyword, for example \"{kind} name does not match the MyKad\"."
            ),
            format!("{kind} without its reason"),
        ),
        ParseError::UnexpectedText(kind) => (
            format!(
                "Arahan {kind} tidak menerima teks selepas kata kunci; tulis kata kunci sahaja pada baris pertama."
            ),
            format!(
                "{kind} takes no text after the keyword; write the keyword alone on the first line."
            ),
            format!("{kind} with unexpected text"),
        ),
    }
}

mod sentences {
    pub const UNTHREADED: (&str, &str) = (
        "Arahan hanya diterima sebagai balasan kepada e-mel kes yang dihantar kepada alamat anda. Sila balas e-mel kes tersebut (kekalkan subjek) dan tulis arahan pada baris pertama.",
        "Commands are taken only as a reply to a case email sent to your address. Please reply to that case email (keep the subject) and write the command on the first line.",
    );
    pub const UNAUTHENTICATED: (&str, &str) = (
        "Pelayan mel kami tidak dapat mengesahkan bahawa mesej ini datang daripada alamat anda (DKIM/SPF), jadi arahan tidak dilaksanakan.",
        "Our mail server could not confirm that this message came from your address (DKIM/SPF), so the command was not carried out.",
    );
}

fn shortened(line: &str) -> String {
    match line.char_indices().nth(LINE_KEPT) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}
