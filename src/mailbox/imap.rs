//! The production inbound edge: one IMAP mailbox, read over TLS, STARTTLS or
//! (loopback only) plain TCP.
//!
//! [`ImapMailbox`] hands out the inbox's messages one at a time in UID order
//! (fetched with `BODY.PEEK[]`, so the server never marks them \Seen for us),
//! waits with IDLE where the server offers it and polls otherwise, and files
//! each handled message with `UID MOVE` (or COPY + STORE + EXPUNGE).
//!
//! Crash safety rests on a small checkpoint in a `sled::Tree`: the inbox's
//! UIDVALIDITY, and every filing that was asked for but not yet confirmed
//! (recorded, flushed, *then* the MOVE is issued). A recorded UID is never
//! handed out again; its move is simply retried after a reconnect or restart.
//! When the server's UIDVALIDITY changes the checkpoint is dropped and the
//! whole inbox is offered again (the daemon deduplicates by Message-ID).
//!
//! Everything network-related is retried inside [`Mailbox::next`] with capped
//! exponential back-off; `next` only returns an error when the state store
//! fails, which the daemon must know about.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::error::Error as ImapError;
use async_imap::imap_proto::{AttributeValue, MailboxDatum, Outcome, RequestId, Response, Status};
use rand::Rng as _;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::{Fetched, Folder, Mailbox, MailboxError, MessageId};
use crate::config::{ImapConfig, TlsMode};

/// Longest time for TCP connect + TLS + greeting + LOGIN + SELECT.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest time for one ordinary command (SEARCH, MOVE, NOOP, …).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest time for fetching one message body (it may be large).
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest time to wait for the server to confirm DONE or LOGOUT.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(5);
/// IDLE is ended and re-issued after this long: servers may drop an IDLE
/// older than 30 minutes (RFC 2177).
const IDLE_RENEW: Duration = Duration::from_secs(29 * 60);
/// Cap of the reconnect back-off.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A connection that lived at least this long resets the back-off.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// A message whose fetch failed this many times is skipped (left in the
/// inbox, logged) so that one bad message cannot wedge the loop.
const MAX_FETCH_ATTEMPTS: u32 = 3;
/// How often unconfirmed filings are retried on a live connection.
const FILING_RETRY_EVERY: Duration = Duration::from_secs(5 * 60);
/// Server text quoted in errors and logs is cut to this many characters.
const MAX_SERVER_TEXT: usize = 200;

/// The production mailbox edge. See the module documentation.
///
/// How the daemon drives it:
/// 1. [`Mailbox::open`] once at start: [`MailboxError::LoginRefused`] means
///    the configuration is wrong (exit); any other error may be logged and
///    ignored, because `next` connects by itself.
/// 2. Loop on [`Mailbox::next`] until it returns `Ok(None)` (shutdown). An
///    `Err` from `next` means the checkpoint store failed: treat it as fatal.
/// 3. For each message: decide, store the effect, then [`Mailbox::file`].
///    A `file` error needs no action: the filing is recorded and retried
///    after a reconnect or restart, and the message is not handed out again.
///    A message handed out but never filed is offered again only after a
///    restart (and after a UIDVALIDITY change, with everything else), so
///    the daemon must deduplicate by Message-ID. Filing a message whose
///    UIDVALIDITY is no longer current is a no-op (it comes back under its
///    new UID).
/// 4. [`Mailbox::close`] at the end.
///
/// The `sled::Tree` it is given must be its own: it owns every key in it.
pub struct ImapMailbox {
    cfg: ImapConfig,
    checkpoint: Checkpoint,
    /// Built on first use: reading the CA file may fail, and `new` cannot.
    tls: Option<Arc<rustls::ClientConfig>>,
    conn: Option<Conn>,
    /// The UIDVALIDITY that `cursor`, `queue` and `fetch_failures` refer to.
    epoch: Option<u32>,
    /// Highest UID handed out (or given up on) in this process: the next
    /// search starts above it, so a message is offered once per run.
    cursor: u32,
    /// UIDs found by the last search and not handed out yet, ascending. The
    /// bodies are fetched one by one; prefetching would read ahead here.
    queue: VecDeque<u32>,
    fetch_failures: HashMap<u32, u32>,
    /// Consecutive failed connection attempts (drives the back-off).
    failed_connects: u32,
    next_filing_retry: Instant,
    warned_plain_expunge: bool,
}

/// A live, logged-in session with the inbox selected.
struct Conn {
    session: Session,
    caps: Caps,
    uidvalidity: u32,
    since: Instant,
}

type Session = async_imap::Session<Transport>;

/// The server capabilities this edge cares about.
#[derive(Debug, Clone, Copy, Default)]
struct Caps {
    idle: bool,
    mv: bool,
    uidplus: bool,
}

/// Why an operation on the server did not succeed.
#[derive(Debug)]
enum Trouble {
    /// The server answered NO or BAD: the session is still usable.
    Refused(String),
    /// The connection is unusable (I/O, closed, unparsable, timed out):
    /// drop it and reconnect.
    Broken(String),
    /// LOGIN was refused: the configuration is wrong.
    Login(String),
    /// The checkpoint store failed.
    Store(String),
}

impl fmt::Display for Trouble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trouble::Refused(m) => write!(f, "refused by the server: {m}"),
            Trouble::Broken(m) => write!(f, "connection failed: {m}"),
            Trouble::Login(m) => write!(f, "login refused: {m}"),
            Trouble::Store(m) => write!(f, "checkpoint store: {m}"),
        }
    }
}

impl From<ImapError> for Trouble {
    fn from(e: ImapError) -> Self {
        match e {
            ImapError::No(m) | ImapError::Bad(m) => Trouble::Refused(cut(&m)),
            ImapError::Validate(v) => Trouble::Refused(v.to_string()),
            other => Trouble::Broken(cut(&other.to_string())),
        }
    }
}

impl From<Trouble> for MailboxError {
    fn from(t: Trouble) -> Self {
        match t {
            Trouble::Login(m) => MailboxError::LoginRefused(m),
            other => MailboxError::Other(other.to_string()),
        }
    }
}

/// How a wait on the server ended.
enum Waited {
    /// Something may have changed in the inbox (or the wait timed out).
    Again,
    /// `shutdown` was cancelled.
    Cancelled,
}

