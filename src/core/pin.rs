//! The certificate PIN (SPEC §5, §7): the set-PIN link a case holds, its
//! issue with EMEL 2, and what a visit to the link decides.
//!
//! Pure like the rest of the core, and it never sees a secret: the link's
//! token is minted by the apply path after the decision (only its SHA-256
//! reaches the case, see [`Effects::pin_links`]), and the PIN is hashed by
//! the web edge before it asks (only its Argon2id PHC string comes in).
//!
//! A case keeps only its current link. An older link's token is still in
//! the store's link index, pointing at the case, so a visit to it is told
//! "replaced" rather than "unknown".

pub mod rules;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::{Config, StaffRole};
use crate::core::case::{Actor, Case, CaseState, Event, EventKind};
use crate::core::context::case_context;
use crate::core::effects::{CaseWrite, Effects};
use crate::core::email::{Email, FromAddress, Recipient, Template};
use crate::core::view::{View, ViewResult};
pub use rules::Mistake;

/// The PIN part of a case: hashes and times only, never a secret.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The link issued last; earlier ones are void.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<PinLink>,
    /// The PIN's Argon2id hash as a PHC string, once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_at: Option<DateTime<Utc>>,
    /// How many links were issued for the case, this one included.
    #[serde(default)]
    pub links_issued: u32,
    /// Wrong PINs typed on the signing page since this PIN's link was
    /// issued (a right code given each time).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failures: u32,
    /// When the [`MAX_WRONG_PINS`]th wrong PIN locked the certificate;
    /// until `RESET-PIN` issues a new link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_at: Option<DateTime<Utc>>,
}

/// Wrong PINs on the signing page that lock the certificate (SPEC §7).
pub const MAX_WRONG_PINS: u32 = 5;

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Pin {
    pub fn is_empty(&self) -> bool {
        *self == Pin::default()
    }
}

/// The hash stays out of every log line that prints a case.
impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pin")
            .field("link", &self.link)
            .field("hash", &self.hash.as_ref().map(|_| "***"))
            .field("set_at", &self.set_at)
            .field("links_issued", &self.links_issued)
            .field("failures", &self.failures)
            .field("locked_at", &self.locked_at)
            .finish()
    }
}

/// One set-PIN link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinLink {
    /// Hex SHA-256 of the token in the link. Empty in the core's decision;
    /// the apply path mints the token and sets it before the commit.
    pub token_sha256: String,
    /// Which link of the case this is (1 for the first).
    pub number: u32,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<DateTime<Utc>>,
}

/// What a link is worth at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    /// It may set the PIN.
    Current,
    /// It set the PIN already.
    Used,
    Expired,
    /// A newer link was issued for the case.
    Replaced,
    /// The case no longer waits for a PIN (rejected, withdrawn, …).
    NotPending,
}

impl LinkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkStatus::Current => "current",
            LinkStatus::Used => "used",
            LinkStatus::Expired => "expired",
            LinkStatus::Replaced => "replaced",
            LinkStatus::NotPending => "not_pending",
        }
    }
}

/// What the link whose token hashes to `token_sha256` is worth on `case`
/// at `now`. A link is current until it expires (`expires_at` itself is
/// too late).
pub fn link_status(case: &Case, token_sha256: &str, now: DateTime<Utc>) -> LinkStatus {
    let Some(link) = case
        .pin
        .link
        .as_ref()
        .filter(|l| !l.token_sha256.is_empty() && l.token_sha256 == token_sha256)
    else {
        return LinkStatus::Replaced;
    };
    if link.used_at.is_some() {
        LinkStatus::Used
    } else if now >= link.expires_at {
        LinkStatus::Expired
    } else if case.state != CaseState::PinPending {
        LinkStatus::NotPending
    } else {
        LinkStatus::Current
    }
}

