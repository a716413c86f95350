//! The one apply path. What the core decided for any input — an inbound
//! message, an outcome of the outbox, a tick of the clock, a link used on
//! the web — is rendered, committed in one transaction with what the input
//! leaves behind ([`Origin`]), and once durable handed to the outbox. The
//! mailbox worker, the outbox and the web handlers all call this; none of
//! them renders or writes the store another way.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::config::Config;
use crate::core::Effects;
use crate::core::case::EventKind;
use crate::core::certificate::IssuedCertificate;
use crate::core::email::Template;
use crate::edge::documents::Location;
use crate::edge::render::{Attachment, Renderer};
use crate::edge::store::{Committed, Origin, Store, StoreError};
use crate::metrics::{CaseStats, OutboxStats};
use crate::pki::Authority;

/// How the apply path hands emails to the courier: once the commit that
/// queued them (and counted their first attempt) is durable, their ids, and
/// a ring. An email the courier learns of only from the store (after a
/// restart, or before the committer's barrier) has its attempt counted
/// again.
#[derive(Debug, Default)]
pub struct Doorbell {
    counted: Mutex<HashSet<u64>>,
    bell: Notify,
}

impl Doorbell {
    /// `ids` are queued and their commit is durable; wakes the courier.
    pub fn announce(&self, ids: impl IntoIterator<Item = u64>) {
        self.lock().extend(ids);
        self.bell.notify_one();
    }

    /// The ids announced since the last call. Taken whole before the
    /// courier reads the outbox: an id announced earlier is in what it reads
    /// unless its email already left (it was found in the store and sent
    /// before its announcement), and is forgotten either way.
    pub(crate) fn take_all(&self) -> HashSet<u64> {
        std::mem::take(&mut *self.lock())
    }

