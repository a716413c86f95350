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
use crate::edge::documents::Location;
use crate::edge::render::Renderer;
use crate::edge::store::{Committed, Origin, Store, StoreError};
use crate::metrics::{CaseStats, OutboxStats};

mod mint;
use crate::pki::Authority;
use mint::{mint_pin_links, mint_sign_codes, mint_sign_links};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Folder;
    use crate::core::case::EventKind;
    use crate::core::email::{Email, FromAddress, Recipient, Template, Thread};

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
