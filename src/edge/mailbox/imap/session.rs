//! The connection: TCP, TLS or STARTTLS, the greeting, LOGIN and the
//! capabilities; the three folders created when absent; SELECT of the inbox
//! and the UIDVALIDITY check against the checkpoint; reconnecting with
//! capped, jittered back-off.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_imap::error::Error as ImapError;
use async_imap::imap_proto::{MailboxDatum, Response, Status};
use rand::Rng as _;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::ImapMailbox;
use super::protocol::{COMMAND_TIMEOUT, Trouble, command, command_with, cut, outcome_text, quote};
use super::stream::ImapStream;
use crate::config::{ImapConfig, TlsMode};
use crate::edge::mailbox::MailboxError;

/// Longest time for TCP connect + TLS + greeting + LOGIN + SELECT.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(60);

/// Cap of the reconnect back-off.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A connection that lived at least this long resets the back-off.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// A live, logged-in session with the inbox selected.
pub(super) struct Conn {
    pub(super) session: Session,
    pub(super) caps: Caps,
    pub(super) uidvalidity: u32,
    pub(super) since: Instant,
}

pub(super) type Session = async_imap::Session<ImapStream>;

/// The server capabilities this edge cares about.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Caps {
    pub(super) idle: bool,
    pub(super) mv: bool,
    pub(super) uidplus: bool,
}

impl ImapMailbox {
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
    pub(super) fn drop_conn(&mut self, why: &Trouble) {
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
    pub(super) async fn establish(&mut self) -> Result<(), Trouble> {
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

    /// Connects, waiting with capped exponential back-off between failed
    /// attempts. `Ok(false)` when `shutdown` was cancelled first.
    pub(super) async fn reconnect(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Result<bool, MailboxError> {
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
            let mut client = async_imap::Client::new(ImapStream::Plain(tcp));
            greeting(&mut client).await?;
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| Trouble::Broken(format!("STARTTLS: {e}")))?;
            let ImapStream::Plain(tcp) = client.into_inner() else {
                return Err(Trouble::Broken("STARTTLS on a TLS stream".into()));
            };
            // No greeting after STARTTLS (RFC 3501 6.2.1).
            async_imap::Client::new(start_tls(tcp, &cfg.host, tls).await?)
        }
        (TlsMode::None, _) => {
            let mut client = async_imap::Client::new(ImapStream::Plain(tcp));
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
) -> Result<ImapStream, Trouble> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| Trouble::Broken(format!("server name {host:?}: {e}")))?;
    let stream = TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| Trouble::Broken(format!("TLS handshake with {host}: {e}")))?;
    Ok(ImapStream::Tls(Box::new(stream)))
}

/// Reads the server greeting: `* OK` (or `* PREAUTH`) to go on, anything
/// else ends the attempt.
async fn greeting(client: &mut async_imap::Client<ImapStream>) -> Result<(), Trouble> {
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
    crate::edge::tls::client_config(ca_file).map_err(Trouble::Broken)
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

/// The wait before connection attempt number `attempt + 1`: 1 s doubling
/// to [`MAX_BACKOFF`], minus up to a fifth of jitter so that many clients
/// do not reconnect in step.
pub(super) fn backoff(attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(16);
    let base = Duration::from_secs(1u64 << exp).min(MAX_BACKOFF);
    let base_ms = base.as_millis() as u64;
    let jitter = rand::rng().random_range(0..=base_ms / 5);
    Duration::from_millis(base_ms - jitter)
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
}
