//! `sijil run`: wires the edges to the core and keeps them going.
//!
//! Beside each other: the [`fetcher`] (fetches messages, has them parsed
//! and classified on the blocking pool, files them when told), the
//! mailbox `worker` (the core decides, the apply path commits, one
//! barrier per batch), the outbox courier, the web server and the
//! `clock`. Every one of them that changes anything goes through the one
//! apply path ([`crate::apply`]).

mod clock;
mod worker;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::apply::Applier;
use crate::apply::Doorbell;
use crate::config::{Config, MailboxConfig};
use crate::edge::documents::Documents;
use crate::edge::fetcher::{self, Parser};
use crate::edge::mailbox::imap::ImapMailbox;
use crate::edge::mailbox::maildir::MaildirMailbox;
use crate::edge::mailbox::{Mailbox, MailboxError};
use crate::edge::outbox::Courier;
use crate::edge::render::Renderer;
use crate::edge::store::Store;
use crate::edge::transport::Transport;
use crate::metrics::{CaseStats, OutboxStats};
use crate::metrics::{InboundStats, RetentionStats};
use crate::web::{self, AppState};
use worker::Worker;

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
    #[error("the CA ([ca]): {0}")]
    Ca(String),
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
            let mailbox = ImapMailbox::new(imap.clone(), state)
                .with_message_max(cfg.limits.message_max_bytes);
            serve(cfg, store, mailbox, shutdown).await
        }
        MailboxConfig::Maildir(md) => {
            let store = open_store(&cfg)?;
            let mailbox = MaildirMailbox::new(md).with_message_max(cfg.limits.message_max_bytes);
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

/// Cases by state, read once at start for `/metrics`. A record that cannot
/// be read is left out of the count (and said in the log), not a reason to
/// refuse to start.
fn count_cases(store: &Store) -> CaseStats {
    CaseStats::counted(store.case_states().filter_map(|state| {
        state
            .inspect_err(|e| tracing::warn!(error = %e, "a case left out of the count by state"))
            .ok()
    }))
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

/// The daemon's parts, started; [`Running::stop`] waits for each.
struct Running {
    store: Store,
    tasks: Vec<JoinHandle<()>>,
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

    let authority = Arc::new(load_authority(&cfg)?);
    let cfg = Arc::new(cfg);
    let doorbell = Arc::new(Doorbell::default());
    let inbound_stats = Arc::new(InboundStats::default());
    let outbox_stats = Arc::new(OutboxStats::default());
    let retention_stats = Arc::new(RetentionStats::default());
    // The one count of the outbox; the apply path keeps it from here on.
    outbox_stats
        .queued
        .store(store.outbox_len() as u64, Ordering::Relaxed);
    // Likewise the one count of cases by state.
    let case_stats = Arc::new(count_cases(&store));
    let applier = Applier::new(
        store.clone(),
        Arc::new(renderer),
        cfg.clone(),
        doorbell.clone(),
        outbox_stats.clone(),
    )
    .counting_cases(case_stats.clone())
    .with_authority(authority);

    let mut running = Running {
        store: store.clone(),
        tasks: Vec::new(),
    };
    let courier = Courier::new(applier.clone(), transport, doorbell, outbox_stats.clone());
    running
        .tasks
        .push(tokio::spawn(courier.run(shutdown.clone())));
    let web_state = AppState::new(
        applier.clone(),
        inbound_stats.clone(),
        outbox_stats,
        retention_stats.clone(),
        case_stats,
    )
    .map_err(|e| RunError::Start(format!("web pages: {e:#}")))?;
    running
        .tasks
        .push(serve_web(listener, web_state, shutdown.clone()));
    running.tasks.push(tokio::spawn(clock::run(
        applier.clone(),
        retention_stats,
        shutdown.clone(),
    )));

    tracing::info!(
        mailbox = mailbox_kind(&cfg),
        web = %cfg.web.listen,
        config = %cfg.source.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "embedded default".into()),
        "sijil ready"
    );

    let (arrivals_tx, arrivals) = mpsc::unbounded_channel();
    let (filings, filings_rx) = mpsc::unbounded_channel();
    let fetcher_task = tokio::spawn(fetcher::run(
        mailbox,
        Parser::new(cfg.clone()),
        arrivals_tx,
        filings_rx,
        shutdown.clone(),
    ));
    let worker = Worker {
        applier,
        documents,
        stats: inbound_stats,
        announce: Vec::new(),
    };
    worker.run(arrivals, filings, shutdown).await;
    // The worker dropped its end: the fetcher files what it was sent, then
    // logs out.
    let _ = fetcher_task.await;
    running.stop().await;
    Ok(())
}

impl Running {
    async fn stop(self) {
        for task in self.tasks {
            let _ = task.await;
        }
        if let Err(e) = self.store.flush().await {
            tracing::error!(error = %e, "final store flush failed");
        }
        tracing::info!("sijil stopped");
    }
}

fn serve_web(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        // The peer's address reaches the signing page (a signature records it).
        let app = web::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "web server stopped");
        }
    })
}

fn mailbox_kind(cfg: &Config) -> &'static str {
    match cfg.mailbox {
        MailboxConfig::Imap(_) => "imap",
        MailboxConfig::Maildir(_) => "maildir",
    }
}

/// The CA `[ca]` names, checked; without `[ca]`, a test CA beside the
/// store, made on first use (the embedded default, and tests): nobody
/// trusts what it issues, which the log says.
pub fn load_authority(cfg: &Config) -> Result<crate::pki::Authority, RunError> {
    let now = chrono::Utc::now();
    let ra_name = cfg
        .outbound
        .from_ra
        .name
        .clone()
        .unwrap_or_else(|| cfg.outbound.from_ra.email.clone());
    let ca = match &cfg.ca {
        Some(ca) => ca.clone(),
        None => {
            let dir = test_ca_dir(cfg);
            let made = crate::config::CaConfig {
                certificate: dir.join("ca.pem"),
                key: dir.join("ca.key"),
            };
            if !made.certificate.exists() && !made.key.exists() {
                crate::pki::Authority::init(&dir, &format!("{ra_name} test CA"), now)
                    .map_err(|e| RunError::Ca(e.to_string()))?;
                tracing::warn!(dir = %dir.display(), "no [ca]: made a test CA; what it issues is trusted by nobody");
            } else {
                tracing::warn!(dir = %dir.display(), "no [ca]: using the test CA beside the store");
            }
            made
        }
    };
    crate::pki::Authority::load(&ca, &ra_name, now).map_err(|e| RunError::Ca(e.to_string()))
}

/// Where the test CA lives without `[ca]`: beside the store.
pub fn test_ca_dir(cfg: &Config) -> std::path::PathBuf {
    let mut dir = cfg.store.path.clone().into_os_string();
    dir.push(".ca");
    dir.into()
}
