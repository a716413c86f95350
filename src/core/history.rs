//! A case's history in plain words, one line per event, for people: `sijil
//! case` and the `STATUS` email. What happened, not the stored record
//! (which `sijil case --json` prints).

use std::collections::HashMap;

use crate::core::case::{CaseState, Event, EventKind};

/// Each event's line, in order. An email's later events (sent, failed,
/// bounced) name it as its queuing did: which email, to whom.
pub fn described(history: &[Event]) -> Vec<String> {
    let mut emails: HashMap<&str, String> = HashMap::new();
    history
        .iter()
        .map(|event| {
            if let EventKind::EmailQueued {
                template,
                to,
                message_id,
            } = &event.what
            {
                emails.insert(message_id, email_named(template, to));
            }
            describe(&event.what, &emails)
        })
        .collect()
}

fn describe(what: &EventKind, emails: &HashMap<&str, String>) -> String {
    let email = |message_id: &str| {
        emails
            .get(message_id)
            .cloned()
            .unwrap_or_else(|| format!("email <{message_id}>"))
    };
    match what {
        EventKind::MessageIn { subject, .. } => format!("message received: \"{subject}\""),
        EventKind::PackChecked { problems } if problems.is_empty() => {
            "pack checked: complete".into()
        }
        EventKind::PackChecked { problems } => format!(
            "pack checked: {} problem(s): {}",
            problems.len(),
            problems.join(", ")
        ),
        EventKind::DocumentsAdded { names } => {
            format!("document(s) added: {}", names.join(", "))
        }
        EventKind::StateChanged { from: None, to } => format!("case opened as {}", state(*to)),
        EventKind::StateChanged {
            from: Some(from),
            to,
        } if from == to => {
            format!("still {}", state(*to))
        }
        EventKind::StateChanged {
            from: Some(from),
            to,
        } => {
            format!("{} → {}", state(*from), state(*to))
        }
        EventKind::Rejected { codes, reason } if codes.is_empty() => {
            format!("rejected: {reason}")
        }
        EventKind::Rejected { codes, reason } => {
            format!("rejected: {reason} ({})", codes.join(", "))
        }
        EventKind::DuplicateRefused { .. } => {
            "another pack for the same signee arrived and was refused".into()
        }
        EventKind::EmailQueued { message_id, .. } => format!("{} queued", email(message_id)),
        EventKind::EmailSent { message_id } => format!("{} sent", email(message_id)),
        EventKind::EmailFailed { message_id, error } => {
            format!("{} failed for good: {error}", email(message_id))
        }
        EventKind::DeliveryFailed {
            message_id,
            recipient,
            status,
        } => {
            let status = if status.is_empty() {
                String::new()
            } else {
                format!(" (status {status})")
            };
            format!(
                "delivery report: {} did not reach {recipient}{status}",
                email(message_id)
            )
        }
        EventKind::ReplySuppressed { template, to } => format!(
            "{} held back: too many replies to them this hour",
            email_named(template, std::slice::from_ref(to))
        ),
        EventKind::DocumentsPurged { documents } => {
            let names: Vec<&str> = documents.iter().map(|d| d.name.as_str()).collect();
            format!(
                "retention: {} document(s) destroyed ({}); names, sizes and SHA-256 kept",
                documents.len(),
                names.join(", ")
            )
        }
        EventKind::CommandAccepted {
            command,
            argument: Some(argument),
        } => format!("command {command} accepted: {argument}"),
        EventKind::CommandAccepted { command, .. } => format!("command {command} accepted"),
        EventKind::CommandRefused { line, reason } if line.is_empty() => {
            format!("command refused: {reason}")
        }
        EventKind::CommandRefused { line, reason } => {
            format!("command \"{line}\" refused: {reason}")
        }
        EventKind::SigneeWrote {
            subject,
            attachments,
        } if attachments.is_empty() => {
            format!("the signee wrote: \"{subject}\"; forwarded to staff")
        }
        EventKind::PinLinkIssued {
            number,
            replaced: Some(replaced),
            ..
        } => format!("set-PIN link {number} issued (link {replaced} made void)"),
        EventKind::PinLinkIssued { number, .. } => format!("set-PIN link {number} issued"),
        EventKind::PinLinkOpened { number } => format!("set-PIN link {number} opened"),
        EventKind::PinLinkRefused { why, visit } => {
            format!(
                "set-PIN link refused ({why}) on {}",
                visit.replace('_', " ")
            )
        }
        EventKind::PinRefused { codes } => format!("PIN refused: {}", codes.join(", ")),
        EventKind::PinLinkUsed { number } => format!("set-PIN link {number} used"),
        EventKind::PinSet => "certificate PIN set".into(),
        EventKind::PackLinked { espa, order, case } => {
            format!("case {case} linked to eSPA {espa} as signee {order}")
        }
        EventKind::SigneeReady { order, how } if how == "ekyc_ok" => {
            format!("signee {order} ready to sign: eKYC confirmed")
        }
        EventKind::SigneeReady { order, .. } => {
            format!("signee {order} ready to sign: certificate active")
        }
        EventKind::SigneeNotReady { order, why } => {
            format!("signee {order} no longer ready: {why}")
        }
        EventKind::SignLinkIssued { order, number, .. } => {
            format!("signing link {number} issued to signee {order}")
        }
        EventKind::SignLinkOpened { order } => format!("signee {order} opened the signing page"),
        EventKind::SignLinkRefused { order, why, visit } => {
            format!("signee {order}: signing link refused ({why}, on {visit})")
        }
        EventKind::CodeSent { order } => format!("verification code sent to signee {order}"),
        EventKind::CodeRefused { order, why } => {
            format!("signee {order}: verification code refused ({why})")
        }
        EventKind::PinWrong {
            order,
            failures,
            locked: true,
        } => format!("signee {order}: wrong PIN ({failures}), certificate locked"),
        EventKind::PinWrong {
            order, failures, ..
        } => format!("signee {order}: wrong PIN ({failures})"),
        EventKind::Signed { order, route, .. } => format!("signee {order} signed ({route})"),
        EventKind::SignDeclined { order, reason } => {
            format!("signee {order} declined to sign: \"{reason}\"")
        }
        EventKind::Completed => "every signee has signed: completed".into(),
        EventKind::CertificateIssued {
            serial,
            fingerprint,
            not_after,
        } => format!(
            "certificate issued: serial {serial}, SHA-256 fingerprint {fingerprint}, valid until {}",
            not_after.format("%Y-%m-%d")
        ),
        EventKind::CertificateRevoked { serial } => {
            format!("certificate {serial} revoked; a new key is made with the next PIN")
        }
        EventKind::CertificateNotIssued { why } => format!("no certificate issued: {why}"),
        EventKind::SigneeWrote {
            subject,
            attachments,
        } => format!(
            "the signee wrote: \"{subject}\", with {}; forwarded to staff",
            attachments.join(", ")
        ),
    }
}

