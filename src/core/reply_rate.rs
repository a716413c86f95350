//! RFC 3834's last line of defence: a sender that is a robot answering our
//! answers gets at most `reply_rate_per_hour` answers per case and clock
//! hour. The message still takes effect; the answers beyond the limit are
//! held back and recorded on the case.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::core::case::{Actor, Event, EventKind};
use crate::core::effects::Effects;
use crate::core::view::{View, ViewResult};

/// The prefix of every reply counter key in the store.
pub const COUNTER_PREFIX: &str = "rate\0";

/// The key under which answers to one sender on one case are counted per
/// clock hour: [`COUNTER_PREFIX`], then address, reference and
/// [`counter_hour`], `\0` between them.
pub fn counter_key(address: &str, reference: &str, now: DateTime<Utc>) -> String {
    format!(
        "{COUNTER_PREFIX}{address}\0{reference}\0{}",
        counter_hour(now)
    )
}

/// The clock hour a reply counter counts, `YYYYMMDDHH`: the last part of
/// its key, in an order that sorts as time does.
pub fn counter_hour(now: DateTime<Utc>) -> String {
    now.format("%Y%m%d%H").to_string()
}

/// Holds back the answers to `sender` beyond the hour's limit (counted per
/// case, so a busy developer's many packs never count together).
pub fn limit(
    sender: Option<&str>,
    effects: &mut Effects,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<()> {
    let Some(sender) = sender else {
        return Ok(());
    };
    let limit = cfg.security.reply_rate_per_hour;
    let mut counted: Vec<(String, u32)> = Vec::new();
    let mut kept = Vec::with_capacity(effects.emails.len());
    let mut held = Vec::new();
    for email in std::mem::take(&mut effects.emails) {
        let to_sender = email
            .to
            .iter()
            .any(|r| r.email.eq_ignore_ascii_case(sender));
        let Some(reference) = email.case_ref.clone().filter(|_| to_sender) else {
            kept.push(email);
            continue;
        };
        let at = match counted.iter().position(|(r, _)| *r == reference) {
            Some(at) => at,
            None => {
                let so_far = view.replies_this_hour(sender, &reference, now)?;
                counted.push((reference.clone(), so_far));
                counted.len() - 1
            }
        };
        counted[at].1 += 1;
        if counted[at].1 > limit {
            held.push((reference, email.template));
        } else {
            kept.push(email);
        }
    }
    effects.emails = kept;
    for (reference, template) in held {
        tracing::warn!(case = %reference, template = template.name(), "answer held back: reply rate limit");
        effects.events.push((
            reference,
            Event {
                at: now,
                actor: Actor::System,
                what: EventKind::ReplySuppressed {
                    template: template.name().to_string(),
                    to: sender.to_string(),
                },
            },
        ));
    }
    Ok(())
}