impl ImapMailbox {
    /// A mailbox edge for `cfg`, keeping its checkpoint in `state` (a tree of
    /// its own: this edge owns every key in it). Nothing happens on the
    /// network until [`Mailbox::open`] or [`Mailbox::next`].
    pub fn new(cfg: ImapConfig, state: sled::Tree) -> Self {
        ImapMailbox {
            cfg,
            checkpoint: Checkpoint { tree: state },
            tls: None,
            conn: None,
            epoch: None,
            cursor: 0,
            queue: VecDeque::new(),
            fetch_failures: HashMap::new(),
            failed_connects: 0,
            next_filing_retry: Instant::now(),
            warned_plain_expunge: false,
        }
    }

    fn folder_name(&self, folder: Folder) -> &str {
        match folder {
            Folder::Processed => &self.cfg.folders.processed,
            Folder::Rejected => &self.cfg.folders.rejected,
            Folder::Quarantine => &self.cfg.folders.quarantine,
        }
    }

    fn tls_config(&mut self) -> Result<Arc<rustls::ClientConfig>, Trouble> {
        if let Some(tls) = &self.tls {
            return Ok(tls.clone());
        }
        let tls = Arc::new(build_tls_config(self.cfg.tls_ca_file.as_deref())?);
        self.tls = Some(tls.clone());
        Ok(tls)
    }

    /// Forgets the connection; `since` decides whether the next connection
    /// attempt waits (a connection that died young counts as a failure, so
    /// a server that accepts and drops us at once cannot cause a busy loop).
    fn drop_conn(&mut self, why: &Trouble) {
        if let Some(conn) = self.conn.take() {
            if conn.since.elapsed() >= STABLE_AFTER {
                self.failed_connects = 0;
            } else {
                self.failed_connects = self.failed_connects.saturating_add(1);
            }
            warn!(host = %self.cfg.host, error = %why, "IMAP connection lost");
        }
    }

    /// Connects, logs in, makes sure the folders exist, selects the inbox,
    /// reconciles the checkpoint with its UIDVALIDITY and retries the
    /// filings left unconfirmed. Leaves `self.conn` set on success.
    async fn establish(&mut self) -> Result<(), Trouble> {
        self.conn = None;
        let tls = match self.cfg.tls {
            TlsMode::None => None,
            TlsMode::Tls | TlsMode::StartTls => Some(self.tls_config()?),
        };
        let (mut session, caps) = match timeout(ESTABLISH_TIMEOUT, login(&self.cfg, tls)).await {
            Ok(r) => r?,
            Err(_) => return Err(Trouble::Broken("timed out logging in".into())),
        };
        let setup = async {
            let folders = [
                &self.cfg.folders.processed,
                &self.cfg.folders.rejected,
                &self.cfg.folders.quarantine,
            ];
            for folder in folders {
                ensure_folder(&mut session, folder).await?;
            }
            let mailbox = session.select(&self.cfg.folders.inbox).await?;
            mailbox.uid_validity.ok_or_else(|| {
                Trouble::Broken(format!(
                    "SELECT {} gave no UIDVALIDITY",
                    self.cfg.folders.inbox
                ))
            })
        };
        let uidvalidity = match timeout(ESTABLISH_TIMEOUT, setup).await {
            Ok(r) => r?,
            Err(_) => return Err(Trouble::Broken("timed out selecting the inbox".into())),
        };
        self.adopt_uidvalidity(uidvalidity).await?;
        info!(
            host = %self.cfg.host,
            folder = %self.cfg.folders.inbox,
            uidvalidity,
            idle = caps.idle,
            r#move = caps.mv,
            uidplus = caps.uidplus,
            "IMAP mailbox ready"
        );
        self.conn = Some(Conn {
            session,
            caps,
            uidvalidity,
            since: Instant::now(),
        });
        self.retry_filings(None).await
    }

    /// Compares the inbox's UIDVALIDITY with the checkpoint and starts over
    /// when it changed: the old UIDs mean nothing any more.
    async fn adopt_uidvalidity(&mut self, uidvalidity: u32) -> Result<(), Trouble> {
        match self.checkpoint.uidvalidity()? {
            Some(stored) if stored == uidvalidity => {}
            Some(stored) => {
                warn!(
                    folder = %self.cfg.folders.inbox,
                    old_uidvalidity = stored,
                    uidvalidity,
                    "inbox UIDVALIDITY changed: dropping the checkpoint, every message in the inbox is offered again"
                );
                self.checkpoint.start_epoch(uidvalidity).await?;
            }
            None => {
                info!(folder = %self.cfg.folders.inbox, uidvalidity, "first checkpoint for this inbox");
                self.checkpoint.start_epoch(uidvalidity).await?;
            }
        }
        if self.epoch != Some(uidvalidity) {
            self.epoch = Some(uidvalidity);
            self.cursor = 0;
            self.queue.clear();
            self.fetch_failures.clear();
        }
        Ok(())
    }

