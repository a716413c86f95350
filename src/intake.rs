//! Where a message becomes a case: an application pack opens one, a
//! developer's reply completes an incomplete one.
//!
//! Pure: the parsed message, its class, a read-only view of the cases and
//! `now` in; a [`Decision`] out — the case to store, the history to append,
//! the emails to send and the folder to file the message in. The daemon
//! commits all of that in one transaction before it moves the message.

use chrono::{DateTime, Datelike, Utc};
use serde_json::{Value, json};

use crate::case::{Actor, Case, CaseState, Document, Event, EventKind};
use crate::classify::Class;
use crate::config::{Config, StaffRole};
use crate::email::{Email, Recipient, Sender, Template, Thread};
use crate::inbound::{Attachment, Inbound};
use crate::mailbox::Folder;
use crate::pack_check::attachment::{self, Content, DocKind};
use crate::pack_check::fields::{Field, Fields};
use crate::pack_check::{self, Application, AttachmentMeta, IdType, Limits, SigneeRole};

/// How much of a document is kept beside its digest, so that a later
/// re-check (after a supplement) can sniff its type without reading the
/// document back.
const HEAD_LEN: usize = 64;

/// Read-only view of the stored cases the core needs.
pub trait Cases {
    fn get(&self, reference: &str) -> Option<Case>;
    /// An open (not rejected or withdrawn) case for this eSPA signee order.
    fn open_for_order(&self, espa: &str, order: u32) -> Option<Case>;
    /// An open case for this ID number on this eSPA.
    fn open_for_id(&self, espa: &str, id_number: &str) -> Option<Case>;
    /// The sequence number the next case of `year` will get.
    fn next_sequence(&self, year: i32) -> u64;
    /// The case one of our emails (by its Message-ID) was about.
    fn case_for_email(&self, message_id: &str) -> Option<Case>;
    /// How many answers `address` got on the thread of case `reference`
    /// in the clock hour of `now`.
    fn replies_this_hour(&self, address: &str, reference: &str, now: DateTime<Utc>) -> u32;
}

/// The key under which answers to one sender on one case are counted per
/// clock hour (the store persists the counts): [`REPLY_COUNTER_PREFIX`],
/// then address, reference and [`counter_hour`], `\0` between them.
pub fn reply_counter(address: &str, reference: &str, now: DateTime<Utc>) -> String {
    format!(
        "{REPLY_COUNTER_PREFIX}{address}\0{reference}\0{}",
        counter_hour(now)
    )
}

pub const REPLY_COUNTER_PREFIX: &str = "rate\0";

/// The clock hour a reply counter counts, `YYYYMMDDHH`: the last part of
/// its key, in an order that sorts as time does.
pub fn counter_hour(now: DateTime<Utc>) -> String {
    now.format("%Y%m%d%H").to_string()
}

/// What to do with one inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub folder: Folder,
    /// Why, in a few words, for the log.
    pub reason: &'static str,
    /// The case created or changed, to be stored as it is here.
    pub case: Option<Case>,
    /// Set when `case` is new: the sequence number it consumed.
    pub new_sequence: Option<(i32, u64)>,
    /// History to append, by case reference.
    pub events: Vec<(String, Event)>,
    pub emails: Vec<Email>,
    /// Indexes into `Inbound::attachments` to keep in the documents.
    pub keep_attachments: Vec<usize>,
}

impl Decision {
    fn file(folder: Folder, reason: &'static str) -> Decision {
        Decision {
            folder,
            reason,
            case: None,
            new_sequence: None,
            events: Vec::new(),
            emails: Vec::new(),
            keep_attachments: Vec::new(),
        }
    }
}

