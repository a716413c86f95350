//! Where a message becomes a case: an application pack opens one, a
//! developer's supplement completes an incomplete one (SPEC §4).

use chrono::{DateTime, Datelike, Utc};
use serde_json::json;

use crate::config::{Config, StaffRole};
use crate::core::Folder;
use crate::core::case::{Actor, Case, CaseState, Document, Event, EventKind};
use crate::core::context::{case_context, problems_context, signee_context};
use crate::core::effects::{CaseWrite, Effects, NewCase};
use crate::core::email::{Email, FromAddress, Recipient, Template, Thread};
use crate::core::espa;
use crate::core::message::{Attachment, Inbound};
use crate::core::view::{View, ViewResult};
use crate::pack_check::attachment::{self, Content};
use crate::pack_check::fields::{Field, Fields};
use crate::pack_check::{self, Application, AttachmentMeta, Limits, MessageMeta, Problem};

/// How much of a document is kept beside its digest, so that a later
/// re-check (after a supplement) can sniff its type without reading the
/// document back.
const HEAD_LEN: usize = 64;

/// A pack from a registered developer: a new case, `received` when the
/// check passes, `rejected` when the signee is not eligible for the manual
/// route (a problem no correction can fix, [`pack_check::Code::is_final`]),
/// `incomplete` otherwise; or a refusal naming the open case it duplicates.
/// A pack over the size limit was read from its header alone: its case is
/// `incomplete` with that one problem, and the developer sends the pack
/// again in several replies on its thread.
pub fn new_pack(
    msg: &Inbound,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<Effects> {
    let from = msg.from.clone().unwrap_or_default();
    let company = cfg
        .developer_for(&from)
        .map(|d| d.company.clone())
        .unwrap_or_default();
    let fields = Fields::parse(&msg.text);
    let all = documents_of(msg, now);
    let checked = if msg.oversize {
        pack_check::unread(&limits(cfg))
    } else {
        check(&fields, &all, msg, view, cfg, now)?
    };
    let documents = kept(all, cfg);

    if let Some(existing) = duplicate_of(&fields, checked.application.as_ref(), view)? {
        let mut d = Effects::only_filing(Folder::Rejected, "duplicate pack");
        d.events.push((
            existing.reference.clone(),
            event(
                now,
                Actor::Developer(from.clone()),
                EventKind::DuplicateRefused {
                    message_id: msg.message_id.clone(),
                },
            ),
        ));
        let thread = Thread::replying_to(msg);
        d.emails.push(Email {
            template: Template::Duplicate,
            from: FromAddress::Ra,
            to: vec![recipient(msg)],
            case_ref: Some(existing.reference.clone()),
            thread,
            context: json!({
                "ref": existing.reference,
                "company": company,
                "signee": signee_context(&existing),
                "existing": { "ref": existing.reference, "state": existing.state.as_str() },
                "state": existing.state.as_str(),
            }),
        });
        return Ok(d);
    }

    let year = now.year();
    let sequence = view.next_sequence(year)?;
    let reference = format!("{}-{year}-{sequence:06}", cfg.case.reference_prefix);
    let ineligible = checked.ineligible().next().is_some();
    let (state, problems, application) = match checked.application {
        Some(app) => (CaseState::Received, Vec::new(), Some(app)),
        None if ineligible => (CaseState::Rejected, checked.problems, None),
        None => (CaseState::Incomplete, checked.problems, None),
    };
    let case = Case {
        reference: reference.clone(),
        state,
        created_at: now,
        updated_at: now,
        company,
        developer_address: from.clone(),
        fields,
        application,
        documents: documents.iter().map(|(_, doc)| doc.clone()).collect(),
        problems,
        notices: checked.notices,
        thread: Thread::replying_to(msg),
        unreachable: 0,
        pin: Default::default(),
        keys: Default::default(),
    };
    let actor = Actor::Developer(from);
    let folder = if state == CaseState::Rejected {
        Folder::Rejected
    } else {
        Folder::Processed
    };
    let mut d = Effects::only_filing(folder, "new pack");
    d.keep_attachments = documents.iter().map(|(i, _)| *i).collect();
    d.events = vec![
        (reference.clone(), message_in(msg, &actor, now)),
        (
            reference.clone(),
            event(
                now,
                actor.clone(),
                EventKind::DocumentsAdded {
                    names: case.documents.iter().map(|doc| doc.name.clone()).collect(),
                },
            ),
        ),
        (reference.clone(), checked_event(&case, &actor, now)),
        (
            reference.clone(),
            event(
                now,
                actor.clone(),
                EventKind::StateChanged {
                    from: None,
                    to: state,
                },
            ),
        ),
    ];
    d.reason = match state {
        CaseState::Received => "pack accepted",
        CaseState::Rejected => {
            d.events
                .push((reference.clone(), rejected_event(&case, &actor, now)));
            "pack not eligible"
        }
        _ => "pack incomplete",
    };
    d.emails = emails_for(&case, cfg);
    d.cases.push(CaseWrite {
        case,
        new: Some(NewCase { year, sequence }),
    });
    Ok(d)
}

/// The owning developer's reply to an `incomplete` case: its field lines
/// and documents are merged and the pack checked again.
pub fn supplement(
    msg: &Inbound,
    mut case: Case,
    actor: Actor,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<Effects> {
    let own = crate::core::reply::own_text(&msg.text);
    case.fields.merge(&Fields::parse(&own));
    let (added, refused): (Vec<_>, Vec<_>) = documents_of(msg, now)
        .into_iter()
        .partition(|(_, d)| keepable(d, cfg));
    let mut names = Vec::new();
    for (_, doc) in &added {
        // A new file of a kind already held replaces it: that is how a
        // developer corrects a wrong scan.
        if doc.kind.is_some() {
            case.documents.retain(|old| old.kind != doc.kind);
        }
        case.documents.retain(|old| old.sha256 != doc.sha256);
        names.push(doc.name.clone());
        case.documents.push(doc.clone());
    }
    // Refused files of this reply are checked too, so the answer names them.
    let mut all: Vec<(usize, Document)> = case.documents.iter().cloned().enumerate().collect();
    all.extend(refused);
    let checked = check(&case.fields, &all, msg, view, cfg, now)?;

    let mut d = Effects::only_filing(Folder::Processed, "supplement merged");
    d.keep_attachments = added.iter().map(|(i, _)| *i).collect();
    d.events
        .push((case.reference.clone(), message_in(msg, &actor, now)));
    if !names.is_empty() {
        d.events.push((
            case.reference.clone(),
            event(now, actor.clone(), EventKind::DocumentsAdded { names }),
        ));
    }
    // A refusal for good is written after the check that decided it.
    let mut closing = Vec::new();
    case.notices = checked.notices.clone();
    match checked.application {
        Some(app) => {
            case.application = Some(app);
            case.problems.clear();
            match case.transition(CaseState::Received, now) {
                Ok(change) => d
                    .events
                    .push((case.reference.clone(), event(now, actor.clone(), change))),
                Err(_) => {
                    return Ok(Effects::only_filing(
                        Folder::Quarantine,
                        "case moved on meanwhile",
                    ));
                }
            }
            d.reason = "pack completed";
        }
        None if checked.ineligible().next().is_some() => {
            case.problems = checked.problems;
            match case.transition(CaseState::Rejected, now) {
                Ok(change) => closing.push(event(now, actor.clone(), change)),
                Err(_) => {
                    return Ok(Effects::only_filing(
                        Folder::Quarantine,
                        "case moved on meanwhile",
                    ));
                }
            }
            closing.push(rejected_event(&case, &actor, now));
            d.filing = Some(Folder::Rejected);
            d.reason = "pack not eligible";
        }
        None => {
            case.problems = checked.problems;
            case.updated_at = now;
            d.reason = "pack still incomplete";
        }
    }
    d.events
        .push((case.reference.clone(), checked_event(&case, &actor, now)));
    let reference = case.reference.clone();
    d.events
        .extend(closing.into_iter().map(|e| (reference.clone(), e)));
    d.emails = emails_for(&case, cfg);
    d.cases.push(CaseWrite { case, new: None });
    Ok(d)
}

/// The pack check on a set of documents, each described by its stored head,
/// with the message they came in (or the last of them, for a supplement).
/// A pack that passes is checked against its eSPA's registration too
/// (see [`espa::link::pack_problems`]).
fn check(
    fields: &Fields,
    documents: &[(usize, Document)],
    msg: &Inbound,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<pack_check::Checked> {
    let heads: Vec<Vec<u8>> = documents.iter().map(|(_, d)| head_of(d)).collect();
    let metas: Vec<AttachmentMeta<'_>> = documents
        .iter()
        .zip(&heads)
        .map(|((_, d), head)| AttachmentMeta {
            name: &d.name,
            size: d.size,
            head,
            sha256: &d.sha256,
        })
        .collect();
    let message = MessageMeta {
        size: msg.size,
        attachments_unread: msg.attachments_unread,
    };
    let mut checked = pack_check::check(fields, &metas, message, &limits(cfg), now.date_naive());
    if let Some(app) = &checked.application {
        let problems = espa::link::pack_problems(app, view)?;
        if !problems.is_empty() {
            checked.application = None;
            checked.problems.extend(problems);
        }
    }
    Ok(checked)
}

fn limits(cfg: &Config) -> Limits {
    Limits {
        attachment_max: cfg.limits.attachment_max_bytes,
        message_max: cfg.limits.message_max_bytes,
    }
}

/// Every attachment of the message, as a document, with its index. All of
/// them go through the check, so refused ones are named in the reply.
fn documents_of(msg: &Inbound, now: DateTime<Utc>) -> Vec<(usize, Document)> {
    msg.attachments
        .iter()
        .enumerate()
        .map(|(i, a)| (i, document(a, now)))
        .collect()
}

/// Only documents of an allowed type are kept (see
/// [`Effects::keep_attachments`]).
fn kept(documents: Vec<(usize, Document)>, cfg: &Config) -> Vec<(usize, Document)> {
    documents
        .into_iter()
        .filter(|(_, d)| keepable(d, cfg))
        .collect()
}

/// A document is kept when its content is an allowed type matching its
/// name and within the size limit; the rest is only reported.
fn keepable(doc: &Document, cfg: &Config) -> bool {
    let sniffed = attachment::sniff(&head_of(doc));
    matches!(sniffed, Content::Pdf | Content::Jpeg | Content::Png)
        && attachment::declared(&doc.name) == Some(sniffed)
        && attachment::refused_by_name(&doc.name).is_none()
        && doc.size <= cfg.limits.attachment_max_bytes
}

fn document(a: &Attachment, now: DateTime<Utc>) -> Document {
    Document {
        kind: attachment::kind_from_name(&a.name),
        name: a.name.clone(),
        content_type: a.content_type.clone(),
        size: a.bytes.len() as u64,
        sha256: a.sha256.clone(),
        head: a.bytes.iter().take(HEAD_LEN).copied().collect(),
        received_at: now,
        purged_at: None,
    }
}

fn head_of(d: &Document) -> Vec<u8> {
    d.head.clone()
}

fn duplicate_of(
    fields: &Fields,
    app: Option<&Application>,
    view: &impl View,
) -> ViewResult<Option<Case>> {
    let espa = fields.get(Field::EspaRef).map(|e| e.trim().to_uppercase());
    let order = fields
        .get(Field::Order)
        .and_then(|o| o.trim().parse::<u32>().ok());
    if let (Some(espa), Some(order)) = (&espa, order)
        && let Some(c) = view.open_for_order(espa, order)?
    {
        return Ok(Some(c));
    }
    match app {
        Some(a) => view.open_for_id(&a.espa_ref, &a.id_number),
        None => Ok(None),
    }
}

/// The emails a case's current state calls for after a pack or supplement.
fn emails_for(case: &Case, cfg: &Config) -> Vec<Email> {
    let ctx = case_context(case);
    let developer = Recipient {
        name: Some(case.company.clone()).filter(|c| !c.is_empty()),
        email: case.developer_address.clone(),
    };
    let email = |template, to: Vec<Recipient>| Email {
        template,
        from: FromAddress::Ra,
        to,
        case_ref: Some(case.reference.clone()),
        thread: case.thread.clone(),
        context: ctx.clone(),
    };
    match (&case.state, &case.application) {
        (CaseState::Received, Some(app)) => {
            let mut out = vec![
                email(Template::Ack, vec![developer]),
                email(
                    Template::Emel1,
                    vec![Recipient {
                        name: Some(app.full_name.clone()),
                        email: app.email.clone(),
                    }],
                ),
            ];
            // One email per verifier: one refused address must not stop
            // the others' copy, and staff need not see each other's.
            out.extend(cfg.staff_with(StaffRole::Verifier).map(|s| {
                email(
                    Template::StaffVerify,
                    vec![Recipient {
                        name: Some(s.name.clone()),
                        email: s.address.clone(),
                    }],
                )
            }));
            out
        }
        (CaseState::Rejected, _) => {
            // What stands in the way for good, apart from what a new pack
            // would also have to correct.
            let (ineligible, other): (Vec<&Problem>, Vec<&Problem>) =
                case.problems.iter().partition(|p| p.is_final());
            let mut mail = email(Template::Ineligible, vec![developer]);
            mail.context["ineligible"] = problems_context(&ineligible);
            mail.context["problems"] = problems_context(&other);
            vec![mail]
        }
        _ => vec![email(Template::Incomplete, vec![developer])],
    }
}

fn recipient(msg: &Inbound) -> Recipient {
    Recipient {
        name: msg.from_name.clone(),
        email: msg.from.clone().unwrap_or_default(),
    }
}

fn event(at: DateTime<Utc>, actor: Actor, what: EventKind) -> Event {
    Event { at, actor, what }
}

pub fn message_in(msg: &Inbound, actor: &Actor, now: DateTime<Utc>) -> Event {
    event(
        now,
        actor.clone(),
        EventKind::MessageIn {
            message_id: msg.message_id.clone(),
            subject: msg.subject.clone(),
        },
    )
}

/// The case closed as not eligible: the final codes and, in words, why.
fn rejected_event(case: &Case, actor: &Actor, now: DateTime<Utc>) -> Event {
    let finals: Vec<&Problem> = case.problems.iter().filter(|p| p.is_final()).collect();
    let why: Vec<String> = finals.iter().map(|p| p.en()).collect();
    event(
        now,
        actor.clone(),
        EventKind::Rejected {
            codes: finals.iter().map(|p| p.code.id().to_string()).collect(),
            reason: format!("not eligible for the manual route: {}", why.join(" ")),
        },
    )
}

fn checked_event(case: &Case, actor: &Actor, now: DateTime<Utc>) -> Event {
    event(
        now,
        actor.clone(),
        EventKind::PackChecked {
            problems: case
                .problems
                .iter()
                .map(|p| p.code.id().to_string())
                .collect(),
        },
    )
}