    /// Resolves at the next ring.
    pub(crate) async fn rung(&self) {
        self.bell.notified().await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<u64>> {
        self.counted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Render(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("documents: {0}")]
    Destroy(String),
    /// A set-PIN link could not be given its token (no randomness from
    /// the OS, or effects naming a link they do not carry): nothing was
    /// written.
    #[error("pin link: {0}")]
    Mint(String),
}

/// Shared by every task that applies effects; cheap to clone.
#[derive(Clone)]
pub struct Applier {
    store: Store,
    renderer: Arc<Renderer>,
    cfg: Arc<Config>,
    doorbell: Arc<Doorbell>,
    stats: Arc<OutboxStats>,
    cases: Arc<CaseStats>,
    /// The CA that issues on `QC-PASS` and attests iDsaya consents; `None`
    /// only where nothing is issued (tools, tests of other things).
    authority: Option<Arc<Authority>>,
}

impl Applier {
    pub fn new(
        store: Store,
        renderer: Arc<Renderer>,
        cfg: Arc<Config>,
        doorbell: Arc<Doorbell>,
        stats: Arc<OutboxStats>,
    ) -> Applier {
        Applier {
            store,
            renderer,
            cfg,
            doorbell,
            stats,
            cases: Arc::default(),
            authority: None,
        }
    }

    /// Issues certificates with `authority`.
    pub fn with_authority(mut self, authority: Arc<Authority>) -> Applier {
        self.authority = Some(authority);
        self
    }

    pub fn authority(&self) -> Option<&Authority> {
        self.authority.as_deref()
    }

    /// Keeps `cases` (counted from the store by the caller) current as
    /// commits move cases between states; without it the moves are
    /// counted where nobody reads them (the command line's purge).
    pub fn counting_cases(mut self, cases: Arc<CaseStats>) -> Applier {
        self.cases = cases;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn cfg(&self) -> &Config {
        &self.cfg
    }

    /// Renders the effects' emails (their Message-IDs derive from `seed`,
    /// the input's identity) and commits everything with what `origin`
    /// leaves. Visible at once, durable after [`Applier::durable`]; the
    /// emails queued are not sent before that.
    pub fn apply(
        &self,
        origin: Origin<'_>,
        seed: &str,
        effects: &Effects,
        stored: &[(String, Location)],
        now: DateTime<Utc>,
    ) -> Result<Committed, ApplyError> {
        let minted;
        let effects = if effects.pin_links.is_empty()
            && effects.sign_links.is_empty()
            && effects.sign_codes.is_empty()
            && effects.certificates.is_empty()
        {
            effects
        } else {
            let mut out = mint_pin_links(effects, &self.cfg.web.base_url)?;
            mint_sign_links(&mut out, &self.cfg.web.base_url)?;
            mint_sign_codes(&mut out, &self.store)?;
            self.issue_certificates(&mut out, now)?;
            minted = out;
            &minted
        };
        let attachments = self.attachments(effects)?;
        let outgoing = self
            .renderer
            .render_all(
                &effects.emails,
                &self.cfg.outbound,
                self.store.message_id_key(),
                seed,
                now,
                &attachments,
            )
            .map_err(ApplyError::Render)?;
        let committed = self.store.commit(origin, effects, stored, &outgoing, now)?;
        if let Committed::Now { queued, moved } = &committed {
            for m in moved {
                self.cases.moved(m.from, m.to);
            }
            self.stats
                .queued
                .fetch_add(queued.len() as u64, Ordering::Relaxed);
            if let Origin::Outbox { finished } = origin {
                let left = finished.len() as u64;
                // Never below zero, whatever the order of updates.
                let _ = self
                    .stats
                    .queued
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                        Some(n.saturating_sub(left))
                    });
            }
        }
        Ok(committed)
    }

    /// Carries out the destructions of document bytes that commits have
    /// recorded (see `Effects::destroy_documents`), including any a crash
    /// cut short: each only once its commit is durable, so a purge is never
    /// undone by a crash. Returns how many were destroyed.
    pub async fn destroy_pending(&self) -> Result<usize, ApplyError> {
        self.store.flush().await?;
        let pending = self.store.pending_purges()?;
        if pending.is_empty() {
            return Ok(0);
        }
        let root = self.cfg.store.documents.clone();
        let sha256s: Vec<String> = pending.iter().map(|(sha, _)| sha.clone()).collect();
        tokio::task::spawn_blocking(move || {
            pending
                .iter()
                .try_for_each(|(_, at)| crate::edge::documents::destroy(&root, at))
        })
        .await
        .map_err(|e| ApplyError::Destroy(e.to_string()))?
        .map_err(|e| ApplyError::Destroy(e.to_string()))?;
        crate::failpoint::hit("after_destroy");
        self.store.purged(&sha256s).await?;
        Ok(sha256s.len())
    }

    /// Makes everything committed so far durable, then hands the emails
    /// `queued` by those commits to the outbox (their first attempt was
    /// counted by the commit itself).
    pub async fn durable(&self, queued: Vec<u64>) -> Result<(), StoreError> {
        self.store.flush().await?;
        if !queued.is_empty() {
            self.doorbell.announce(queued);
        }
        Ok(())
    }
}

impl Applier {
    /// What each COMPLETED carries: the signed PDF and the completion
    /// certificate, made once per eSPA however many receive it.
    fn attachments(&self, effects: &Effects) -> Result<Vec<(usize, Vec<Attachment>)>, ApplyError> {
        let mut made: Vec<(String, Vec<Attachment>)> = Vec::new();
        let mut out = Vec::new();
        for (i, email) in effects.emails.iter().enumerate() {
            if email.template != Template::Completed {
                continue;
            }
            let Some(espa) = effects.espas.iter().rev().map(|w| &w.espa).find(|e| {
                email.case_ref.as_deref() == Some(&crate::core::espa::thread_ref(&e.reference))
            }) else {
                continue;
            };
            let files = match made.iter().find(|(r, _)| *r == espa.reference) {
                Some((_, files)) => files.clone(),
                None => {
                    let files = crate::edge::completion::attachments(
                        espa,
                        &effects.events,
                        &self.store,
                        &self.cfg,
                    )?;
                    made.push((espa.reference.clone(), files.clone()));
                    files
                }
            };
            out.push((i, files));
        }
        Ok(out)
    }

