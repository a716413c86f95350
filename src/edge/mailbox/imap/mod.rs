//! The production inbound edge: one IMAP mailbox, read over TLS, STARTTLS or
//! (loopback only) plain TCP.
//!
//! [`ImapMailbox`] hands out the inbox's messages one at a time in UID order
//! (fetched with `BODY.PEEK[]`, so the server never marks them \Seen for us;
//! only the header of one over the size limit),
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
//!
//! The parts: `session` (connect, TLS, login, folders, SELECT and the
//! UIDVALIDITY check, reconnecting with back-off), `stream` (the byte
//! stream under it), `protocol` (one command and its completion, server
//! text), `fetch` (SEARCH and the message bodies), `idle` (waiting for mail),
//! `filing` (UID MOVE and its retries) and `checkpoint` (what is persisted).

mod checkpoint;
mod fetch;
mod filing;
mod idle;
mod protocol;
mod session;
mod stream;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, sleep, timeout};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::{Fetched, Locator, Mailbox, MailboxError};
use crate::config::ImapConfig;
use crate::core::Folder;
use checkpoint::Checkpoint;
use idle::Waited;
use protocol::Trouble;
use session::{Conn, backoff};

/// A message found in the inbox and not handed out yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Waiting {
    uid: u32,
    /// Its RFC822.SIZE, when asked for (there is a size limit) and given.
    size: Option<u64>,
}

/// Longest time to wait for the server to confirm DONE or LOGOUT.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(5);

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
    queue: VecDeque<Waiting>,
    /// Messages larger than this are not fetched whole (see
    /// [`ImapMailbox::with_message_max`]); `None`: no limit.
    message_max: Option<u64>,
    fetch_failures: HashMap<u32, u32>,
    /// Consecutive failed connection attempts (drives the back-off).
    failed_connects: u32,
    next_filing_retry: Instant,
    warned_plain_expunge: bool,
}

impl ImapMailbox {
    /// A mailbox edge for `cfg`, keeping its checkpoint in `state` (a tree of
    /// its own: this edge owns every key in it). Nothing happens on the
    /// network until [`Mailbox::open`] or [`Mailbox::next`].
    pub fn new(cfg: ImapConfig, state: sled::Tree) -> Self {
        ImapMailbox {
            cfg,
            checkpoint: Checkpoint::new(state),
            tls: None,
            conn: None,
            epoch: None,
            cursor: 0,
            queue: VecDeque::new(),
            message_max: None,
            fetch_failures: HashMap::new(),
            failed_connects: 0,
            next_filing_retry: Instant::now(),
            warned_plain_expunge: false,
        }
    }

    /// A message over `bytes` is handed out as its header alone, with its
    /// size ([`Fetched::oversize`]): its body is never fetched.
    pub fn with_message_max(mut self, bytes: u64) -> Self {
        self.message_max = Some(bytes);
        self
    }

    fn folder_name(&self, folder: Folder) -> &str {
        match folder {
            Folder::Processed => &self.cfg.folders.processed,
            Folder::Rejected => &self.cfg.folders.rejected,
            Folder::Quarantine => &self.cfg.folders.quarantine,
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
            let Some(&waiting) = self.queue.front() else {
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
            if let Some(&failures) = self.fetch_failures.get(&waiting.uid) {
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
                r = self.fetch(waiting) => r,
            };
            if let Some(fetched) = self.took(waiting, fetched) {
                return Ok(Some(fetched));
            }
        }
    }

    async fn next_ready(&mut self) -> Result<Option<Fetched>, MailboxError> {
        let Some(&waiting) = self.queue.front() else {
            return Ok(None);
        };
        if self.conn.is_none() || self.fetch_failures.contains_key(&waiting.uid) {
            return Ok(None);
        }
        let fetched = self.fetch(waiting).await;
        Ok(self.took(waiting, fetched))
    }

    /// With MOVE, one `UID MOVE` per destination folder for the whole
    /// batch; otherwise (or for locators of an older UIDVALIDITY) one by one.
    async fn file_all(&mut self, items: &[(Locator, Folder)]) -> Result<(), MailboxError> {
        self.file_batch(items).await
    }

    async fn file(&mut self, locator: &Locator, folder: Folder) -> Result<(), MailboxError> {
        self.file_one(locator, folder).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TlsMode;

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
            &Locator::Imap {
                uidvalidity: 1,
                uid: 1,
            },
            Folder::Processed,
        ));
        send(&mb.close());
    }
}