    /// Retries the recorded but unconfirmed filings (all of them, or only
    /// those among `present`, the UIDs a search just found in the inbox).
    async fn retry_filings(&mut self, present: Option<&[u32]>) -> Result<(), Trouble> {
        let Some(conn) = self.conn.as_ref() else {
            return Ok(());
        };
        let uidvalidity = conn.uidvalidity;
        let mut filings = self.checkpoint.filings(uidvalidity)?;
        if let Some(present) = present {
            filings.retain(|(uid, _)| present.binary_search(uid).is_ok());
        }
        self.next_filing_retry = Instant::now() + FILING_RETRY_EVERY;
        for (uid, folder) in filings {
            match self.move_message(uid, folder).await {
                Ok(()) => {
                    info!(uid, uidvalidity, folder = ?folder, "unconfirmed filing completed");
                    self.checkpoint.clear_filing(uidvalidity, uid)?;
                }
                Err(Trouble::Refused(m)) => {
                    warn!(uid, uidvalidity, folder = ?folder, error = %m, "filing refused again; retried later");
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// Moves one message out of the inbox. UID commands on a UID that is
    /// gone succeed without effect, which makes this idempotent.
    async fn move_message(&mut self, uid: u32, folder: Folder) -> Result<(), Trouble> {
        let name = quote(self.folder_name(folder))?;
        let Some(conn) = self.conn.as_mut() else {
            return Err(Trouble::Broken("not connected".into()));
        };
        let caps = conn.caps;
        let session = &mut conn.session;
        if caps.mv {
            return command(session, &format!("UID MOVE {uid} {name}"), COMMAND_TIMEOUT).await;
        }
        command(session, &format!("UID COPY {uid} {name}"), COMMAND_TIMEOUT).await?;
        command(
            session,
            &format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"),
            COMMAND_TIMEOUT,
        )
        .await?;
        if caps.uidplus {
            command(session, &format!("UID EXPUNGE {uid}"), COMMAND_TIMEOUT).await
        } else {
            if !self.warned_plain_expunge {
                self.warned_plain_expunge = true;
                warn!(
                    folder = %self.cfg.folders.inbox,
                    "server has neither MOVE nor UIDPLUS: filing uses plain EXPUNGE, which also removes messages other clients flagged \\Deleted"
                );
            }
            command(session, "EXPUNGE", COMMAND_TIMEOUT).await
        }
    }

    /// Connects, waiting with capped exponential back-off between failed
    /// attempts. `Ok(false)` when `shutdown` was cancelled first.
    async fn reconnect(&mut self, shutdown: &CancellationToken) -> Result<bool, MailboxError> {
        // A connection that just died young waits too (see `drop_conn`).
        let mut delay = (self.failed_connects > 0).then(|| backoff(self.failed_connects));
        loop {
            if let Some(delay) = delay {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(false),
                    _ = sleep(delay) => {}
                }
            }
            let outcome = tokio::select! {
                _ = shutdown.cancelled() => return Ok(false),
                r = self.establish() => r,
            };
            match outcome {
                Ok(()) => {
                    if self.failed_connects > 0 {
                        info!(host = %self.cfg.host, attempt = self.failed_connects + 1, "IMAP reconnected");
                    }
                    return Ok(true);
                }
                Err(Trouble::Store(m)) => {
                    return Err(MailboxError::Other(format!("checkpoint store: {m}")));
                }
                Err(e) => {
                    self.conn = None;
                    self.failed_connects = self.failed_connects.saturating_add(1);
                    let wait = backoff(self.failed_connects);
                    delay = Some(wait);
                    let retry_in_ms = wait.as_millis() as u64;
                    let attempt = self.failed_connects;
                    if matches!(e, Trouble::Login(_)) {
                        error!(host = %self.cfg.host, attempt, error = %e, retry_in_ms, "IMAP login refused");
                    } else {
                        warn!(host = %self.cfg.host, attempt, error = %e, retry_in_ms, "IMAP connection failed");
                    }
                }
            }
        }
    }

    /// Searches the inbox for UIDs above the cursor that are not awaiting a
    /// filing, and queues them in ascending order. Returns whether the
    /// server announced new mail (EXISTS/RECENT) while answering: mail that
    /// arrived during the SEARCH may be missing from its result, and IDLE
    /// would not announce it again.
    async fn refresh_queue(&mut self) -> Result<bool, Trouble> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(Trouble::Broken("not connected".into()));
        };
        let uidvalidity = conn.uidvalidity;
        let first = self.cursor.saturating_add(1);
        let mut found = Vec::new();
        let mut announced = false;
        command_with(
            &mut conn.session,
            &format!("UID SEARCH UID {first}:*"),
            COMMAND_TIMEOUT,
            |resp| match resp {
                Response::MailboxData(MailboxDatum::Search(uids)) => found.extend_from_slice(uids),
                Response::MailboxData(MailboxDatum::Exists(_) | MailboxDatum::Recent(_)) => {
                    announced = true
                }
                _ => {}
            },
        )
        .await?;
        // `n:*` always matches the highest UID, even below n (RFC 3501 6.4.4).
        found.retain(|&uid| uid >= first);
        found.sort_unstable();
        found.dedup();
        self.fetch_failures
            .retain(|uid, _| found.binary_search(uid).is_ok());
        let mut awaiting = Vec::new();
        self.queue.clear();
        for uid in found {
            if self.checkpoint.filing(uidvalidity, uid)?.is_some() {
                awaiting.push(uid);
            } else {
                self.queue.push_back(uid);
            }
        }
        if !awaiting.is_empty() && Instant::now() >= self.next_filing_retry {
            self.retry_filings(Some(&awaiting)).await?;
        }
        Ok(announced)
    }

    /// Waits for the inbox to change: IDLE where offered, otherwise a sleep
    /// of `poll_interval` followed by NOOP.
    async fn wait_for_mail(&mut self, shutdown: &CancellationToken) -> Result<Waited, Trouble> {
        let poll = self.cfg.poll_interval.max(Duration::from_secs(1));
        let Some(conn) = self.conn.as_mut() else {
            return Err(Trouble::Broken("not connected".into()));
        };
        if conn.caps.idle {
            return idle(&mut conn.session, shutdown, IDLE_RENEW).await;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(Waited::Cancelled),
            _ = sleep(poll) => {}
        }
        command(&mut conn.session, "NOOP", COMMAND_TIMEOUT).await?;
        Ok(Waited::Again)
    }

    /// Fetches the body of `uid` without setting \Seen. `Ok(None)` when the
    /// server answered OK but sent no body (the message is gone, or the
    /// server is confused).
    async fn fetch(&mut self, uid: u32) -> Result<Option<Vec<u8>>, Trouble> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(Trouble::Broken("not connected".into()));
        };
        let session = &mut conn.session;
        let exchange = async {
            let tag = session
                .run_command(&format!("UID FETCH {uid} (UID BODY.PEEK[])"))
                .await?;
            let mut body = None;
            loop {
                let Some(resp) = session.read_response().await.map_err(ImapError::Io)? else {
                    return Err(Trouble::Broken("connection closed".into()));
                };
                if let Some(done) = completion(resp.parsed(), &tag) {
                    return done.map(|()| body);
                }
                if body.is_some() {
                    continue;
                }
                // The body is taken out of the buffer async-imap read the
                // response into, rather than copied: a fresh megabyte-sized
                // copy per message cost a tenth of the daemon's CPU.
                body = match body_range(resp.parsed(), resp.borrow_owner(), uid) {
                    Some(Body::Within(range)) => {
                        let mut buffer = resp.into_owner();
                        buffer.truncate(range.end);
                        bytes::Buf::advance(&mut buffer, range.start);
                        Some(Vec::from(buffer))
                    }
                    Some(Body::Elsewhere(bytes)) => Some(bytes),
                    None => None,
                };
            }
        };
        within(FETCH_TIMEOUT, exchange).await
    }

    /// Hands out a fetched message (taking it off the queue), or records
    /// why the fetch failed.
    fn took(&mut self, uid: u32, fetched: Result<Option<Vec<u8>>, Trouble>) -> Option<Fetched> {
        match fetched {
            Ok(Some(raw)) => {
                self.queue.pop_front();
                self.fetch_failures.remove(&uid);
                self.cursor = self.cursor.max(uid);
                let uidvalidity = self.epoch.unwrap_or_default();
                debug!(uid, uidvalidity, bytes = raw.len(), "message fetched");
                return Some(Fetched {
                    id: MessageId::Imap { uidvalidity, uid },
                    raw,
                });
            }
            Ok(None) => self.fetch_failed(uid, "the server sent no body"),
            Err(Trouble::Refused(m)) => self.fetch_failed(uid, &m),
            Err(e) => {
                self.fetch_failed(uid, &e.to_string());
                self.drop_conn(&e);
            }
        }
        None
    }

    /// Records a failed fetch of `uid`; after [`MAX_FETCH_ATTEMPTS`] the
    /// message is skipped for the rest of this run.
    fn fetch_failed(&mut self, uid: u32, why: &str) {
        let uidvalidity = self.epoch.unwrap_or_default();
        let attempt = {
            let n = self.fetch_failures.entry(uid).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        // Search again: the message may simply be gone.
        self.queue.clear();
        if attempt >= MAX_FETCH_ATTEMPTS {
            error!(uid, uidvalidity, attempt, error = %why, "cannot fetch message; skipping it (it stays in the inbox)");
            self.fetch_failures.remove(&uid);
            self.cursor = self.cursor.max(uid);
        } else {
            warn!(uid, uidvalidity, attempt, error = %why, "fetching message failed");
        }
    }
}