    /// Issues each certificate `effects` asks for (`QC-PASS`): for the
    /// written case's sealed key, the subject from its verified
    /// application. The case keeps the certificate, its EMEL 3 shows the
    /// serial and fingerprint, the history records it.
    fn issue_certificates(
        &self,
        effects: &mut Effects,
        now: DateTime<Utc>,
    ) -> Result<(), ApplyError> {
        for reference in effects.certificates.clone() {
            let authority = self
                .authority
                .as_deref()
                .ok_or_else(|| ApplyError::Mint("no CA is loaded to issue certificates".into()))?;
            let case = &mut effects
                .cases
                .iter_mut()
                .rev()
                .find(|w| w.case.reference == reference)
                .ok_or_else(|| ApplyError::Mint(format!("case {reference} is not written")))?
                .case;
            let (Some(sealed), Some(application)) = (&case.keys.sealed, &case.application) else {
                tracing::warn!(case = %reference, "QC-PASS: no sealed key to certify");
                let what = EventKind::CertificateNotIssued {
                    why: "no key pair was made when the PIN was set (RESET-PIN makes one)".into(),
                };
                effects.events.push((reference.clone(), event(what, now)));
                continue;
            };
            let spki = crate::pki::seal::public_key(sealed).map_err(ApplyError::Mint)?;
            let id_digest = self.store.id_mac(&application.id_number);
            let subject = crate::pki::certificate::Subject {
                full_name: &application.full_name,
                id_kind: application.id_type.as_str(),
                nationality: &application.nationality,
                id_digest: &id_digest,
            };
            let issued = authority
                .issue(&subject, &spki, now)
                .map_err(|e| ApplyError::Mint(e.to_string()))?;
            let certificate = IssuedCertificate {
                serial: issued.serial.clone(),
                fingerprint: issued.fingerprint.clone(),
                der: base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    &issued.der,
                ),
                not_before: issued.not_before,
                not_after: issued.not_after,
                revoked_at: None,
            };
            case.keys.certificate = Some(certificate);
            tracing::info!(case = %reference, serial = %issued.serial, "certificate issued");
            let what = EventKind::CertificateIssued {
                serial: issued.serial.clone(),
                fingerprint: issued.fingerprint.clone(),
                not_after: issued.not_after,
            };
            effects.events.push((reference.clone(), event(what, now)));
            if let Some(context) = effects
                .emails
                .iter_mut()
                .rev()
                .find(|e| {
                    e.template == Template::Emel3 && e.case_ref.as_deref() == Some(&reference)
                })
                .and_then(|e| e.context.as_object_mut())
            {
                context.insert(
                    "certificate".into(),
                    serde_json::json!({
                        "serial": issued.serial,
                        "fingerprint": issued.fingerprint,
                        "not_after": self.cfg.general.local_time(issued.not_after),
                        "issuer": authority.subject(),
                    }),
                );
            }
        }
        Ok(())
    }
}

fn event(what: EventKind, now: DateTime<Utc>) -> crate::core::case::Event {
    crate::core::case::Event {
        at: now,
        actor: crate::core::case::Actor::System,
        what,
    }
}

/// Gives each new set-PIN link of `effects` its token: 32 bytes from the
/// OS, base64url without padding in the link. The case written keeps only
/// the token's SHA-256; the token itself goes into its EMEL 2's `pin_url`,
/// and so only into that email, rendered, in the outbox until it is sent.
fn mint_pin_links(effects: &Effects, base_url: &str) -> Result<Effects, ApplyError> {
    let mut out = effects.clone();
    for reference in &effects.pin_links {
        let token = token()?;
        let link = out
            .cases
            .iter_mut()
            .rev()
            .find(|w| w.case.reference == *reference)
            .and_then(|w| w.case.pin.link.as_mut())
            .ok_or_else(|| {
                ApplyError::Mint(format!("case {reference} is not written with a link"))
            })?;
        link.token_sha256 = crate::core::pin::token_sha256(&token);
        let context = out
            .emails
            .iter_mut()
            .rev()
            .find(|e| e.template == Template::Emel2 && e.case_ref.as_deref() == Some(reference))
            .and_then(|e| e.context.as_object_mut())
            .ok_or_else(|| {
                ApplyError::Mint(format!("case {reference} has no EMEL 2 to carry its link"))
            })?;
        context.insert(
            "pin_url".into(),
            serde_json::Value::String(format!("{base_url}/pin/{token}")),
        );
    }
    Ok(out)
}

