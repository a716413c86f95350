//! A reply on an eSPA thread that is not carried out: recorded on the
//! eSPA's history and answered with the command ERROR (`command-error`),
//! which shows nothing of the eSPA beyond its tag.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::handle::event;
use super::{Espa, thread_ref};
use crate::core::case::{Actor, EventKind};
use crate::core::effects::Effects;
use crate::core::email::{Email, FromAddress, Recipient, Template, Thread};

/// A reply refused: recorded on the eSPA, answered with the command ERROR.
#[allow(clippy::too_many_arguments)]
pub(super) fn refused(
    mut effects: Effects,
    espa: &Espa,
    actor: &Actor,
    line: &str,
    why: &str,
    (ms, en): (String, String),
    thread: Thread,
    now: DateTime<Utc>,
) -> Effects {
    let tag = thread_ref(&espa.reference);
    let line: String = line.chars().take(200).collect();
    tracing::info!(espa = %espa.reference, reason = why, "eSPA command refused");
    effects.events.push((
        tag.clone(),
        event(
            now,
            actor,
            EventKind::CommandRefused {
                line: line.clone(),
                reason: why.to_string(),
            },
        ),
    ));
    let address = match actor {
        Actor::Developer(a) => a.clone(),
        _ => espa.developer_address.clone(),
    };
    effects.emails.push(Email {
        template: Template::CommandError,
        from: FromAddress::Ra,
        to: vec![Recipient {
            name: Some(espa.company.clone()).filter(|c| !c.is_empty()),
            email: address,
        }],
        case_ref: Some(tag.clone()),
        thread,
        context: json!({
            "ref": tag,
            "line": line,
            "reason_ms": ms,
            "reason_en": en,
            "allowed": ["STATUS", "EKYC-OK <order>"],
        }),
    });
    effects
}

pub(super) mod sentences {
    pub const UNTHREADED: (&str, &str) = (
        "Arahan eSPA hanya diterima sebagai balasan kepada e-mel eSPA yang dihantar kepada alamat anda. Sila balas e-mel tersebut (kekalkan subjek) dan tulis arahan pada baris pertama.",
        "eSPA commands are taken only as a reply to an eSPA email sent to your address. Please reply to that email (keep the subject) and write the command on the first line.",
    );
    pub const UNAUTHENTICATED: (&str, &str) = (
        "Pelayan mel kami tidak dapat mengesahkan bahawa mesej ini datang daripada alamat anda (DKIM/SPF), jadi arahan tidak dilaksanakan.",
        "Our mail server could not confirm that this message came from your address (DKIM/SPF), so the command was not carried out.",
    );
}