/// Decides what one message does.
pub fn decide(
    msg: &Inbound,
    class: &Class,
    cases: &impl Cases,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Decision {
    let mut d = decide_unlimited(msg, class, cases, cfg, now);
    limit_replies(msg, &mut d, cases, cfg, now);
    d
}

/// RFC 3834's last line of defence: a sender that is a robot answering
/// our answers (on the same case, so a busy developer's many packs never
/// count together) gets at most `reply_rate_per_hour` answers; the message
/// still takes effect, the rest of the answers are held back and recorded.
fn limit_replies(
    msg: &Inbound,
    d: &mut Decision,
    cases: &impl Cases,
    cfg: &Config,
    now: DateTime<Utc>,
) {
    let Some(sender) = msg.from.as_deref() else {
        return;
    };
    let limit = cfg.security.reply_rate_per_hour;
    let mut counted: Vec<(String, u32)> = Vec::new();
    let mut held = Vec::new();
    d.emails.retain(|email| {
        let Some(reference) = email.case_ref.as_deref() else {
            return true;
        };
        if !email
            .to
            .iter()
            .any(|r| r.email.eq_ignore_ascii_case(sender))
        {
            return true;
        }
        let n = match counted.iter_mut().find(|(r, _)| r == reference) {
            Some((_, n)) => n,
            None => {
                counted.push((
                    reference.to_string(),
                    cases.replies_this_hour(sender, reference, now),
                ));
                &mut counted.last_mut().expect("just pushed").1
            }
        };
        *n += 1;
        if *n > limit {
            held.push((reference.to_string(), email.template));
            return false;
        }
        true
    });
    for (reference, template) in held {
        tracing::warn!(case = %reference, template = template.name(), "answer held back: reply rate limit");
        d.events.push((
            reference,
            event(
                now,
                Actor::System,
                EventKind::ReplySuppressed {
                    template: template.name().to_string(),
                    to: sender.to_string(),
                },
            ),
        ));
    }
}

fn decide_unlimited(
    msg: &Inbound,
    class: &Class,
    cases: &impl Cases,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Decision {
    match class {
        Class::Malformed => Decision::file(Folder::Quarantine, "malformed message"),
        Class::Automated { report: true, .. } => delivery_report(msg, cases, cfg, now),
        Class::Automated { .. } => Decision::file(Folder::Quarantine, "automated mail"),
        Class::Unknown => Decision::file(Folder::Quarantine, "unknown sender"),
        Class::Registration | Class::EspaReply { .. } => {
            Decision::file(Folder::Quarantine, "eSPA registration not yet supported")
        }
        Class::Pack => new_pack(msg, cases, cfg, now),
        Class::CaseReply { reference } => case_reply(msg, reference, cases, cfg, now),
    }
}

fn new_pack(msg: &Inbound, cases: &impl Cases, cfg: &Config, now: DateTime<Utc>) -> Decision {
    let from = msg.from.clone().unwrap_or_default();
    let company = cfg
        .developer_for(&from)
        .map(|d| d.company.clone())
        .unwrap_or_default();
    let fields = Fields::parse(&msg.text);
    let all = documents_of(msg, now);
    let checked = check(&fields, &all, msg.size, cfg, now);
    let documents = kept(all, cfg);

    if let Some(existing) = duplicate_of(&fields, checked.application.as_ref(), cases) {
        let mut d = Decision::file(Folder::Rejected, "duplicate pack");
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
        let thread = thread_of(msg);
        d.emails.push(Email {
            template: Template::Duplicate,
            sender: Sender::Ra,
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
        return d;
    }

    let year = now.year();
    let sequence = cases.next_sequence(year);
    let reference = format!("{}-{year}-{sequence:06}", cfg.case.reference_prefix);
    let (state, problems, application) = match checked.application {
        Some(app) => (CaseState::Received, Vec::new(), Some(app)),
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
        thread: thread_of(msg),
    };
    let actor = Actor::Developer(from);
    let mut d = Decision::file(Folder::Processed, "new pack");
    d.new_sequence = Some((year, sequence));
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
                actor,
                EventKind::StateChanged {
                    from: None,
                    to: state,
                },
            ),
        ),
    ];
    d.reason = if state == CaseState::Received {
        "pack accepted"
    } else {
        "pack incomplete"
    };
    d.emails = emails_for(&case, cfg);
    d.case = Some(case);
    d
}

fn case_reply(
    msg: &Inbound,
    reference: &str,
    cases: &impl Cases,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Decision {
    let Some(mut case) = cases.get(reference) else {
        return Decision::file(Folder::Quarantine, "unknown case reference");
    };
    let from = msg.from.clone().unwrap_or_default();
    let owner = cfg
        .developer_for(&from)
        .is_some_and(|d| d.company == case.company);
    let signee = case
        .application
        .as_ref()
        .is_some_and(|a| a.email.eq_ignore_ascii_case(&from));
    let actor = if owner {
        Actor::Developer(from.clone())
    } else if cfg.staff_for(&from).is_some() {
        Actor::Staff(from.clone())
    } else if signee {
        Actor::Signee(from.clone())
    } else {
        return Decision::file(Folder::Quarantine, "reply from a stranger");
    };
    if !owner || case.state != CaseState::Incomplete {
        // Staff commands, developer commands and signee messages come in
        // later slices; the message is kept on the case meanwhile.
        let mut d = Decision::file(Folder::Quarantine, "case replies not yet supported");
        d.events
            .push((case.reference.clone(), message_in(msg, &actor, now)));
        return d;
    }

    // A developer completing an incomplete pack.
    let own = crate::quote::own_text(&msg.text);
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
    let checked = check(&case.fields, &all, msg.size, cfg, now);

    let mut d = Decision::file(Folder::Processed, "supplement merged");
    d.keep_attachments = added.iter().map(|(i, _)| *i).collect();
    d.events
        .push((case.reference.clone(), message_in(msg, &actor, now)));
    if !names.is_empty() {
        d.events.push((
            case.reference.clone(),
            event(now, actor.clone(), EventKind::DocumentsAdded { names }),
        ));
    }
    match checked.application {
        Some(app) => {
            case.application = Some(app);
            case.problems.clear();
            match case.transition(CaseState::Received, now) {
                Ok(change) => d
                    .events
                    .push((case.reference.clone(), event(now, actor.clone(), change))),
                Err(_) => return Decision::file(Folder::Quarantine, "case moved on meanwhile"),
            }
            d.reason = "pack completed";
        }
        None => {
            case.problems = checked.problems;
            case.updated_at = now;
            d.reason = "pack still incomplete";
        }
    }
    d.events
        .push((case.reference.clone(), checked_event(&case, &actor, now)));
    d.emails = emails_for(&case, cfg);
    d.case = Some(case);
    d
}

/// A delivery report about one of our emails is recorded on its case; when
/// it was the signee's address that failed, the developer and the staff
/// holding the case are told. Never answered to its sender.
fn delivery_report(
    msg: &Inbound,
    cases: &impl Cases,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Decision {
    let Some(report) = &msg.report else {
        return Decision::file(Folder::Quarantine, "automated mail");
    };
    let Some(message_id) = &report.original_message_id else {
        return Decision::file(Folder::Quarantine, "report about unknown mail");
    };
    let Some(case) = cases.case_for_email(message_id) else {
        return Decision::file(Folder::Quarantine, "report about unknown mail");
    };
    let mut d = Decision::file(Folder::Processed, "delivery report recorded");
    for failure in &report.failed {
        d.events.push((
            case.reference.clone(),
            event(
                now,
                Actor::System,
                EventKind::DeliveryFailed {
                    message_id: message_id.clone(),
                    recipient: failure.recipient.clone(),
                    status: failure.status.clone(),
                },
            ),
        ));
        d.emails.extend(signee_unreachable(
            &case,
            &failure.recipient,
            &failure.status,
            cfg,
        ));
    }
    if d.events.is_empty() {
        d.reason = "report without a failure";
    }
    d
}

/// When `recipient` is the case's signee, the notices that our email to
/// them failed (`status`: a DSN status such as `5.1.1`, or the SMTP reply
/// code of a refusal): to the developer and to the staff holding the case.
/// For any other recipient, none.
pub fn signee_unreachable(case: &Case, recipient: &str, status: &str, cfg: &Config) -> Vec<Email> {
    let signee_email = case
        .application
        .as_ref()
        .map(|a| a.email.to_lowercase())
        .or_else(|| {
            case.fields
                .get(Field::Email)
                .map(|e| e.trim().to_lowercase())
        });
    if signee_email.as_deref() != Some(recipient.trim().to_lowercase().as_str()) {
        return Vec::new();
    }
    let mut ctx = case_context(case);
    ctx["bounce"] = json!({ "recipient": recipient, "status": status });
    let mut to = vec![Recipient {
        name: Some(case.company.clone()).filter(|c| !c.is_empty()),
        email: case.developer_address.clone(),
    }];
    to.extend(holders(case, cfg));
    to.into_iter()
        .map(|recipient| Email {
            template: Template::Bounce,
            sender: Sender::Ra,
            to: vec![recipient],
            case_ref: Some(case.reference.clone()),
            thread: case.thread.clone(),
            context: ctx.clone(),
        })
        .collect()
}

/// The staff who hold a case in its current state: whose move it is.
fn holders(case: &Case, cfg: &Config) -> Vec<Recipient> {
    let role = match case.state {
        CaseState::Received => StaffRole::Verifier,
        CaseState::Verified => StaffRole::Officer,
        CaseState::PinSet | CaseState::PinPending => StaffRole::Qc,
        _ => StaffRole::Admin,
    };
    cfg.staff_with(role)
        .map(|s| Recipient {
            name: Some(s.name.clone()),
            email: s.address.clone(),
        })
        .collect()
}

/// The pack check on a set of documents, each described by its stored head.
fn check(
    fields: &Fields,
    documents: &[(usize, Document)],
    message_size: u64,
    cfg: &Config,
    now: DateTime<Utc>,
) -> pack_check::Checked {
    let heads: Vec<Vec<u8>> = documents.iter().map(|(_, d)| head_of(d)).collect();
    let metas: Vec<AttachmentMeta<'_>> = documents
        .iter()
        .zip(&heads)
        .map(|((_, d), head)| AttachmentMeta {
            name: &d.name,
            size: d.size,
            head,
        })
        .collect();
    let limits = Limits {
        attachment_max: cfg.limits.attachment_max_bytes,
        message_max: cfg.limits.message_max_bytes,
    };
    pack_check::check(fields, &metas, message_size, &limits, now.date_naive())
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
/// [`Decision::keep_attachments`]).
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
    }
}

fn head_of(d: &Document) -> Vec<u8> {
    d.head.clone()
}

fn duplicate_of(fields: &Fields, app: Option<&Application>, cases: &impl Cases) -> Option<Case> {
    let espa = fields.get(Field::EspaRef).map(|e| e.trim().to_uppercase());
    let order = fields
        .get(Field::Order)
        .and_then(|o| o.trim().parse::<u32>().ok());
    if let (Some(espa), Some(order)) = (&espa, order)
        && let Some(c) = cases.open_for_order(espa, order)
    {
        return Some(c);
    }
    app.and_then(|a| cases.open_for_id(&a.espa_ref, &a.id_number))
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
        sender: Sender::Ra,
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
        _ => vec![email(Template::Incomplete, vec![developer])],
    }
}

fn case_context(case: &Case) -> Value {
    json!({
        "ref": case.reference,
        "company": case.company,
        "state": case.state.as_str(),
        "signee": signee_context(case),
        "documents": case.documents.iter().map(document_context).collect::<Vec<_>>(),
        "problems": case.problems.iter().map(|p| json!({
            "code": p.code.id(),
            "ms": p.ms(),
            "en": p.en(),
        })).collect::<Vec<_>>(),
    })
}

/// What the templates may show of the signee: never the full ID number.
fn signee_context(case: &Case) -> Value {
    if let Some(a) = &case.application {
        return json!({
            "name": a.full_name,
            "email": a.email,
            "phone": a.phone,
            "role": a.role.as_str(),
            "role_en": role_en(a.role),
            "order": a.order,
            "espa_ref": a.espa_ref,
            "id_type": id_type_label(a.id_type),
            "id_masked": mask_id(a.id_type, &a.id_number),
            "nationality": a.nationality,
            "reason": reason_label(a.reason),
        });
    }
    // Incomplete: show what was written, except the ID number.
    let f = |field| case.fields.get(field).map(str::to_string);
    json!({
        "name": f(Field::FullName),
        "email": f(Field::Email),
        "phone": f(Field::Phone),
        "role": f(Field::Role),
        "order": f(Field::Order),
        "espa_ref": f(Field::EspaRef),
        "id_type": f(Field::IdType),
        "nationality": f(Field::Nationality),
        "reason": f(Field::Reason),
    })
}

fn document_context(d: &Document) -> Value {
    let (kind_ms, kind_en) = d
        .kind
        .map(doc_kind_labels)
        .unwrap_or(("Dokumen lain", "Other document"));
    json!({
        "kind_ms": kind_ms,
        "kind_en": kind_en,
        "name": d.name,
        "size": human_size(d.size),
        "sha256": d.sha256.get(..12).unwrap_or(&d.sha256),
    })
}

pub fn doc_kind_labels(kind: DocKind) -> (&'static str, &'static str) {
    match kind {
        DocKind::ApplicationForm => ("Borang permohonan", "Application form"),
        DocKind::MyKadFront => ("MyKad (depan)", "MyKad (front)"),
        DocKind::MyKadBack => ("MyKad (belakang)", "MyKad (back)"),
        DocKind::MyKadBoth => ("MyKad (depan dan belakang)", "MyKad (front and back)"),
        DocKind::Passport => ("Pasport", "Passport"),
        DocKind::MyPr => ("Kad MyPR", "MyPR card"),
        DocKind::Loa => ("Surat kebenaran (LOA)", "Letter of Authorisation (LOA)"),
    }
}

fn role_en(role: SigneeRole) -> &'static str {
    match role {
        SigneeRole::Pembeli => "Buyer",
        SigneeRole::Saksi => "Witness",
        SigneeRole::TuanTanah => "Landowner",
        SigneeRole::Pemaju => "Developer",
    }
}