impl Mailbox for ImapMailbox {
    /// One connection attempt, no retries, so that a wrong configuration is
    /// seen at once. [`Mailbox::next`] connects by itself if this failed with
    /// anything but [`MailboxError::LoginRefused`].
    async fn open(&mut self) -> Result<(), MailboxError> {
        match self.establish().await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.conn = None;
                Err(e.into())
            }
        }
    }

    async fn next(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Result<Option<Fetched>, MailboxError> {
        // One extra search before waiting when the last one saw new mail
        // announced; only one, so a server announcing on every SEARCH
        // cannot make us spin.
        let mut recheck = false;
        let mut rechecked = false;
        loop {
            if shutdown.is_cancelled() {
                return Ok(None);
            }
            if self.conn.is_none() && !self.reconnect(shutdown).await? {
                return Ok(None);
            }
            if self.queue.is_empty() {
                match self.refresh_queue().await {
                    Ok(announced) => recheck = announced,
                    Err(Trouble::Store(m)) => {
                        return Err(MailboxError::Other(format!("checkpoint store: {m}")));
                    }
                    Err(e) => {
                        self.drop_conn(&e);
                        continue;
                    }
                }
            }
            let Some(&uid) = self.queue.front() else {
                if recheck && !rechecked {
                    rechecked = true;
                    continue;
                }
                rechecked = false;
                match self.wait_for_mail(shutdown).await {
                    Ok(Waited::Again) => continue,
                    Ok(Waited::Cancelled) => return Ok(None),
                    Err(e) => {
                        self.drop_conn(&e);
                        continue;
                    }
                }
            };
            if let Some(&failures) = self.fetch_failures.get(&uid) {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(None),
                    _ = sleep(backoff(failures)) => {}
                }
            }
            let fetched = tokio::select! {
                // A command cut short leaves the session in an unknown state.
                _ = shutdown.cancelled() => {
                    self.conn = None;
                    return Ok(None);
                }
                r = self.fetch(uid) => r,
            };
            if let Some(fetched) = self.took(uid, fetched) {
                return Ok(Some(fetched));
            }
        }
    }

    async fn next_ready(&mut self) -> Result<Option<Fetched>, MailboxError> {
        let Some(&uid) = self.queue.front() else {
            return Ok(None);
        };
        if self.conn.is_none() || self.fetch_failures.contains_key(&uid) {
            return Ok(None);
        }
        let fetched = self.fetch(uid).await;
        Ok(self.took(uid, fetched))
    }

    /// With MOVE, one `UID MOVE` per destination folder for the whole
    /// batch; otherwise (or for ids of an older UIDVALIDITY) one by one.
    async fn file_all(&mut self, items: &[(MessageId, Folder)]) -> Result<(), MailboxError> {
        let current = match &self.conn {
            Some(conn) if conn.caps.mv => conn.uidvalidity,
            _ => {
                let mut result = Ok(());
                for (id, folder) in items {
                    if let Err(e) = self.file(id, *folder).await {
                        result = Err(e);
                    }
                }
                return result;
            }
        };
        let mut result = Ok(());
        for folder in [Folder::Processed, Folder::Rejected, Folder::Quarantine] {
            let mut uids = Vec::new();
            for (id, f) in items.iter().filter(|(_, f)| *f == folder) {
                match *id {
                    MessageId::Imap { uidvalidity, uid } if uidvalidity == current => {
                        uids.push(uid)
                    }
                    _ => {
                        if let Err(e) = self.file(id, *f).await {
                            result = Err(e);
                        }
                    }
                }
            }
            if uids.is_empty() {
                continue;
            }
            for &uid in &uids {
                self.checkpoint
                    .record_filing(current, uid, folder)
                    .await
                    .map_err(MailboxError::from)?;
            }
            let set = uids
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let name = quote(self.folder_name(folder)).map_err(MailboxError::from)?;
            let Some(conn) = self.conn.as_mut() else {
                return Err(MailboxError::Other(
                    "filing postponed until the connection is back".into(),
                ));
            };
            let moved = command(
                &mut conn.session,
                &format!("UID MOVE {set} {name}"),
                COMMAND_TIMEOUT,
            )
            .await;
            match moved {
                Ok(()) => {
                    debug!(messages = uids.len(), uidvalidity = current, folder = ?folder, "messages filed");
                    for &uid in &uids {
                        self.checkpoint
                            .clear_filing(current, uid)
                            .map_err(MailboxError::from)?;
                    }
                }
                // The filings are recorded: retried on the next connection.
                Err(Trouble::Refused(m)) => {
                    warn!(folder = ?folder, error = %m, "filing refused; retried later");
                    result = Err(MailboxError::Other(format!("filing refused: {m}")));
                }
                Err(e) => {
                    self.drop_conn(&e);
                    return Err(MailboxError::Other(format!(
                        "filing postponed until the connection is back: {e}"
                    )));
                }
            }
        }
        result
    }

    async fn file(&mut self, id: &MessageId, folder: Folder) -> Result<(), MailboxError> {
        let MessageId::Imap { uidvalidity, uid } = *id else {
            return Err(MailboxError::Other(format!("not an IMAP message: {id:?}")));
        };
        let current = match &self.conn {
            Some(conn) => Some(conn.uidvalidity),
            None => self.checkpoint.uidvalidity().map_err(MailboxError::from)?,
        };
        if current != Some(uidvalidity) {
            warn!(uid, uidvalidity, current_uidvalidity = ?current, folder = ?folder,
                "not filing a message from an older UIDVALIDITY; it is offered again under its new UID");
            return Ok(());
        }
        self.checkpoint
            .record_filing(uidvalidity, uid, folder)
            .await
            .map_err(MailboxError::from)?;
        if self.conn.is_some() {
            match self.move_message(uid, folder).await {
                Ok(()) => {
                    debug!(uid, uidvalidity, folder = ?folder, "message filed");
                    self.checkpoint
                        .clear_filing(uidvalidity, uid)
                        .map_err(MailboxError::from)?;
                    return Ok(());
                }
                Err(Trouble::Refused(m)) => {
                    warn!(uid, uidvalidity, folder = ?folder, error = %m, "filing refused; retried later");
                    return Err(MailboxError::Other(format!("filing refused: {m}")));
                }
                Err(Trouble::Store(m)) => {
                    return Err(MailboxError::Other(format!("checkpoint store: {m}")));
                }
                Err(e) => self.drop_conn(&e),
            }
        }
        // Not connected (or just lost it): one attempt to connect, which
        // retries every recorded filing, this one included.
        if let Err(e) = self.establish().await {
            self.conn = None;
            return Err(MailboxError::Other(format!(
                "filing postponed until the connection is back: {e}"
            )));
        }
        match self.checkpoint.filing(uidvalidity, uid) {
            Ok(None) => Ok(()),
            Ok(Some(_)) => Err(MailboxError::Other(
                "filing refused by the server; retried later".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn close(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            match timeout(GOODBYE_TIMEOUT, conn.session.logout()).await {
                Ok(Ok(())) => debug!(host = %self.cfg.host, "IMAP logged out"),
                Ok(Err(e)) => debug!(host = %self.cfg.host, error = %e, "IMAP logout failed"),
                Err(_) => debug!(host = %self.cfg.host, "IMAP logout timed out"),
            }
        }
    }
}

/// Connects and logs in; returns the session and what the server offers.
async fn login(
    cfg: &ImapConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<(Session, Caps), Trouble> {
    let tcp = TcpStream::connect((cfg.host.as_str(), cfg.port))
        .await
        .map_err(|e| Trouble::Broken(format!("connect to {}:{}: {e}", cfg.host, cfg.port)))?;
    // Small IMAP commands should not wait for Nagle.
    tcp.set_nodelay(true).ok();
    let client = match (cfg.tls, tls) {
        (TlsMode::Tls, Some(tls)) => {
            let stream = start_tls(tcp, &cfg.host, tls).await?;
            let mut client = async_imap::Client::new(stream);
            greeting(&mut client).await?;
            client
        }
        (TlsMode::StartTls, Some(tls)) => {
            let mut client = async_imap::Client::new(Transport::Plain(tcp));
            greeting(&mut client).await?;
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| Trouble::Broken(format!("STARTTLS: {e}")))?;
            let Transport::Plain(tcp) = client.into_inner() else {
                return Err(Trouble::Broken("STARTTLS on a TLS stream".into()));
            };
            // No greeting after STARTTLS (RFC 3501 6.2.1).
            async_imap::Client::new(start_tls(tcp, &cfg.host, tls).await?)
        }
        (TlsMode::None, _) => {
            let mut client = async_imap::Client::new(Transport::Plain(tcp));
            greeting(&mut client).await?;
            client
        }
        (_, None) => return Err(Trouble::Broken("TLS is not configured".into())),
    };
    let mut session = match client.login(&cfg.username, cfg.password.expose()).await {
        Ok(session) => session,
        Err((ImapError::No(m) | ImapError::Bad(m), _)) => return Err(Trouble::Login(cut(&m))),
        Err((ImapError::Validate(_), _)) => {
            return Err(Trouble::Login(
                "the username or password contains a line break".into(),
            ));
        }
        Err((e, _)) => return Err(Trouble::Broken(format!("login: {}", cut(&e.to_string())))),
    };
    let caps = session.capabilities().await?;
    let caps = Caps {
        idle: caps.has_str("IDLE"),
        mv: caps.has_str("MOVE"),
        uidplus: caps.has_str("UIDPLUS"),
    };
    Ok((session, caps))
}

async fn start_tls(
    tcp: TcpStream,
    host: &str,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Transport, Trouble> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| Trouble::Broken(format!("server name {host:?}: {e}")))?;
    let stream = TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| Trouble::Broken(format!("TLS handshake with {host}: {e}")))?;
    Ok(Transport::Tls(Box::new(stream)))
}

