//! `sijil run`: wires the edges to the core and keeps them going.
//!
//! The [`fetcher`] task fetches messages and has them parsed and
//! classified on the blocking pool; this loop takes them in arrival order,
//! in batches: decide → append the documents → render the emails → commit
//! (case, document index, history, outbox and the message's key in one
//! transaction) for each, then one barrier makes the whole batch durable,
//! and only then does the fetcher file its messages. The outbox sender, the
//! web server and an hourly sweep of the reply counters run beside this
//! loop.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::classify::Class;
use crate::config::{Config, MailboxConfig};
use crate::documents::{Documents, Location};
use crate::fetcher::{self, Filing, Parsed, Parser};
use crate::inbound::Attachment;
use crate::intake::{self, Decision};
use crate::mailbox::imap::ImapMailbox;
use crate::mailbox::maildir::MaildirMailbox;
use crate::mailbox::{Folder, Mailbox, MailboxError};
use crate::outbox::{self, OutboxStats};
use crate::render::Renderer;
use crate::store::{Committed, Store};
use crate::transport::Transport;
use crate::web::{self, AppState, InboundStats};

/// Why `run` stopped with an error; `main` turns each into an exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot open the store at {path}: {error}")]
    Store { path: String, error: String },
    #[error("cannot listen on web.listen {addr}: {error}")]
    Listen { addr: String, error: String },
    #[error("mailbox login refused: {0}")]
    LoginRefused(String),
    #[error("{0}")]
    Start(String),
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(cfg: Config) -> Result<(), RunError> {
    let shutdown = CancellationToken::new();
    watch_signals(shutdown.clone())?;
    match &cfg.mailbox {
        MailboxConfig::Imap(imap) => {
            let store = open_store(&cfg)?;
            let state = store
                .tree("imap")
                .map_err(|e| RunError::Start(e.to_string()))?;
            let mailbox = ImapMailbox::new(imap.clone(), state);
            serve(cfg, store, mailbox, shutdown).await
        }
        MailboxConfig::Maildir(md) => {
            let store = open_store(&cfg)?;
            let mailbox = MaildirMailbox::new(md);
            serve(cfg, store, mailbox, shutdown).await
        }
    }
}

fn open_store(cfg: &Config) -> Result<Store, RunError> {
    if let Some(parent) = cfg.store.path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| RunError::Store {
            path: parent.display().to_string(),
            error: e.to_string(),
        })?;
    }
    Store::open(&cfg.store.path).map_err(|e| RunError::Store {
        path: cfg.store.path.display().to_string(),
        error: e.to_string(),
    })
}

fn watch_signals(shutdown: CancellationToken) -> Result<(), RunError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| RunError::Start(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| RunError::Start(e.to_string()))?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: finishing the message in hand"),
            _ = int.recv() => tracing::info!("SIGINT: finishing the message in hand"),
        }
        shutdown.cancel();
    });
    Ok(())
}

