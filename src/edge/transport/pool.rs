//! SMTP connections for the outbox: lettre connections, pooled for reuse,
//! on sockets with TCP_NODELAY, each remembering whether its server offers
//! PIPELINING (`pipelining` sends the email).
//!
//! Why not lettre's own pool: lettre writes a message's closing
//! `CRLF . CRLF` apart from its body, and with Nagle's algorithm on, that
//! last small write waits for the server's delayed ACK of the body, about
//! 40 ms per email on Linux. lettre's pool cannot be handed a socket to
//! change that. It also sends a NOOP before every reuse, one more round trip
//! per email; this pool tests only a connection that sat idle long enough
//! for the server to have dropped it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::Ehlo;
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;

use super::{SendError, pipelining};

/// How the connection is secured.
pub enum Security {
    /// Plain SMTP (to a relay on this machine only; the config insists).
    None,
    /// Plain connect, then STARTTLS, required.
    StartTls(TlsParameters),
    /// TLS from the first byte (SMTPS, port 465).
    Wrapper {
        config: Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
    },
}

/// Where and how to connect.
pub struct Server {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub credentials: Option<Credentials>,
    /// Each protocol step (connect, TLS, each command, the data) gets this.
    pub timeout: Duration,
}

/// Up to `max_idle` connections kept for reuse; any number may be in use
/// at once (the outbox bounds how many emails it sends at a time).
pub struct Pool {
    server: Server,
    hello: ClientId,
    idle: Mutex<Vec<Idle>>,
    max_idle: usize,
    idle_timeout: Duration,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// An open, greeted (and logged in) connection.
struct Conn {
    smtp: AsyncSmtpConnection,
    pipelining: bool,
}

/// A connection idle for longer than this may have been closed by the
/// server: it gets a NOOP before it is used again.
const TRUSTED_IDLE: Duration = Duration::from_secs(5);

impl Pool {
    pub fn new(server: Server, max_idle: usize, idle_timeout: Duration) -> Pool {
        Pool {
            server,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
            max_idle,
            idle_timeout,
        }
    }

    /// Sends one message over a pooled (or new) connection. A connection
    /// that failed is closed, never reused.
    pub async fn send(&self, envelope: &Envelope, body: &[u8]) -> Result<(), SendError> {
        let mut conn = self.checkout().await?;
        // lettre's own timeouts cover only the connect; a server that stops
        // answering mid-transaction must not hold the outbox forever.
        let whole = self.server.timeout * 4;
        let sent = pipelining::send(&mut conn.smtp, conn.pipelining, envelope, body);
        match tokio::time::timeout(whole, sent).await {
            Ok(Ok(_response)) => {
                self.checkin(conn);
                Ok(())
            }
            Ok(Err(e)) => {
                close(conn).await;
                Err(super::classify(&e))
            }
            Err(_) => {
                close(conn).await;
                Err(SendError::Transient(format!(
                    "SMTP server {} did not finish within {whole:?}",
                    self.server.host
                )))
            }
        }
    }

    /// Closes every idle connection politely (QUIT).
    pub async fn shutdown(&self) {
        let idle = std::mem::take(&mut *self.lock());
        for i in idle {
            close(i.conn).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn checkout(&self) -> Result<Conn, SendError> {
        loop {
            // Most recently used first: it is the likeliest to be alive.
            let candidate = self.lock().pop();
            let Some(Idle { mut conn, since }) = candidate else {
                return self.connect().await;
            };
            let idle_for = since.elapsed();
            if conn.smtp.has_broken() || idle_for > self.idle_timeout {
                close(conn).await;
                continue;
            }
            if idle_for <= TRUSTED_IDLE {
                return Ok(conn);
            }
            let alive = tokio::time::timeout(self.server.timeout, conn.smtp.test_connected()).await;
            if alive.unwrap_or(false) {
                return Ok(conn);
            }
            close(conn).await;
        }
    }

    fn checkin(&self, conn: Conn) {
        if conn.smtp.has_broken() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < self.max_idle {
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    /// A new connection: TCP with TCP_NODELAY, TLS as configured, EHLO,
    /// AUTH when credentials are set. Every failure here is transient
    /// unless the server itself answered 5xx to the greeting or STARTTLS;
    /// a refused login is transient too (the configuration gets fixed).
    async fn connect(&self) -> Result<Conn, SendError> {
        let s = &self.server;
        let step = s.timeout;
        // `[::1]` in the configuration is the address `::1`.
        let host = s.host.trim_start_matches('[').trim_end_matches(']');
        let tcp = tokio::time::timeout(step, TcpStream::connect((host, s.port)))
            .await
            .map_err(|_| {
                SendError::Transient(format!("connecting to {}:{} timed out", s.host, s.port))
            })?
            .map_err(|e| {
                SendError::Transient(format!("connecting to {}:{}: {e}", s.host, s.port))
            })?;
        tcp.set_nodelay(true)
            .map_err(|e| SendError::Transient(format!("TCP_NODELAY: {e}")))?;
        let stream: Box<dyn AsyncTokioStream> = match &s.security {
            Security::None | Security::StartTls(_) => Box::new(tcp),
            Security::Wrapper { config, name } => {
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                let tls = tokio::time::timeout(step, connector.connect(name.clone(), tcp))
                    .await
                    .map_err(|_| SendError::Transient("TLS handshake timed out".into()))?
                    .map_err(|e| SendError::Transient(format!("TLS handshake: {e}")))?;
                Box::new(Tls(tls))
            }
        };
        let lettre = |e: lettre::transport::smtp::Error| super::classify(&e);
        let timed_out = || SendError::Transient(format!("SMTP server {} timed out", s.host));
        let mut conn = tokio::time::timeout(
            step,
            AsyncSmtpConnection::connect_with_transport(stream, &self.hello),
        )
        .await
        .map_err(|_| timed_out())?
        .map_err(lettre)?;
        if let Security::StartTls(params) = &s.security {
            tokio::time::timeout(step, conn.starttls(params.clone(), &self.hello))
                .await
                .map_err(|_| timed_out())?
                .map_err(lettre)?;
        }
        // lettre keeps from its own EHLO only the extensions it uses; a
        // second EHLO (one round trip per connection, not per email) says
        // whether the server pipelines. It comes before AUTH, which an EHLO
        // may reset.
        let ehlo = tokio::time::timeout(step, conn.command(Ehlo::new(self.hello.clone())))
            .await
            .map_err(|_| timed_out())?
            .map_err(lettre)?;
        let pipelining = pipelining::offered(&ehlo);
        if let Some(credentials) = &s.credentials {
            tokio::time::timeout(
                step,
                conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials),
            )
            .await
            .map_err(|_| timed_out())?
            // A refused login is the operator's to fix, not the email's
            // fault: it waits in the outbox instead of failing for good.
            .map_err(|e| SendError::Transient(format!("SMTP login refused: {e}")))?;
        }
        Ok(Conn {
            smtp: conn,
            pipelining,
        })
    }
}

/// Says QUIT (unless the connection is known broken) and closes, without
/// waiting long on a server that stopped answering.
async fn close(mut conn: Conn) {
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.smtp.abort()).await;
}

/// Implicit TLS as lettre's stream: lettre needs the peer address.
#[derive(Debug)]
struct Tls(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for Tls {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl tokio::io::AsyncRead for Tls {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Tls {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