/// Reads the server greeting: `* OK` (or `* PREAUTH`) to go on, anything
/// else ends the attempt.
async fn greeting(client: &mut async_imap::Client<Transport>) -> Result<(), Trouble> {
    let Some(resp) = client
        .read_response()
        .await
        .map_err(|e| Trouble::Broken(format!("reading the greeting: {e}")))?
    else {
        return Err(Trouble::Broken(
            "connection closed before the greeting".into(),
        ));
    };
    match resp.parsed() {
        Response::Data {
            status: Status::Ok | Status::PreAuth,
            ..
        } => Ok(()),
        Response::Data { status, outcome } => Err(Trouble::Broken(format!(
            "server greeting {status:?}: {}",
            outcome_text(outcome)
        ))),
        _ => Err(Trouble::Broken("unexpected server greeting".into())),
    }
}

fn build_tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, Trouble> {
    crate::tls::client_config(ca_file).map_err(Trouble::Broken)
}

/// Creates `name` (and subscribes to it) unless it already exists.
async fn ensure_folder(session: &mut Session, name: &str) -> Result<(), Trouble> {
    let quoted = quote(name)?;
    if folder_exists(session, name, &quoted).await? {
        return Ok(());
    }
    if let Err(e) = command(session, &format!("CREATE {quoted}"), COMMAND_TIMEOUT).await {
        // Another client may have created it meanwhile.
        if !matches!(e, Trouble::Refused(_)) || !folder_exists(session, name, &quoted).await? {
            return Err(e);
        }
    }
    info!(folder = %name, "created folder");
    if let Err(e) = command(session, &format!("SUBSCRIBE {quoted}"), COMMAND_TIMEOUT).await {
        match e {
            Trouble::Refused(m) => {
                warn!(folder = %name, error = %m, "could not subscribe to folder")
            }
            other => return Err(other),
        }
    }
    Ok(())
}