async fn serve<M: Mailbox + 'static>(
    cfg: Config,
    store: Store,
    mut mailbox: M,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let documents = Documents::open(&cfg.store.documents).map_err(|e| RunError::Store {
        path: cfg.store.documents.display().to_string(),
        error: e.to_string(),
    })?;
    let renderer = Renderer::new().map_err(|e| RunError::Start(format!("templates: {e:#}")))?;
    let transport = Transport::from_config(&cfg.outbound.transport)
        .map_err(|e| RunError::Start(format!("outbound: {e:#}")))?;
    let listener = tokio::net::TcpListener::bind(cfg.web.listen)
        .await
        .map_err(|e| RunError::Listen {
            addr: cfg.web.listen.to_string(),
            error: e.to_string(),
        })?;
    match mailbox.open().await {
        Ok(()) => {}
        Err(MailboxError::LoginRefused(why)) => return Err(RunError::LoginRefused(why)),
        Err(MailboxError::Other(why)) => {
            // The server may come back: the mailbox reconnects by itself.
            tracing::warn!(error = %why, "mailbox not reachable yet, will keep trying");
        }
    }

    // The phone number tables load on first use, which takes a noticeable
    // moment: pay it now, not on the first pack (or during a SIGTERM).
    let _ = crate::pack_check::phone::normalise("+60 12-345 6789");

    let cfg = Arc::new(cfg);
    let queued = Arc::new(outbox::Queued::default());
    let inbound_stats = Arc::new(InboundStats::default());
    let outbox_stats = Arc::new(OutboxStats::default());
    let sender = outbox::Sender::new(
        store.clone(),
        transport,
        cfg.clone(),
        Renderer::new().map_err(|e| RunError::Start(format!("templates: {e:#}")))?,
        queued.clone(),
        outbox_stats.clone(),
    );
    let outbox_task = tokio::spawn(sender.run(shutdown.clone()));
    let app = web::app(AppState {
        store: store.clone(),
        inbound: inbound_stats.clone(),
        outbox: outbox_stats,
    });
    let sweeper = tokio::spawn(forget_past_reply_counters(store.clone(), shutdown.clone()));
    let web_stop = shutdown.clone();
    let web_task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { web_stop.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "web server stopped");
        }
    });

    tracing::info!(
        mailbox = mailbox_kind(&cfg),
        web = %cfg.web.listen,
        config = %cfg.source.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "embedded default".into()),
        "sijil ready"
    );

    let parser = Parser::new(cfg.clone());
    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel();
    let (filings, filings_rx) = mpsc::unbounded_channel();
    let fetcher_task = tokio::spawn(fetcher::run(
        mailbox,
        parser,
        arrivals_tx,
        filings_rx,
        shutdown.clone(),
    ));
    let mut worker = Worker {
        cfg,
        store: store.clone(),
        documents,
        renderer,
        queued,
        stats: inbound_stats,
        announce: Vec::new(),
    };
    let mut pause = Duration::ZERO;
    loop {
        if !pause.is_zero() {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        let first = tokio::select! {
            _ = shutdown.cancelled() => break,
            arrival = arrivals.recv() => match arrival {
                Some(arrival) => arrival,
                None => break,
            },
        };
        // Whatever else has arrived comes along, so that one flush makes the
        // whole batch durable.
        let mut bytes = first.bytes;
        let mut batch = vec![first];
        while batch.len() < BATCH && bytes < BATCH_BYTES {
            match arrivals.try_recv() {
                Ok(arrival) => {
                    bytes += arrival.bytes;
                    batch.push(arrival);
                }
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let messages = batch.len();
        let mut handled = Vec::with_capacity(messages);
        let mut trouble = false;
        for arrival in batch {
            crate::failpoint::hit("after_fetch");
            let parsed = match arrival.parsed.await {
                Ok(parsed) => parsed,
                Err(e) => {
                    trouble = true;
                    tracing::error!(error = %e, "message not parsed, will retry");
                    continue;
                }
            };
            match worker.handle(parsed).await {
                Ok(folder) => handled.push((arrival.id, folder)),
                // Nothing of it is committed: it stays in the inbox.
                Err(e) => {
                    trouble = true;
                    tracing::error!(error = %e, "message not handled, will retry");
                }
            }
        }
        let decided = started.elapsed();
        if let Err(e) = worker.make_durable().await {
            trouble = true;
            tracing::error!(error = %e, "cannot make the batch durable; nothing filed");
            handled.clear();
        } else {
            crate::failpoint::hit("after_commit");
        }
        let durable = started.elapsed();
        tracing::debug!(
            messages,
            decide_ms = decided.as_millis() as u64,
            durable_ms = (durable - decided).as_millis() as u64,
            "batch done"
        );
        let filing = Filing {
            items: handled,
            messages,
            bytes,
        };
        if filings.send(filing).is_err() {
            break;
        }
        pause = if trouble {
            fetcher::next_pause(pause)
        } else {
            Duration::ZERO
        };
    }

    // The fetcher files what was sent, then logs out once this end is gone.
    drop(filings);
    let _ = fetcher_task.await;
    let _ = outbox_task.await;
    let _ = web_task.await;
    let _ = sweeper.await;
    if let Err(e) = store.flush().await {
        tracing::error!(error = %e, "final store flush failed");
    }
    tracing::info!("sijil stopped");
    Ok(())
}

/// At start and then every hour, the reply counters of past hours go: each
/// answer adds one, and only the current hour's limit anything.
async fn forget_past_reply_counters(store: Store, shutdown: CancellationToken) {
    let mut hourly = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = hourly.tick() => {}
        }
        let store = store.clone();
        let swept =
            tokio::task::spawn_blocking(move || store.forget_past_reply_counters(Utc::now())).await;
        match swept {
            Ok(Ok(0)) => {}
            Ok(Ok(forgotten)) => tracing::info!(forgotten, "past reply counters forgotten"),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot forget past reply counters"),
            Err(e) => tracing::warn!(error = %e, "reply counter sweep failed"),
        }
    }
}

/// The most messages decided before one flush makes them durable.
const BATCH: usize = 32;
/// ... and at most this many bytes of raw mail held at once: memory stays
/// bounded whatever the size of the backlog's messages.
const BATCH_BYTES: usize = 16 << 20;

fn mailbox_kind(cfg: &Config) -> &'static str {
    match cfg.mailbox {
        MailboxConfig::Imap(_) => "imap",
        MailboxConfig::Maildir(_) => "maildir",
    }
}

/// The message loop's own state.
struct Worker {
    cfg: Arc<Config>,
    store: Store,
    documents: Documents,
    renderer: Renderer,
    queued: Arc<outbox::Queued>,
    stats: Arc<InboundStats>,
    /// Emails committed since the outbox was last told.
    announce: Vec<u64>,
}