/// The hex SHA-256 of a link's token: all the store keeps of it.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `written` would undo what `stored` holds of a PIN: a link
/// issued, a link used or a PIN set since `written` was read. A decision made on a
/// case the web changed meanwhile must be made again (the store's commit
/// refuses it), or a PIN just set would be lost.
pub fn behind(stored: &Pin, written: &Pin) -> bool {
    if written.links_issued < stored.links_issued || written.set_at < stored.set_at {
        return true;
    }
    // A wrong PIN counted on the signing page since `written` was read.
    if written.links_issued == stored.links_issued
        && (written.failures < stored.failures
            || (stored.locked_at.is_some() && written.locked_at.is_none()))
    {
        return true;
    }
    let used = |p: &Pin| p.link.as_ref().and_then(|l| l.used_at.map(|_| l.number));
    match (used(stored), used(written)) {
        (Some(n), None) => written.link.as_ref().is_some_and(|l| l.number == n),
        _ => false,
    }
}

/// Issues a new set-PIN link for `case` and queues EMEL 2 with it: what
/// `APPROVED`, `QC-FAIL`, `RESET-PIN` and `RESEND` call. Any earlier link
/// is void from then on (a visit to it is told "replaced").
///
/// The caller has moved the case to the state it wants (`pin_pending`)
/// and stores `case` as it is after this call (a [`CaseWrite`]); the
/// apply path mints the token for it ([`Effects::pin_links`]) and gives
/// the email its `pin_url`. The link lasts `[web] pin_link_hours`.
pub fn issue_link(case: &mut Case, effects: &mut Effects, cfg: &Config, now: DateTime<Utc>) {
    let ttl = TimeDelta::from_std(cfg.web.pin_link_ttl).unwrap_or(TimeDelta::hours(72));
    let replaced = case.pin.link.as_ref().map(|l| l.number);
    case.pin.links_issued += 1;
    // A new PIN starts with no wrong tries, and unlocked.
    case.pin.failures = 0;
    case.pin.locked_at = None;
    let number = case.pin.links_issued;
    let expires_at = now + ttl;
    case.pin.link = Some(PinLink {
        token_sha256: String::new(),
        number,
        issued_at: now,
        expires_at,
        used_at: None,
    });
    case.updated_at = now;
    let reference = case.reference.clone();
    effects.events.push((
        reference.clone(),
        Event {
            at: now,
            actor: Actor::System,
            what: EventKind::PinLinkIssued {
                number,
                expires_at,
                replaced,
            },
        },
    ));
    let mut context = case_context(case);
    context["pin_link"] = json!({ "hours": ttl.num_hours(), "number": number });
    effects.emails.push(Email {
        template: Template::Emel2,
        from: FromAddress::Ra,
        to: signee(case).into_iter().collect(),
        case_ref: Some(reference.clone()),
        thread: case.thread.clone(),
        context,
    });
    effects.pin_links.push(reference);
}

/// A visit to a set-PIN link, as the web edge has it.
#[derive(Debug, Clone, Copy)]
pub enum Visit<'a> {
    /// The page was opened.
    Open,
    /// A PIN was sent that breaks the rules (the page said why).
    Refused(&'a [Mistake]),
    /// An acceptable PIN was sent, hashed, with the key pair made for it
    /// (its private key sealed under the PIN; `crate::pki::seal`).
    Set(PinHash<'a>, Option<&'a crate::core::certificate::SealedKey>),
    /// A PIN was sent to a link the page had already found used, expired,
    /// replaced or no longer pending, so it was neither checked nor
    /// hashed: only the attempt is recorded. (A link never becomes current
    /// again, so the core finds it spent too.)
    Spent,
}

impl Visit<'_> {
    fn name(&self) -> &'static str {
        match self {
            Visit::Open => "open",
            Visit::Refused(_) => "weak_pin",
            Visit::Set(..) | Visit::Spent => "set_pin",
        }
    }
}

/// An Argon2id PHC string. Not printed by `Debug`: a hash of a 6-digit
/// PIN is quickly turned back into the PIN.
#[derive(Clone, Copy)]
pub struct PinHash<'a>(pub &'a str);

impl std::fmt::Debug for PinHash<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinHash(***)")
    }
}

