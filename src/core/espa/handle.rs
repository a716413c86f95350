//! An eSPA registration email (SPEC §3), and the owning developer's
//! replies on the eSPA thread: `STATUS`, or a correction (a new signee
//! list and/or a new PDF) while nobody has signed.
//!
//! A registration that fails the check changes nothing: the developer is
//! answered with the problems (`espa-incomplete`) and sends it again as a
//! new email; it is filed `Rejected`, as an answer with an error is, since
//! nothing of it is stored (unlike an incomplete pack, which opens a case).
//! Replies count only when they thread to an eSPA email sent to that same
//! address (and, where required, our server vouches for the sender), as
//! staff commands on a case do.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::context::{espa_context, problems_context, signee_context};
use super::problems::{EspaCode, EspaProblem};
use super::refusal::{refused, sentences};
use super::registration::{self, Written};
use super::{Espa, EspaWrite, Route, SigneeState, link, thread_ref, turn};
use crate::config::Config;
use crate::core::authenticated;
use crate::core::case::{Actor, Event, EventKind};
use crate::core::case_reply::threads_to_us;
use crate::core::command::{self, Kind};
use crate::core::effects::{Effects, Folder};
use crate::core::email::{Email, FromAddress, Recipient, Template, Thread};
use crate::core::intake::message_in;
use crate::core::message::Inbound;
use crate::core::reply;
use crate::core::transitions::history_context;
use crate::core::view::{View, ViewResult};
use crate::pack_check::attachment;