/// `email ACK to submit@seriindah.my`, with the template as staff call it.
fn email_named(template: &str, to: &[String]) -> String {
    let name = match template {
        "emel1" => "EMEL 1".to_string(),
        other => other.to_uppercase(),
    };
    if to.is_empty() {
        format!("email {name}")
    } else {
        format!("email {name} to {}", to.join(", "))
    }
}

fn state(s: CaseState) -> String {
    s.as_str().replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::case::{Actor, PurgedDocument};
    use chrono::Utc;

    fn event(what: EventKind) -> Event {
        Event {
            at: Utc::now(),
            actor: Actor::System,
            what,
        }
    }

    #[test]
    fn each_event_in_plain_words_and_emails_named_by_what_they_are() {
        let history = [
            EventKind::MessageIn {
                message_id: Some("m1@dev".into()),
                subject: "Permohonan".into(),
            },
            EventKind::PackChecked { problems: vec![] },
            EventKind::StateChanged {
                from: None,
                to: CaseState::Received,
            },
            EventKind::EmailQueued {
                template: "emel1".into(),
                to: vec!["ali@buyer.example.com".into()],
                message_id: "e1@ra".into(),
            },
            EventKind::EmailSent {
                message_id: "e1@ra".into(),
            },
            EventKind::DeliveryFailed {
                message_id: "e1@ra".into(),
                recipient: "ali@buyer.example.com".into(),
                status: "5.1.1".into(),
            },
            EventKind::EmailSent {
                message_id: "unknown@ra".into(),
            },
            EventKind::StateChanged {
                from: Some(CaseState::PinPending),
                to: CaseState::PinSet,
            },
            EventKind::Rejected {
                codes: vec!["NOT_ELIGIBLE".into()],
                reason: "not eligible".into(),
            },
            EventKind::DocumentsPurged {
                documents: vec![PurgedDocument {
                    name: "mykad.pdf".into(),
                    size: 10,
                    sha256: "ab".into(),
                }],
            },
        ]
        .map(event);
        assert_eq!(
            described(&history),
            [
                "message received: \"Permohonan\"",
                "pack checked: complete",
                "case opened as received",
                "email EMEL 1 to ali@buyer.example.com queued",
                "email EMEL 1 to ali@buyer.example.com sent",
                "delivery report: email EMEL 1 to ali@buyer.example.com did not reach \
                 ali@buyer.example.com (status 5.1.1)",
                "email <unknown@ra> sent",
                "pin pending → pin set",
                "rejected: not eligible (NOT_ELIGIBLE)",
                "retention: 1 document(s) destroyed (mykad.pdf); names, sizes and SHA-256 kept",
            ]
        );
    }
}
