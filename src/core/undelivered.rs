//! An email of ours that did not arrive: a delivery report that came back
//! by mail, or a permanent refusal the outbox met at the SMTP server. Both
//! are recorded on the email's case, and when it was the signee's address
//! that failed, the developer and the staff holding the case are told.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::config::{Config, StaffRole};
use crate::core::Folder;
use crate::core::case::{Actor, Case, CaseState, Event, EventKind};
use crate::core::context::case_context;
use crate::core::effects::Effects;
use crate::core::email::{Email, FromAddress, Recipient, Template};
use crate::core::message::Inbound;
use crate::core::view::{View, ViewResult};
use crate::pack_check::fields::Field;

/// One of our emails refused for good by the SMTP server.
#[derive(Debug, Clone, Copy)]
pub struct Refusal<'a> {
    /// The case it was about, if any.
    pub case_ref: Option<&'a str>,
    /// Its envelope recipients.
    pub recipients: &'a [String],
    /// The server's reply code, e.g. `550`.
    pub code: &'a str,
}

/// A delivery report by mail: recorded on the case of the email it is
/// about; never answered to its sender.
pub fn delivery_report(
    msg: &Inbound,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<Effects> {
    let Some(report) = &msg.report else {
        return Ok(Effects::only_filing(Folder::Quarantine, "automated mail"));
    };
    let Some(message_id) = &report.original_message_id else {
        return Ok(Effects::only_filing(
            Folder::Quarantine,
            "report about unknown mail",
        ));
    };
    let case = match view.sent_email(message_id)? {
        Some(sent) => view.case(&sent.case_ref)?,
        None => None,
    };
    let Some(case) = case else {
        return Ok(Effects::only_filing(
            Folder::Quarantine,
            "report about unknown mail",
        ));
    };
    let mut effects = Effects::only_filing(Folder::Processed, "delivery report recorded");
    for failure in &report.failed {
        effects.events.push((
            case.reference.clone(),
            Event {
                at: now,
                actor: Actor::System,
                what: EventKind::DeliveryFailed {
                    message_id: message_id.clone(),
                    recipient: failure.recipient.clone(),
                    status: failure.status.clone(),
                },
            },
        ));
        effects.emails.extend(signee_unreachable(
            &case,
            &failure.recipient,
            &failure.status,
            cfg,
        ));
    }
    if effects.events.is_empty() {
        effects.reason = "report without a failure";
    }
    Ok(effects)
}

/// A refusal at the SMTP server: the notices it calls for. (The outbox
/// records the refusal itself on the case as the email's outcome.)
pub fn refused(refusal: Refusal<'_>, view: &impl View, cfg: &Config) -> ViewResult<Effects> {
    let mut effects = Effects {
        reason: "refusal",
        ..Effects::default()
    };
    let Some(reference) = refusal.case_ref else {
        return Ok(effects);
    };
    let Some(case) = view.case(reference)? else {
        return Ok(effects);
    };
    effects.emails = refusal
        .recipients
        .iter()
        .flat_map(|to| signee_unreachable(&case, to, refusal.code, cfg))
        .collect();
    Ok(effects)
}

/// When `recipient` is the case's signee, the notices that our email to
/// them failed (`status`: a DSN status such as `5.1.1`, or the SMTP reply
/// code of a refusal): to the developer and to the staff holding the case.
/// For any other recipient, none.
fn signee_unreachable(case: &Case, recipient: &str, status: &str, cfg: &Config) -> Vec<Email> {
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
            from: FromAddress::Ra,
            to: vec![recipient],
            case_ref: Some(case.reference.clone()),
            thread: case.thread.clone(),
            context: ctx.clone(),
        })
        .collect()
}

/// The staff who hold a case in its current state: whose move it is.
pub fn holders(case: &Case, cfg: &Config) -> Vec<Recipient> {
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