/// A registration from a registered developer.
pub fn register(
    msg: &Inbound,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<Effects> {
    let from = msg.from.clone().unwrap_or_default();
    let company = company_of(&from, cfg);
    let written = registration::read(&msg.text, &msg.subject);
    let mut problems = Vec::new();
    let reference = registration::reference(&written).map_err(|p| problems.push(p));
    let document = registration::document(msg, cfg.limits.attachment_max_bytes);
    if msg.oversize {
        // Read from its header alone: nothing else can be said of it.
        problems.extend(document.clone().err().unwrap_or_default());
    } else {
        let project = registration::project(&written).map_err(|p| problems.push(p));
        let (signees, found) = registration::signees(&written.signee_lines);
        problems.extend(found);
        if let Err(found) = &document {
            problems.extend(found.iter().cloned());
        }
        if let Ok(r) = &reference
            && view.espa(r)?.is_some()
        {
            problems.push(EspaProblem::about(EspaCode::EspaExists, r));
        }
        if let (true, Ok(reference), Ok(project), Ok((index, document))) =
            (problems.is_empty(), reference, project, document)
        {
            let espa = Espa {
                reference,
                project,
                company,
                developer_address: from.clone(),
                signees,
                document,
                thread: Thread::replying_to(msg),
                created_at: now,
                updated_at: now,
                completed_at: None,
                version: 1,
                signed_pdf: None,
            };
            return registered(msg, espa, index, view, cfg, now);
        }
    }
    let mut effects = Effects::only_filing(Folder::Rejected, "eSPA registration refused");
    let mut ctx = json!({
        "company": company,
        "espa": { "reference": written.reference },
        "problems": problems_context(&problems),
    });
    ctx["correction"] = json!(false);
    effects.emails.push(Email {
        template: Template::EspaIncomplete,
        from: FromAddress::Ra,
        to: vec![sender(msg)],
        // Not registered: no tag, since no eSPA thread exists to reply on.
        case_ref: None,
        thread: Thread::replying_to(msg),
        context: ctx,
    });
    Ok(effects)
}

/// The eSPA stored: its PDF kept, the packs that came before it linked,
/// the developer acknowledged (with any pack that does not match), EMEL 0
/// to every `idsaya` signee, and EMEL 4 if the first signee is ready.
fn registered(
    msg: &Inbound,
    mut espa: Espa,
    index: usize,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<Effects> {
    let tag = thread_ref(&espa.reference);
    let actor = Actor::Developer(espa.developer_address.clone());
    let mut effects = Effects::only_filing(Folder::Processed, "eSPA registered");
    effects.keep_attachments = vec![index];
    effects.events = vec![
        (tag.clone(), message_in(msg, &actor, now)),
        (
            tag.clone(),
            event(
                now,
                &actor,
                EventKind::DocumentsAdded {
                    names: vec![espa.document.name.clone()],
                },
            ),
        ),
    ];
    let mismatched = link::link_open_cases(&mut espa, view, &mut effects.events, now)?;
    let mut ack = ack(&espa, false);
    ack.context["mismatched"] = link::mismatches_context(&mismatched);
    effects.emails.push(ack);
    let idsaya: Vec<_> = espa
        .signees
        .iter()
        .filter(|s| s.route == Route::Idsaya)
        .collect();
    effects
        .emails
        .extend(idsaya.into_iter().map(|s| emel0(&espa, s)));
    turn::advance(&mut espa, view, &mut effects, cfg, now)?;
    effects.espas.push(EspaWrite { espa, new: true });
    Ok(effects)
}

/// A reply on the thread of eSPA `reference`.
pub fn reply(
    msg: &Inbound,
    reference: &str,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<Effects> {
    let Some(espa) = view.espa(reference)? else {
        return Ok(Effects::only_filing(
            Folder::Quarantine,
            "unknown eSPA reference",
        ));
    };
    let from = msg.from.clone().unwrap_or_default();
    let owner = cfg
        .developer_for(&from)
        .is_some_and(|d| d.company == espa.company);
    if !owner {
        return Ok(Effects::only_filing(
            Folder::Quarantine,
            "reply from a stranger",
        ));
    }
    if msg.oversize {
        return Ok(Effects::only_filing(
            Folder::Quarantine,
            crate::core::route::TOO_LARGE,
        ));
    }
    let tag = thread_ref(&espa.reference);
    let actor = Actor::Developer(from.clone());
    let line = reply::first_line(&msg.text).unwrap_or_default();
    let mut effects = Effects::only_filing(Folder::Rejected, "eSPA command refused");
    effects
        .events
        .push((tag.clone(), message_in(msg, &actor, now)));
    let refuse = |effects, why: &str, (ms, en): (String, String), thread| {
        refused(effects, &espa, &actor, &line, why, (ms, en), thread, now)
    };

    if cfg.security.require_authenticated_sender {
        let id = cfg.security.authserv_id.as_deref().unwrap_or_default();
        if !authenticated::vouches(&msg.authentication_results, id, &from) {
            let (ms, en) = sentences::UNAUTHENTICATED;
            return Ok(refuse(
                effects,
                "unauthenticated: no passing Authentication-Results from our server",
                (ms.into(), en.into()),
                espa.thread.clone(),
            ));
        }
    }
    if !threads_to_us(msg, &tag, &from, view)? {
        let (ms, en) = sentences::UNTHREADED;
        // The real address is told on the eSPA's own thread.
        return Ok(refuse(
            effects,
            "not a reply to an eSPA email sent to this address",
            (ms.into(), en.into()),
            espa.thread.clone(),
        ));
    }
    if matches!(command::parse(&line).map(|c| c.kind()), Ok(Kind::Status)) {
        let history = view.history(&tag)?;
        let mut d = Effects::only_filing(Folder::Processed, "eSPA status");
        d.events = effects.events;
        d.events.push((
            tag.clone(),
            event(
                now,
                &actor,
                EventKind::CommandAccepted {
                    command: "STATUS".into(),
                    argument: None,
                },
            ),
        ));
        let mut ctx = espa_context(&espa);
        ctx["history"] = history_context(&history, true, cfg);
        d.emails.push(Email {
            template: Template::EspaStatus,
            from: FromAddress::Ra,
            to: vec![sender(msg)],
            case_ref: Some(tag),
            thread: Thread::replying_to(msg),
            context: ctx,
        });
        return Ok(d);
    }
    if let Some(order) = super::ekyc::parse(&line) {
        return super::ekyc::confirm(msg, espa, order, effects, view, cfg, now);
    }
    let own = reply::own_text(&msg.text);
    let written = registration::read(&own, "");
    let files = msg
        .attachments
        .iter()
        .any(|a| !attachment::is_signature_image(&a.name, &a.bytes))
        || msg.attachments_unread > 0;
    if written.signee_lines.is_empty() && !files {
        let word = line.split_whitespace().next().unwrap_or_default();
        let (ms, en) = if word.is_empty() {
            (
                "Tiada arahan ditemui pada baris pertama balasan anda.".to_string(),
                "No command was found on the first line of your reply.".to_string(),
            )
        } else {
            (
                format!("\"{word}\" bukan arahan yang dikenali pada urutan eSPA."),
                format!("\"{word}\" is not a known command on an eSPA thread."),
            )
        };
        return Ok(refuse(
            effects,
            "unknown eSPA command",
            (ms, en),
            Thread::replying_to(msg),
        ));
    }
    if let Some(why) = fixed_by_signatures(&espa, &written, files) {
        return Ok(refuse(
            effects,
            "correction after a signature",
            why,
            Thread::replying_to(msg),
        ));
    }
    correction(msg, espa, &written, files, effects, view, cfg, now)
}

/// A new signee list and/or a new PDF, checked as a registration is; on
/// success they replace the old ones. A signee kept at the same address
/// and route keeps their state and case; a new `idsaya` signee gets EMEL 0.
#[allow(clippy::too_many_arguments)]
fn correction(
    msg: &Inbound,
    old: Espa,
    written: &Written,
    files: bool,
    mut effects: Effects,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<Effects> {
    let tag = thread_ref(&old.reference);
    let actor = Actor::Developer(msg.from.clone().unwrap_or_default());
    let mut problems = Vec::new();
    let mut espa = old.clone();
    if !written.signee_lines.is_empty() {
        let (signees, found) = registration::signees(&written.signee_lines);
        problems.extend(found);
        espa.signees = signees;
    }
    let mut kept = None;
    if files {
        match registration::document(msg, cfg.limits.attachment_max_bytes) {
            Ok((index, document)) => {
                kept = Some(index);
                espa.document = document;
            }
            Err(found) => problems.extend(found),
        }
    }
    if !problems.is_empty() {
        let codes: Vec<&str> = problems.iter().map(|p| p.code.id()).collect();
        effects.events.push((
            tag.clone(),
            event(
                now,
                &actor,
                EventKind::CommandRefused {
                    line: "correction".into(),
                    reason: format!("correction refused: {}", codes.join(", ")),
                },
            ),
        ));
        let mut ctx = espa_context(&old);
        ctx["problems"] = problems_context(&problems);
        ctx["correction"] = json!(true);
        effects.emails.push(Email {
            template: Template::EspaIncomplete,
            from: FromAddress::Ra,
            to: vec![sender(msg)],
            case_ref: Some(tag),
            thread: Thread::replying_to(msg),
            context: ctx,
        });
        return Ok(effects);
    }
    for s in &mut espa.signees {
        if let Some(before) = old
            .signees
            .iter()
            .find(|o| o.email == s.email && o.route == s.route)
        {
            let order = s.order;
            *s = before.clone();
            s.order = order;
            if s.state == SigneeState::Declined {
                // Kept after declining: asked again, with a new link.
                s.state = SigneeState::Ready;
                s.declined = None;
            }
        }
    }
    espa.updated_at = now;
    espa.version += 1;
    let mut done = Effects::only_filing(Folder::Processed, "eSPA corrected");
    done.events = effects.events;
    if let Some(index) = kept {
        done.keep_attachments = vec![index];
        done.events.push((
            tag.clone(),
            event(
                now,
                &actor,
                EventKind::DocumentsAdded {
                    names: vec![espa.document.name.clone()],
                },
            ),
        ));
    }
    let what = match (written.signee_lines.is_empty(), kept.is_some()) {
        (false, true) => "signees and document replaced",
        (false, false) => "signees replaced",
        _ => "document replaced",
    };
    done.events.push((
        tag,
        event(
            now,
            &actor,
            EventKind::CommandAccepted {
                command: "CORRECTION".into(),
                argument: Some(what.into()),
            },
        ),
    ));
    let mut ack = ack(&espa, true);
    ack.thread = Thread::replying_to(msg);
    done.emails.push(ack);
    let newly_idsaya = espa.signees.iter().filter(|s| {
        s.route == Route::Idsaya
            && !old
                .signees
                .iter()
                .any(|o| o.email == s.email && o.route == Route::Idsaya)
    });
    done.emails
        .extend(newly_idsaya.map(|s| emel0(&espa, s)).collect::<Vec<_>>());
    let mismatched = link::link_open_cases(&mut espa, view, &mut done.events, now)?;
    if let Some(ack) = done
        .emails
        .iter_mut()
        .find(|e| e.template == Template::EspaAck)
    {
        ack.context["mismatched"] = link::mismatches_context(&mismatched);
        ack.context["espa"] = espa_context(&espa)["espa"].clone();
    }
    turn::advance(&mut espa, view, &mut done, cfg, now)?;
    done.espas.push(EspaWrite { espa, new: false });
    Ok(done)
}

/// Why a correction cannot be made once someone has signed: the signed
/// document and signees are fixed. After a decline the developer may go
/// on with a corrected list, as long as it keeps every signee who signed
/// as they were (order, role, email, route) and the same document.
fn fixed_by_signatures(espa: &Espa, written: &Written, files: bool) -> Option<(String, String)> {
    let signed: Vec<_> = espa
        .signees
        .iter()
        .filter(|s| s.state == SigneeState::Signed)
        .collect();
    let first = signed.first()?;
    let fixed = (
        format!(
            "Penandatangan turutan {} telah menandatangani eSPA ini: senarai penandatangan dan dokumen tidak boleh diubah lagi.",
            first.order
        ),
        format!(
            "Signee {} has signed this eSPA: the signees and the document can no longer be changed.",
            first.order
        ),
    );
    if espa.declined().is_none() || files {
        return Some(fixed);
    }
    let (new, _) = registration::signees(&written.signee_lines);
    let kept = signed.iter().all(|s| {
        new.iter().any(|n| {
            n.order == s.order && n.role == s.role && n.email == s.email && n.route == s.route
        })
    });
    (!kept).then(|| {
        (
            "Senarai yang dibetulkan mesti mengekalkan setiap penandatangan yang telah menandatangani, pada turutan yang sama.".to_string(),
            "A corrected list must keep every signee who has signed, in the same order.".to_string(),
        )
    })
}

pub(super) fn ack(espa: &Espa, correction: bool) -> Email {
    let mut ctx = espa_context(espa);
    ctx["correction"] = json!(correction);
    Email {
        template: Template::EspaAck,
        from: FromAddress::Ra,
        to: vec![developer(espa)],
        case_ref: Some(thread_ref(&espa.reference)),
        thread: espa.thread.clone(),
        context: ctx,
    }
}

/// EMEL 0, from the HIMS address (SPEC §6).
fn emel0(espa: &Espa, signee: &super::Signee) -> Email {
    let mut ctx = espa_context(espa);
    ctx["signee"] = signee_context(signee);
    Email {
        template: Template::Emel0,
        from: FromAddress::Hims,
        to: vec![Recipient {
            name: Some(signee.name.clone()),
            email: signee.email.clone(),
        }],
        case_ref: Some(thread_ref(&espa.reference)),
        thread: espa.thread.clone(),
        context: ctx,
    }
}

fn company_of(from: &str, cfg: &Config) -> String {
    cfg.developer_for(from)
        .map(|d| d.company.clone())
        .unwrap_or_default()
}

fn developer(espa: &Espa) -> Recipient {
    Recipient {
        name: Some(espa.company.clone()).filter(|c| !c.is_empty()),
        email: espa.developer_address.clone(),
    }
}

fn sender(msg: &Inbound) -> Recipient {
    Recipient {
        name: msg.from_name.clone(),
        email: msg.from.clone().unwrap_or_default(),
    }
}

pub(super) fn event(at: DateTime<Utc>, actor: &Actor, what: EventKind) -> Event {
    Event {
        at,
        actor: actor.clone(),
        what,
    }
}