impl Worker {
    /// Makes everything the batch committed durable: the documents first
    /// (a durable case must never point at lost bytes), then the store.
    /// Only then may the messages be filed, and the outbox send.
    async fn make_durable(&mut self) -> Result<(), String> {
        let segments = self.documents.unsynced();
        if !segments.is_empty() {
            tokio::task::spawn_blocking(move || segments.iter().try_for_each(|f| f.sync_data()))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("documents: {e}"))?;
            self.documents.synced();
        }
        self.store.flush().await.map_err(|e| e.to_string())?;
        if !self.announce.is_empty() {
            self.queued.announce(self.announce.drain(..));
        }
        Ok(())
    }

    /// Makes one message take effect (once) and says where to file it.
    async fn handle(&mut self, parsed: Parsed) -> Result<Folder, String> {
        let Parsed {
            msg,
            class,
            panicked,
        } = parsed;
        if let Some(seen) = self.store.seen(&msg.key).map_err(|e| e.to_string())? {
            // A crash may have kept the case but not its documents' bytes;
            // the message is still here to write them again.
            let indexed = self.keep(msg.attachments.iter(), false)?;
            self.store
                .relocate_documents(&indexed)
                .map_err(|e| e.to_string())?;
            self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
            tracing::info!(key = %short(&msg.key), folder = ?seen.folder, "already handled; filing only");
            return Ok(seen.folder);
        }
        let now = Utc::now();
        let decision = if panicked {
            None
        } else {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                intake::decide(&msg, &class, &self.store, &self.cfg, now)
            }))
            .map_err(|_| {
                tracing::error!(key = %short(&msg.key), "core panicked; quarantining the message");
            })
            .ok()
        };
        let decision = decision.unwrap_or_else(|| Decision {
            folder: Folder::Quarantine,
            reason: "internal error",
            case: None,
            new_sequence: None,
            events: Vec::new(),
            emails: Vec::new(),
            keep_attachments: Vec::new(),
        });

        let kept = decision
            .keep_attachments
            .iter()
            .filter_map(|&i| msg.attachments.get(i));
        let stored = self.keep(kept, true)?;
        let outgoing =
            self.renderer
                .render_all(&decision.emails, &self.cfg.outbound, &msg.key, now)?;
        let committed = self
            .store
            .commit(&msg.key, &decision, &stored, &outgoing, now)
            .await
            .map_err(|e| e.to_string())?;
        let folder = match committed {
            Committed::Now { queued } => {
                self.announce.extend(queued);
                decision.folder
            }
            Committed::Already(folder) => folder,
        };
        let counter = match folder {
            Folder::Processed => &self.stats.processed,
            Folder::Rejected => &self.stats.rejected,
            Folder::Quarantine => &self.stats.quarantined,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            key = %short(&msg.key),
            from = msg.from.as_deref().unwrap_or("-"),
            class = class_name(&class),
            case = decision.case.as_ref().map(|c| c.reference.as_str()).unwrap_or("-"),
            state = decision.case.as_ref().map(|c| c.state.as_str()).unwrap_or("-"),
            emails = outgoing.len(),
            ?folder,
            reason = decision.reason,
            "message handled"
        );
        Ok(folder)
    }

    /// Makes sure the documents are held, writing those whose bytes are not
    /// where the store says (or, with `new`, that the store has never
    /// seen). Returns what was written, for the store to index.
    fn keep<'a>(
        &mut self,
        attachments: impl Iterator<Item = &'a Attachment>,
        new: bool,
    ) -> Result<Vec<(String, Location)>, String> {
        let mut stored: Vec<(String, Location)> = Vec::new();
        let mut checked: Vec<&str> = Vec::new();
        for a in attachments {
            if checked.contains(&a.sha256.as_str()) {
                continue;
            }
            checked.push(&a.sha256);
            let known = self.store.document(&a.sha256).map_err(|e| e.to_string())?;
            if known.is_none() && !new {
                continue;
            }
            let written = self
                .documents
                .ensure(&a.sha256, &a.bytes, known.as_ref())
                .map_err(|e| format!("documents: {e}"))?;
            if let Some(at) = written {
                stored.push((a.sha256.clone(), at));
            }
        }
        Ok(stored)
    }
}

fn class_name(class: &Class) -> &'static str {
    match class {
        Class::Malformed => "malformed",
        Class::Automated { .. } => "automated",
        Class::CaseReply { .. } => "case-reply",
        Class::EspaReply { .. } => "espa-reply",
        Class::Registration => "registration",
        Class::Pack => "pack",
        Class::Unknown => "unknown",
    }
}

/// Message keys can be long Message-IDs; logs need only enough to find it.
fn short(key: &str) -> &str {
    key.get(..key.len().min(80)).unwrap_or(key)
}