/// 32 bytes from the OS, base64url without padding: a link's token.
fn token() -> Result<String, ApplyError> {
    use base64::Engine;
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| ApplyError::Mint(format!("no randomness from the OS: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Six decimal digits, each of the million equally likely: a 32-bit draw
/// from the OS, drawn again in the rare case it falls past the last whole
/// million (so no code is likelier than another).
fn six_digits() -> Result<String, ApplyError> {
    use rand::TryRngCore;
    const LIMIT: u32 = u32::MAX - u32::MAX % 1_000_000;
    loop {
        let n = rand::rngs::OsRng
            .try_next_u32()
            .map_err(|e| ApplyError::Mint(format!("no randomness from the OS: {e}")))?;
        if n < LIMIT {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

/// The signee `order` of eSPA `reference` as `effects` writes it last.
fn written_signee<'a>(
    effects: &'a mut Effects,
    reference: &str,
    order: u32,
) -> Result<&'a mut crate::core::espa::Signee, ApplyError> {
    effects
        .espas
        .iter_mut()
        .rev()
        .find(|w| w.espa.reference == reference)
        .and_then(|w| w.espa.signee_mut(order))
        .ok_or_else(|| ApplyError::Mint(format!("eSPA {reference} signee {order} is not written")))
}

/// The context of the last email of `template` to `to` about eSPA `reference`.
fn email_context<'a>(
    effects: &'a mut Effects,
    template: Template,
    reference: &str,
    to: &str,
) -> Result<&'a mut serde_json::Map<String, serde_json::Value>, ApplyError> {
    let tag = crate::core::espa::thread_ref(reference);
    effects
        .emails
        .iter_mut()
        .rev()
        .find(|e| {
            e.template == template
                && e.case_ref.as_deref() == Some(tag.as_str())
                && e.to.iter().any(|r| r.email == to)
        })
        .and_then(|e| e.context.as_object_mut())
        .ok_or_else(|| {
            ApplyError::Mint(format!(
                "eSPA {reference} has no {} to {to}",
                template.name()
            ))
        })
}

/// Gives each new signing link its token, as [`mint_pin_links`] does: the
/// signee written keeps its SHA-256, their EMEL 4 gets the link.
fn mint_sign_links(effects: &mut Effects, base_url: &str) -> Result<(), ApplyError> {
    for (reference, order) in effects.sign_links.clone() {
        let token = token()?;
        let signee = written_signee(effects, &reference, order)?;
        let email = signee.email.clone();
        let link = signee.sign_link.as_mut().ok_or_else(|| {
            ApplyError::Mint(format!("eSPA {reference} signee {order} has no link"))
        })?;
        link.token_sha256 = crate::core::pin::token_sha256(&token);
        email_context(effects, Template::Emel4, &reference, &email)?.insert(
            "sign_url".into(),
            serde_json::Value::String(format!("{base_url}/sign/{token}")),
        );
    }
    Ok(())
}

/// Draws each new verification code: six digits, uniform, from the OS.
/// The signee written keeps its keyed hash ([`Store::code_mac`]), their
/// CODE email the digits.
fn mint_sign_codes(effects: &mut Effects, store: &Store) -> Result<(), ApplyError> {
    for (reference, order) in effects.sign_codes.clone() {
        let code = six_digits()?;
        let mac = store.code_mac(&reference, order, &code);
        let signee = written_signee(effects, &reference, order)?;
        let email = signee.email.clone();
        signee
            .code
            .as_mut()
            .ok_or_else(|| {
                ApplyError::Mint(format!("eSPA {reference} signee {order} has no code"))
            })?
            .mac = mac;
        email_context(effects, Template::SignCode, &reference, &email)?
            .insert("code".into(), serde_json::Value::String(code));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Folder;
    use crate::core::case::EventKind;
    use crate::core::email::{Email, FromAddress, Recipient, Thread};

    fn applier(store: &Store) -> (Applier, Arc<OutboxStats>) {
        let stats = Arc::new(OutboxStats::default());
        let applier = Applier::new(
            store.clone(),
            Arc::new(Renderer::new().unwrap()),
            Arc::new(Config::embedded_default()),
            Arc::new(Doorbell::default()),
            stats.clone(),
        );
        (applier, stats)
    }

    fn email(to: &str) -> Email {
        Email {
            template: Template::Ack,
            from: FromAddress::Ra,
            to: vec![Recipient {
                name: None,
                email: to.into(),
            }],
            case_ref: Some("SJL-2026-000001".into()),
            thread: Thread::default(),
            context: serde_json::json!({ "ref": "SJL-2026-000001" }),
        }
    }

    #[test]
    fn the_outbox_count_moves_with_commits_without_reading_the_outbox() {
        let store = Store::temporary().unwrap();
        let (applier, stats) = applier(&store);
        let effects = Effects {
            emails: vec![email("a@x.my"), email("b@x.my")],
            ..Effects::only_filing(Folder::Processed, "test")
        };
        let now = Utc::now();
        let origin = Origin::Message { key: "mid:a" };
        applier.apply(origin, "mid:a", &effects, &[], now).unwrap();
        assert_eq!(stats.queued.load(Ordering::Relaxed), 2);
        // The same message again: nothing new is queued.
        applier.apply(origin, "mid:a", &effects, &[], now).unwrap();
        assert_eq!(stats.queued.load(Ordering::Relaxed), 2);
        let first = store.outbox().next().unwrap().unwrap();
        let sent = EventKind::EmailSent {
            message_id: first.message_id.clone(),
        };
        let finished = [(first, sent)];
        let origin = Origin::Outbox {
            finished: &finished,
        };
        applier
            .apply(origin, "", &Effects::default(), &[], now)
            .unwrap();
        assert_eq!(stats.queued.load(Ordering::Relaxed), 1);
        assert_eq!(store.outbox_len(), 1, "the count agrees with the store");
    }

    #[test]
    fn the_count_of_cases_by_state_moves_with_commits() {
        use crate::core::case::CaseState;
        let store = Store::temporary().unwrap();
        let (applier, _) = applier(&store);
        let cases = Arc::new(CaseStats::counted([CaseState::Signed]));
        let applier = applier.counting_cases(cases.clone());
        let now = Utc::now();
        let mut case = crate::core::case::Case {
            reference: "SJL-2026-000001".into(),
            state: CaseState::Received,
            created_at: now,
            updated_at: now,
            company: "Seri Indah".into(),
            developer_address: "submit@seriindah.my".into(),
            fields: Default::default(),
            application: None,
            documents: Vec::new(),
            problems: Vec::new(),
            notices: Vec::new(),
            thread: Thread::default(),
            unreachable: 0,
            pin: Default::default(),
            keys: Default::default(),
        };
        let write = |case: &crate::core::case::Case, new: bool| Effects {
            cases: vec![crate::core::CaseWrite {
                case: case.clone(),
                new: new.then_some(crate::core::NewCase {
                    year: 2026,
                    sequence: 1,
                }),
            }],
            ..Effects::only_filing(Folder::Processed, "test")
        };
        let origin = Origin::Message { key: "mid:pack" };
        applier
            .apply(origin, "mid:pack", &write(&case, true), &[], now)
            .unwrap();
        assert_eq!(cases.get(CaseState::Received), 1);
        // The same pack again takes no effect, and counts nothing.
        applier
            .apply(origin, "mid:pack", &write(&case, true), &[], now)
            .unwrap();
        assert_eq!(cases.get(CaseState::Received), 1);
        case.transition(CaseState::Verified, now).unwrap();
        let origin = Origin::Message {
            key: "mid:verified",
        };
        applier
            .apply(origin, "mid:verified", &write(&case, false), &[], now)
            .unwrap();
        let counts: Vec<(CaseState, u64)> = cases.all().filter(|(_, n)| *n > 0).collect();
        assert_eq!(
            counts,
            [(CaseState::Verified, 1), (CaseState::Signed, 1)],
            "the count read at start stays, the case moved"
        );
    }

    #[test]
    fn message_ids_are_keyed_with_the_stores_secret() {
        let (one, two) = (Store::temporary().unwrap(), Store::temporary().unwrap());
        let effects = Effects {
            emails: vec![email("a@x.my")],
            ..Effects::only_filing(Folder::Processed, "test")
        };
        let ids: Vec<String> = [&one, &two]
            .iter()
            .map(|store| {
                let (applier, _) = applier(store);
                let origin = Origin::Message { key: "mid:a" };
                applier
                    .apply(origin, "mid:a", &effects, &[], Utc::now())
                    .unwrap();
                store.outbox().next().unwrap().unwrap().message_id
            })
            .collect();
        assert_ne!(
            ids[0], ids[1],
            "the same input in another store: another id, not derivable from the input"
        );
    }
}