/// Decides a visit to the link whose token hashes to `token_sha256`.
///
/// An unknown link changes nothing and records nothing (there is no case
/// to record it on). A link that is used, expired, replaced, or whose
/// case no longer waits for a PIN changes nothing; the attempt is
/// recorded on the case. Opening a current link, or sending it a PIN the
/// rules refuse, is recorded. An acceptable PIN on a current link sets
/// it: the case becomes `pin_set` with the hash, the link is used, and
/// every QC officer gets STAFF-QC. The store's commit checks again that
/// the link is still current (two submissions racing: only one sets it).
pub fn visit(
    token_sha256: &str,
    visit: Visit<'_>,
    view: &impl View,
    cfg: &Config,
    now: DateTime<Utc>,
) -> ViewResult<Effects> {
    let Some(mut case) = view.case_for_pin_link(token_sha256)? else {
        return Ok(Effects {
            reason: "unknown pin link",
            ..Effects::default()
        });
    };
    let actor = signee_actor(&case);
    let reference = case.reference.clone();
    let event = |what| {
        (
            reference.clone(),
            Event {
                at: now,
                actor: actor.clone(),
                what,
            },
        )
    };
    let mut d = Effects::default();
    let status = link_status(&case, token_sha256, now);
    let number = case.pin.link.as_ref().map_or(0, |l| l.number);
    if status != LinkStatus::Current {
        d.reason = "pin link refused";
        d.events.push(event(EventKind::PinLinkRefused {
            why: status.as_str().to_string(),
            visit: visit.name().to_string(),
        }));
        return Ok(d);
    }
    match visit {
        Visit::Open => {
            d.reason = "pin link opened";
            d.events.push(event(EventKind::PinLinkOpened { number }));
        }
        Visit::Refused(mistakes) => {
            d.reason = "pin refused by the rules";
            d.events.push(event(EventKind::PinRefused {
                codes: mistakes.iter().map(|m| m.code().to_string()).collect(),
            }));
        }
        Visit::Spent => d.reason = "pin sent to a spent link",
        Visit::Set(hash, sealed) => {
            let Ok(change) = case.transition(CaseState::PinSet, now) else {
                // Ruled out by the status; kept as a refusal all the same.
                d.reason = "pin link refused";
                return Ok(d);
            };
            if let Some(link) = case.pin.link.as_mut() {
                link.used_at = Some(now);
            }
            case.pin.hash = Some(hash.0.to_string());
            case.keys.sealed = sealed.cloned();
            case.pin.set_at = Some(now);
            d.reason = "pin set";
            d.events.push(event(EventKind::PinLinkUsed { number }));
            d.events.push(event(change));
            d.events.push(event(EventKind::PinSet));
            d.emails = staff_qc(&case, cfg, now);
            d.cases.push(CaseWrite { case, new: None });
        }
    }
    Ok(d)
}

/// STAFF-QC, one email per QC officer (one refused address must not stop
/// the others' copy): the case summary and document list, never the ID
/// copies, and how to answer.
fn staff_qc(case: &Case, cfg: &Config, now: DateTime<Utc>) -> Vec<Email> {
    let mut context = case_context(case);
    context["pin_set_at"] = json!(now.format("%Y-%m-%d %H:%M UTC").to_string());
    cfg.staff_with(StaffRole::Qc)
        .map(|s| Email {
            template: Template::StaffQc,
            from: FromAddress::Ra,
            to: vec![Recipient {
                name: Some(s.name.clone()),
                email: s.address.clone(),
            }],
            case_ref: Some(case.reference.clone()),
            thread: case.thread.clone(),
            context: context.clone(),
        })
        .collect()
}

fn signee(case: &Case) -> Option<Recipient> {
    case.application.as_ref().map(|a| Recipient {
        name: Some(a.full_name.clone()),
        email: a.email.clone(),
    })
}

fn signee_actor(case: &Case) -> Actor {
    Actor::Signee(
        case.application
            .as_ref()
            .map(|a| a.email.clone())
            .unwrap_or_default(),
    )
}

/// What the page greets the signee by: the first word of the name the pack
/// gave, nothing else of theirs.
pub fn first_name(case: &Case) -> Option<String> {
    let name = case
        .application
        .as_ref()
        .map(|a| a.full_name.as_str())
        .or_else(|| case.fields.get(crate::pack_check::fields::Field::FullName))?;
    name.split_whitespace().next().map(str::to_string)
}