async fn folder_exists(session: &mut Session, name: &str, quoted: &str) -> Result<bool, Trouble> {
    let mut exists = false;
    command_with(
        session,
        &format!("LIST \"\" {quoted}"),
        COMMAND_TIMEOUT,
        |resp| {
            if let Response::MailboxData(MailboxDatum::List(list)) = resp {
                // The name is a pattern: `%` or `*` in it could match others.
                exists |= list.name == name;
            }
        },
    )
    .await?;
    Ok(exists)
}

/// Runs one command whose untagged answers do not matter.
async fn command(session: &mut Session, line: &str, limit: Duration) -> Result<(), Trouble> {
    command_with(session, line, limit, |_| {}).await
}

/// Runs one command, hands each untagged answer to `on_untagged`, and turns
/// the tagged completion into `Ok`, [`Trouble::Refused`] (NO/BAD) or
/// [`Trouble::Broken`]. Unlike several async-imap helpers, this checks the
/// completion status, so a NO to FETCH or SEARCH is not mistaken for "no
/// messages".
async fn command_with<F>(
    session: &mut Session,
    line: &str,
    limit: Duration,
    mut on_untagged: F,
) -> Result<(), Trouble>
where
    F: FnMut(&Response<'_>),
{
    let exchange = async {
        let tag = session.run_command(line).await?;
        loop {
            let Some(resp) = session.read_response().await.map_err(ImapError::Io)? else {
                return Err(Trouble::Broken("connection closed".into()));
            };
            match completion(resp.parsed(), &tag) {
                Some(done) => return done,
                // A completion for some earlier, abandoned command.
                None if matches!(resp.parsed(), Response::Done { .. }) => {}
                None => on_untagged(resp.parsed()),
            }
        }
    };
    within(limit, exchange).await
}

/// Whether `resp` completes the command tagged `tag`, and how: `Ok`,
/// [`Trouble::Refused`] (NO/BAD) or [`Trouble::Broken`].
fn completion(resp: &Response<'_>, tag: &RequestId) -> Option<Result<(), Trouble>> {
    match resp {
        Response::Done {
            tag: done,
            status,
            outcome,
        } if done == tag => Some(match status {
            Status::Ok => Ok(()),
            Status::No | Status::Bad => Err(Trouble::Refused(outcome_text(outcome))),
            other => Err(Trouble::Broken(format!("unexpected completion {other:?}"))),
        }),
        _ => None,
    }
}

/// `exchange`, or [`Trouble::Broken`] when it takes longer than `limit`.
async fn within<T>(
    limit: Duration,
    exchange: impl Future<Output = Result<T, Trouble>>,
) -> Result<T, Trouble> {
    match timeout(limit, exchange).await {
        Ok(r) => r,
        Err(_) => Err(Trouble::Broken(format!(
            "no answer within {}s",
            limit.as_secs()
        ))),
    }
}

/// One IDLE round (RFC 2177): waits until the server reports a change, the
/// renewal time passes, or `shutdown` is cancelled, then ends IDLE with DONE.
async fn idle(
    session: &mut Session,
    shutdown: &CancellationToken,
    renew: Duration,
) -> Result<Waited, Trouble> {
    let tag = session.run_command("IDLE").await?;
    // Until the continuation the server may still report changes.
    let mut changed = false;
    let started = async {
        loop {
            let Some(resp) = session.read_response().await.map_err(ImapError::Io)? else {
                return Err(Trouble::Broken("connection closed".into()));
            };
            match resp.parsed() {
                Response::Continue(_) => return Ok(()),
                Response::Done {
                    tag: done,
                    status,
                    outcome,
                } if *done == tag => {
                    return match status {
                        Status::Ok => Err(Trouble::Broken("IDLE ended before it began".into())),
                        _ => Err(Trouble::Refused(format!("IDLE: {}", outcome_text(outcome)))),
                    };
                }
                other => changed |= is_change(other)?,
            }
        }
    };
    match timeout(COMMAND_TIMEOUT, started).await {
        Ok(r) => r?,
        Err(_) => return Err(Trouble::Broken("IDLE not accepted in time".into())),
    }
    debug!(changed, "IDLE started");

    let mut cancelled = false;
    if !changed {
        let wait = async {
            loop {
                let Some(resp) = session.read_response().await.map_err(ImapError::Io)? else {
                    return Err(Trouble::Broken("connection closed during IDLE".into()));
                };
                if is_change(resp.parsed())? {
                    return Ok(());
                }
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => cancelled = true,
            r = timeout(renew, wait) => match r {
                Ok(r) => r?,
                Err(_) => debug!("renewing IDLE"),
            },
        }
    }

    let done = async {
        session.run_command_untagged("DONE").await?;
        loop {
            let Some(resp) = session.read_response().await.map_err(ImapError::Io)? else {
                return Err(Trouble::Broken("connection closed ending IDLE".into()));
            };
            if let Response::Done {
                tag: done,
                status,
                outcome,
            } = resp.parsed()
                && *done == tag
            {
                return match status {
                    Status::Ok => Ok(()),
                    _ => Err(Trouble::Refused(format!("DONE: {}", outcome_text(outcome)))),
                };
            }
        }
    };
    match timeout(GOODBYE_TIMEOUT, done).await {
        Ok(Ok(())) => {}
        // On shutdown a failed DONE does not matter: the session is dropped.
        Ok(Err(_)) | Err(_) if cancelled => return Ok(Waited::Cancelled),
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(Trouble::Broken("DONE not confirmed in time".into())),
    }
    Ok(if cancelled {
        Waited::Cancelled
    } else {
        Waited::Again
    })
}

/// Whether an untagged response during IDLE says the mailbox changed. A
/// `BYE` means the server is closing the connection. An untagged `NO` or
/// `BAD` is how Dovecot reports that the selected mailbox went bad under the
/// session (deleted and recreated: a new UIDVALIDITY); the session would go
/// on answering from stale state, so it is treated as broken and a fresh
/// connection (back-off included) looks again.
fn is_change(resp: &Response<'_>) -> Result<bool, Trouble> {
    match resp {
        Response::Data {
            status: status @ (Status::Bye | Status::No | Status::Bad),
            outcome,
        } => Err(Trouble::Broken(format!(
            "server said {status:?} during IDLE: {}",
            outcome_text(outcome)
        ))),
        Response::MailboxData(MailboxDatum::Exists(_) | MailboxDatum::Recent(_))
        | Response::Expunge(_)
        | Response::Vanished { .. }
        | Response::Fetch(..) => Ok(true),
        _ => Ok(false),
    }
}

/// Where the full message of a FETCH response about `uid` is, if that is
/// what `resp` (read into `buffer`) is; responses about other messages (or
/// lacking the UID) are ignored.
fn body_range(resp: &Response<'_>, buffer: &[u8], uid: u32) -> Option<Body> {
    let Response::Fetch(_, attrs) = resp else {
        return None;
    };
    let mut this_uid = None;
    let mut body = None;
    for attr in attrs {
        match attr {
            AttributeValue::Uid(u) => this_uid = Some(*u),
            AttributeValue::BodySection {
                section: None,
                data: Some(data),
                ..
            }
            | AttributeValue::Rfc822(Some(data)) => body = Some(data),
            _ => {}
        }
    }
    if this_uid != Some(uid) {
        return None;
    }
    let body: &[u8] = body?;
    // Below the buffer, the offset wraps around to something far too large.
    let start = (body.as_ptr() as usize).wrapping_sub(buffer.as_ptr() as usize);
    Some(match start.checked_add(body.len()) {
        Some(end) if end <= buffer.len() => Body::Within(start..end),
        _ => Body::Elsewhere(body.to_vec()),
    })
}

/// Where the message body of a FETCH answer is.
enum Body {
    /// This range of the buffer the answer was read into (the usual case:
    /// the parser borrows the literal).
    Within(std::ops::Range<usize>),
    /// Somewhere else, copied.
    Elsewhere(Vec<u8>),
}

/// A mailbox name as an IMAP quoted string.
fn quote(name: &str) -> Result<String, Trouble> {
    if name.is_empty() || name.contains(['\r', '\n', '\0']) {
        return Err(Trouble::Refused(format!("unusable folder name {name:?}")));
    }
    Ok(format!(
        "\"{}\"",
        name.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

fn outcome_text(outcome: &Outcome<'_>) -> String {
    let text = outcome.information.as_deref().unwrap_or("");
    match &outcome.code {
        Some(code) => cut(&format!("[{code:?}] {text}")),
        None => cut(text),
    }
}

/// Server text, cut short and stripped of control characters, for errors
/// and logs.
fn cut(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_SERVER_TEXT)
        .collect()
}

/// The wait before connection attempt number `attempt + 1`: 1 s doubling
/// to [`MAX_BACKOFF`], minus up to a fifth of jitter so that many clients
/// do not reconnect in step.
fn backoff(attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(16);
    let base = Duration::from_secs(1u64 << exp).min(MAX_BACKOFF);
    let base_ms = base.as_millis() as u64;
    let jitter = rand::rng().random_range(0..=base_ms / 5);
    Duration::from_millis(base_ms - jitter)
}

/// The persistent part of the edge's state, in the `sled::Tree` it was
/// given.
///
/// Keys: `uidvalidity` → u32 (big-endian); `filing/` + UIDVALIDITY + UID
/// (both big-endian) → the folder the message is being moved to.
struct Checkpoint {
    tree: sled::Tree,
}

const KEY_UIDVALIDITY: &[u8] = b"uidvalidity";
const FILING_PREFIX: &[u8] = b"filing/";

impl Checkpoint {
    fn uidvalidity(&self) -> Result<Option<u32>, Trouble> {
        let Some(value) = self.tree.get(KEY_UIDVALIDITY).map_err(store)? else {
            return Ok(None);
        };
        match <[u8; 4]>::try_from(value.as_ref()) {
            Ok(bytes) => Ok(Some(u32::from_be_bytes(bytes))),
            Err(_) => {
                warn!("checkpoint UIDVALIDITY unreadable; starting over");
                Ok(None)
            }
        }
    }

    /// Drops every recorded filing and remembers `uidvalidity`.
    async fn start_epoch(&self, uidvalidity: u32) -> Result<(), Trouble> {
        let mut batch = sled::Batch::default();
        for entry in self.tree.scan_prefix(FILING_PREFIX) {
            let (key, _) = entry.map_err(store)?;
            batch.remove(key);
        }
        batch.insert(KEY_UIDVALIDITY, &uidvalidity.to_be_bytes());
        self.tree.apply_batch(batch).map_err(store)?;
        self.tree.flush_async().await.map_err(store)?;
        Ok(())
    }

    async fn record_filing(
        &self,
        uidvalidity: u32,
        uid: u32,
        folder: Folder,
    ) -> Result<(), Trouble> {
        // Not flushed: it becomes durable with the store's next flush. Lost
        // in a crash, it only means the message is fetched once more, and
        // the daemon, finding its Message-ID already handled, files it.
        self.tree
            .insert(filing_key(uidvalidity, uid), folder_tag(folder))
            .map_err(store)?;
        Ok(())
    }

    fn filing(&self, uidvalidity: u32, uid: u32) -> Result<Option<Folder>, Trouble> {
        let value = self.tree.get(filing_key(uidvalidity, uid)).map_err(store)?;
        Ok(value.and_then(|v| folder_from_tag(&v)))
    }

    /// Filings recorded under `uidvalidity`, by ascending UID.
    fn filings(&self, uidvalidity: u32) -> Result<Vec<(u32, Folder)>, Trouble> {
        let mut prefix = FILING_PREFIX.to_vec();
        prefix.extend_from_slice(&uidvalidity.to_be_bytes());
        let mut out = Vec::new();
        for entry in self.tree.scan_prefix(&prefix) {
            let (key, value) = entry.map_err(store)?;
            let uid = key
                .get(prefix.len()..)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes);
            match (uid, folder_from_tag(&value)) {
                (Some(uid), Some(folder)) => out.push((uid, folder)),
                _ => {
                    warn!("unreadable filing record in the checkpoint; dropped");
                    self.tree.remove(key).map_err(store)?;
                }
            }
        }
        Ok(out)
    }

    /// Forgets a filing the server confirmed. Not flushed: if this is lost
    /// in a crash, the move is merely repeated, and that is harmless.
    fn clear_filing(&self, uidvalidity: u32, uid: u32) -> Result<(), Trouble> {
        self.tree
            .remove(filing_key(uidvalidity, uid))
            .map_err(store)?;
        Ok(())
    }
}

fn filing_key(uidvalidity: u32, uid: u32) -> Vec<u8> {
    let mut key = FILING_PREFIX.to_vec();
    key.extend_from_slice(&uidvalidity.to_be_bytes());
    key.extend_from_slice(&uid.to_be_bytes());
    key
}

/// Folders are stored by role, not by name, so that renaming a folder in the
/// configuration still finds its pending filings.
fn folder_tag(folder: Folder) -> &'static [u8] {
    match folder {
        Folder::Processed => b"processed",
        Folder::Rejected => b"rejected",
        Folder::Quarantine => b"quarantine",
    }
}

fn folder_from_tag(tag: &[u8]) -> Option<Folder> {
    match tag {
        b"processed" => Some(Folder::Processed),
        b"rejected" => Some(Folder::Rejected),
        b"quarantine" => Some(Folder::Quarantine),
        _ => None,
    }
}

fn store(e: sled::Error) -> Trouble {
    Trouble::Store(e.to_string())
}

/// The byte stream under the IMAP session: plain TCP (before STARTTLS, or
/// for `tls = "none"` on loopback) or TLS.
enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Plain(_) => f.write_str("Transport::Plain"),
            Transport::Tls(_) => f.write_str("Transport::Tls"),
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(s) => s.is_write_vectored(),
            Transport::Tls(s) => s.is_write_vectored(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_bounded_jitter() {
        for (attempt, secs) in [(1u32, 1u64), (2, 2), (3, 4), (6, 32), (7, 60), (40, 60)] {
            for _ in 0..20 {
                let d = backoff(attempt);
                assert!(d <= Duration::from_secs(secs), "{attempt}: {d:?}");
                assert!(d >= Duration::from_millis(secs * 800), "{attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn quoting_escapes_and_refuses_line_breaks() {
        assert_eq!(quote("Processed").unwrap(), "\"Processed\"");
        assert_eq!(quote("a\"b\\c").unwrap(), "\"a\\\"b\\\\c\"");
        assert!(quote("a\r\nb").is_err());
        assert!(quote("").is_err());
    }

    #[test]
    fn server_text_is_cut_and_cleaned() {
        let long = "x".repeat(1000);
        assert_eq!(cut(&long).len(), MAX_SERVER_TEXT);
        assert_eq!(cut("a\r\nb\x1b[31m"), "ab[31m");
    }

    #[test]
    fn body_is_taken_only_from_the_right_uid() {
        let range = |raw: &[u8], uid| {
            let (_, resp) = Response::parse(raw).unwrap();
            match body_range(&resp, raw, uid) {
                Some(Body::Within(r)) => Some(raw[r].to_vec()),
                Some(Body::Elsewhere(_)) => panic!("the literal is borrowed from the buffer"),
                None => None,
            }
        };
        let raw = b"* 3 FETCH (UID 7 BODY[] {5}\r\nhello)\r\n";
        assert_eq!(range(raw, 7).as_deref(), Some(&b"hello"[..]));
        assert_eq!(range(raw, 8), None);
        assert_eq!(
            range(b"* 3 FETCH (BODY[] {5}\r\nhello)\r\n", 7),
            None,
            "no UID: not trusted"
        );
        assert_eq!(range(b"* 3 FETCH (UID 7 BODY[] NIL)\r\n", 7), None);
        // A body the parser did not borrow from this buffer is copied.
        let (_, resp) = Response::parse(raw).unwrap();
        let other = raw.to_vec();
        assert!(matches!(
            body_range(&resp, &other, 7),
            Some(Body::Elsewhere(b)) if b == b"hello"
        ));
    }

    #[test]
    fn idle_changes_are_recognised() {
        let parse = |raw: &'static [u8]| Response::parse(raw).unwrap().1;
        assert!(is_change(&parse(b"* 4 EXISTS\r\n")).unwrap());
        assert!(is_change(&parse(b"* 2 EXPUNGE\r\n")).unwrap());
        assert!(!is_change(&parse(b"* OK Still here\r\n")).unwrap());
        assert!(is_change(&parse(b"* BYE shutting down\r\n")).is_err());
        assert!(is_change(&parse(b"* NO Internal error\r\n")).is_err());
    }

    /// The daemon may run the edge inside `tokio::spawn`.
    #[test]
    fn futures_are_send() {
        fn send<T: Send>(_: &T) {}
        let db = sled::Config::new().temporary(true).open().unwrap();
        let cfg = ImapConfig {
            host: "127.0.0.1".into(),
            port: 1,
            tls: TlsMode::None,
            username: "u".into(),
            password: crate::config::Secret::new("p"),
            folders: crate::config::Folders::default(),
            poll_interval: Duration::from_secs(1),
            tls_ca_file: None,
        };
        let mut mb = ImapMailbox::new(cfg, db.open_tree("imap").unwrap());
        let token = CancellationToken::new();
        send(&mb.next(&token));
        send(&mb.open());
        send(&mb.file(
            &MessageId::Imap {
                uidvalidity: 1,
                uid: 1,
            },
            Folder::Processed,
        ));
        send(&mb.close());
    }

    #[tokio::test]
    async fn checkpoint_records_filings_per_uidvalidity() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let cp = Checkpoint {
            tree: db.open_tree("imap").unwrap(),
        };
        assert_eq!(cp.uidvalidity().unwrap(), None);
        cp.start_epoch(10).await.unwrap();
        assert_eq!(cp.uidvalidity().unwrap(), Some(10));
        cp.record_filing(10, 5, Folder::Rejected).await.unwrap();
        cp.record_filing(10, 3, Folder::Processed).await.unwrap();
        assert_eq!(
            cp.filings(10).unwrap(),
            vec![(3, Folder::Processed), (5, Folder::Rejected)]
        );
        assert_eq!(cp.filing(10, 5).unwrap(), Some(Folder::Rejected));
        assert_eq!(cp.filing(11, 5).unwrap(), None);
        cp.clear_filing(10, 3).unwrap();
        assert_eq!(cp.filings(10).unwrap(), vec![(5, Folder::Rejected)]);
        cp.start_epoch(11).await.unwrap();
        assert_eq!(cp.uidvalidity().unwrap(), Some(11));
        assert!(cp.filings(10).unwrap().is_empty());
        // Garbage written by someone else does not panic us.
        cp.tree.insert(KEY_UIDVALIDITY, &b"xy"[..]).unwrap();
        cp.tree
            .insert(filing_key(11, 1), &b"elsewhere"[..])
            .unwrap();
        assert_eq!(cp.uidvalidity().unwrap(), None);
        assert!(cp.filings(11).unwrap().is_empty());
    }
}