fn id_type_label(t: IdType) -> &'static str {
    match t {
        IdType::MyKad => "MyKad",
        IdType::MyPr => "MyPR",
        IdType::Passport => "Pasport / Passport",
    }
}

fn reason_label(r: pack_check::Reason) -> &'static str {
    match r {
        pack_check::Reason::Idsaya => "IDSAYA",
        pack_check::Reason::LuarNegara => "LUAR_NEGARA",
        pack_check::Reason::WargaAsing => "WARGA_ASING",
        pack_check::Reason::Oku => "OKU",
    }
}

/// ID numbers are personal data: emails and logs show only a part.
pub fn mask_id(id_type: IdType, number: &str) -> String {
    match id_type {
        IdType::MyKad | IdType::MyPr => crate::pack_check::mykad::masked(number),
        IdType::Passport => {
            let chars: Vec<char> = number.chars().collect();
            let keep = chars.len().saturating_sub(3);
            chars
                .iter()
                .enumerate()
                .map(|(i, c)| if i < keep { '*' } else { *c })
                .collect()
        }
    }
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{} KB", b.div_ceil(1024)),
        b => format!("{b} B"),
    }
}

fn recipient(msg: &Inbound) -> Recipient {
    Recipient {
        name: msg.from_name.clone(),
        email: msg.from.clone().unwrap_or_default(),
    }
}

/// Our replies thread to the message that started the case.
fn thread_of(msg: &Inbound) -> Thread {
    let mut references = msg.references.clone();
    if let Some(id) = &msg.message_id {
        references.push(id.clone());
    }
    Thread {
        in_reply_to: msg.message_id.clone(),
        references,
    }
}

fn event(at: DateTime<Utc>, actor: Actor, what: EventKind) -> Event {
    Event { at, actor, what }
}

fn message_in(msg: &Inbound, actor: &Actor, now: DateTime<Utc>) -> Event {
    event(
        now,
        actor.clone(),
        EventKind::MessageIn {
            message_id: msg.message_id.clone(),
            subject: msg.subject.clone(),
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

#[cfg(test)]
mod tests;
