//! The outbox's way out: hands a rendered message to an SMTP server, or drops
//! it into a Maildir (the embedded default, no mail server needed).
//!
//! A failed send is [`SendError::Transient`] (retry later: the server is
//! away, busy, or said 4xx), [`SendError::Refused`] (it said 5xx: give up and
//! record it on the case) or [`SendError::Permanent`] (it can never be sent). The SMTP verdict comes only from lettre's
//! own classification of the reply code, never from error text.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};

use crate::config::{OutboundConfig, SmtpConfig, TlsMode};

mod pipelining;
mod pool;

use pool::{Pool, Security, Server};

/// How long one SMTP step (connect, greeting, each command, the data) may
/// take before the attempt counts as failed (transient).
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Emails sent at once: the outbox sends this many in parallel, and the
/// SMTP pool keeps one connection open for each.
pub const CONNECTIONS: usize = 8;
/// How long an idle pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// Where the outbox delivers.
pub enum Transport {
    Smtp(Pool),
    /// The root of a Maildir: messages go to its `new/`.
    Maildir(PathBuf),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Smtp(_) => f.write_str("Transport::Smtp"),
            Transport::Maildir(path) => f.debug_tuple("Transport::Maildir").field(path).finish(),
        }
    }
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Try again later (server away, 4xx, TLS or network trouble, disk).
    #[error("transient: {0}")]
    Transient(String),
    /// The server refused for good: 5xx, with its reply code (`550`).
    #[error("permanent: {reason}")]
    Refused { code: String, reason: String },
    /// The email can never be sent (an envelope that does not parse).
    #[error("permanent: {0}")]
    Permanent(String),
}

impl Transport {
    /// Builds the transport; no connection is made yet (the first send
    /// connects), so a server that is down at start-up is not an error here.
    pub fn from_config(cfg: &OutboundConfig) -> anyhow::Result<Transport> {
        match cfg {
            OutboundConfig::Maildir { path } => Ok(Transport::Maildir(path.clone())),
            OutboundConfig::Smtp(smtp) => smtp_transport(smtp).map(Transport::Smtp),
        }
    }

    /// Delivers `bytes` to `envelope_to`, with `envelope_from` as the
    /// reverse-path (an empty one is the null sender `<>`). The Maildir
    /// ignores the envelope: the message's own headers say it all.
    pub async fn send(
        &self,
        envelope_from: &str,
        envelope_to: &[String],
        bytes: &[u8],
    ) -> Result<(), SendError> {
        match self {
            Transport::Smtp(smtp) => {
                let envelope = envelope(envelope_from, envelope_to)?;
                // lettre always ends the DATA with CRLF "." CRLF; without this
                // the final CRLF of the message would be doubled on arrival.
                let body = bytes.strip_suffix(b"\r\n").unwrap_or(bytes);
                match smtp.send(&envelope, body).await {
                    Ok(()) => {
                        tracing::debug!(
                            recipients = envelope_to.len(),
                            size = bytes.len(),
                            "smtp: message accepted"
                        );
                        Ok(())
                    }
                    Err(e) => {
                        tracing::debug!(
                            recipients = envelope_to.len(),
                            error = %e,
                            "smtp: send failed"
                        );
                        Err(e)
                    }
                }
            }
            Transport::Maildir(root) => {
                let root = root.clone();
                let bytes = bytes.to_vec();
                let written = tokio::task::spawn_blocking(move || deliver_maildir(&root, &bytes))
                    .await
                    .map_err(|e| SendError::Transient(format!("maildir writer task: {e}")))?;
                match written {
                    Ok(path) => {
                        tracing::debug!(file = %path.display(), "maildir: message written");
                        Ok(())
                    }
                    Err(e) => Err(SendError::Transient(format!("maildir: {e:#}"))),
                }
            }
        }
    }

    /// Closes pooled SMTP connections politely (QUIT); for a clean stop.
    pub async fn shutdown(&self) {
        if let Transport::Smtp(smtp) = self {
            smtp.shutdown().await;
        }
    }
}

/// Permanent exactly when lettre says the server answered 5xx; everything
/// else — 4xx, no answer, refused connection, timeout, TLS, I/O — means the
/// server may well take it later.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    match e.status() {
        Some(code) if e.is_permanent() => SendError::Refused {
            code: code.to_string(),
            reason: e.to_string(),
        },
        _ if e.is_permanent() => SendError::Permanent(e.to_string()),
        _ => SendError::Transient(e.to_string()),
    }
}

/// The SMTP envelope. Addresses that cannot be parsed will never become
/// sendable, so they are a permanent failure.
fn envelope(from: &str, to: &[String]) -> Result<Envelope, SendError> {
    let from = match from.trim() {
        "" => None,
        f => Some(
            f.parse::<lettre::Address>()
                .map_err(|e| SendError::Permanent(format!("envelope sender {f:?}: {e}")))?,
        ),
    };
    let to = to
        .iter()
        .map(|t| {
            t.trim()
                .parse::<lettre::Address>()
                .map_err(|e| SendError::Permanent(format!("envelope recipient {t:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(from, to).map_err(|e| SendError::Permanent(format!("envelope: {e}")))
}

fn smtp_transport(cfg: &SmtpConfig) -> anyhow::Result<Pool> {
    let security = match cfg.tls {
        TlsMode::Tls => {
            let config = crate::edge::tls::client_config(cfg.tls_ca_file.as_deref())
                .map_err(|e| anyhow::anyhow!("outbound: {e}"))?;
            let host = cfg.host.trim_start_matches('[').trim_end_matches(']');
            let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                .with_context(|| format!("outbound SMTP host {host:?} as a TLS server name"))?;
            Security::Wrapper {
                config: std::sync::Arc::new(config),
                name,
            }
        }
        TlsMode::StartTls => Security::StartTls(tls_parameters(cfg)?),
        TlsMode::None => {
            // Plain SMTP only to a relay on this machine: nothing crosses a
            // network unencrypted (the config check says the same).
            if !is_loopback(&cfg.host) {
                bail!(
                    "outbound SMTP to {} without TLS: tls = \"none\" is only allowed for a loopback host",
                    cfg.host
                );
            }
            Security::None
        }
    };
    let credentials = match (&cfg.username, &cfg.password) {
        (Some(user), Some(password)) => {
            Some(Credentials::new(user.clone(), password.expose().to_owned()))
        }
        (None, None) => None,
        (Some(_), None) => bail!("outbound SMTP: a username without a password"),
        (None, Some(_)) => bail!("outbound SMTP: a password without a username"),
    };
    let server = Server {
        host: cfg.host.clone(),
        port: cfg.port,
        security,
        credentials,
        timeout: SMTP_TIMEOUT,
    };
    Ok(Pool::new(server, CONNECTIONS, POOL_IDLE))
}

/// TLS settings: the server name checked against its certificate is the
/// configured host; the public roots are trusted, plus `tls_ca_file` if set.
fn tls_parameters(cfg: &SmtpConfig) -> anyhow::Result<TlsParameters> {
    let mut builder = TlsParameters::builder(cfg.host.clone());
    if let Some(ca_file) = &cfg.tls_ca_file {
        let pem = fs::read(ca_file)
            .with_context(|| format!("reading outbound tls_ca_file {}", ca_file.display()))?;
        // lettre accepts a PEM file without any certificate in it; an empty
        // trust anchor would only show up as TLS failures later.
        if !pem
            .windows(b"-----BEGIN CERTIFICATE-----".len())
            .any(|w| w == b"-----BEGIN CERTIFICATE-----")
        {
            bail!(
                "outbound tls_ca_file {} holds no PEM certificate",
                ca_file.display()
            );
        }
        let cert = Certificate::from_pem(&pem).with_context(|| {
            format!(
                "outbound tls_ca_file {}: not a PEM certificate",
                ca_file.display()
            )
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .with_context(|| format!("TLS settings for SMTP host {}", cfg.host))
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Writes one message into the Maildir at `root` the Maildir way: a unique
/// file in `tmp/`, flushed to disk, then renamed into `new/` (atomic: a
/// reader never sees half a message), then the directory flushed so the
/// rename survives a crash. Creates `tmp/ new/ cur/` when absent.
fn deliver_maildir(root: &Path, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    for sub in ["tmp", "new", "cur"] {
        let dir = root.join(sub);
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    // Written under a unique name, delivered under one derived from the
    // content: an email sent again after a crash (the outbox is
    // at-least-once) replaces its identical copy instead of doubling it.
    let tmp = root.join("tmp").join(unique_name());
    let new = root.join("new").join(format!(
        "sijil.{}",
        &crate::edge::inbound::sha256_hex(bytes)[..40]
    ));
    let written = write_durably(&tmp, bytes)
        .with_context(|| format!("writing {}", tmp.display()))
        .and_then(|()| {
            fs::rename(&tmp, &new).with_context(|| format!("moving {} to new/", tmp.display()))
        });
    if let Err(e) = written {
        // Best effort: do not leave a partial file behind in tmp/.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    File::open(root.join("new"))
        .and_then(|dir| dir.sync_all())
        .with_context(|| format!("flushing {}", root.join("new").display()))?;
    Ok(new)
}

/// Creates `path` (never overwriting), writes `bytes` and fsyncs it.
/// Readable by the daemon's user only: outgoing mail holds personal data.
fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A Maildir file name unique across time, processes, and concurrent
/// writers in this process: `secs.M<micros>P<pid>Q<n>R<random>.<host>`.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}.M{}P{}Q{}R{:016x}.{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u64>(),
        hostname(),
    )
}

/// This machine's name, made safe for a Maildir file name (`/` and `:` are
/// escaped as the Maildir convention says).
fn hostname() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let raw = fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| fs::read_to_string("/etc/hostname"))
            .unwrap_or_default();
        let host: String = raw
            .trim()
            .chars()
            .filter(|c| !c.is_control() && !c.is_whitespace())
            .map(|c| match c {
                '/' => "\\057".to_owned(),
                ':' => "\\072".to_owned(),
                c => c.to_string(),
            })
            .collect();
        if host.is_empty() {
            "localhost".to_owned()
        } else {
            host
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use std::collections::HashSet;
    use std::os::unix::fs::PermissionsExt as _;

    fn smtp(host: &str, tls: TlsMode) -> SmtpConfig {
        SmtpConfig {
            host: host.into(),
            port: 2525,
            tls,
            username: None,
            password: None,
            tls_ca_file: None,
        }
    }

    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn maildir_delivers_into_new_creating_the_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("var/outbox");
        let t = Transport::from_config(&OutboundConfig::Maildir { path: root.clone() }).unwrap();
        let msg = b"From: a@b\r\nTo: c@d\r\nSubject: hi\r\n\r\nbody\r\n";
        t.send("a@b", &["c@d".into()], msg).await.unwrap();
        t.send("", &[], b"second").await.unwrap();

        for sub in ["tmp", "new", "cur"] {
            assert!(root.join(sub).is_dir(), "{sub}/ created");
        }
        assert!(files(&root.join("tmp")).is_empty(), "nothing left in tmp/");
        let new = files(&root.join("new"));
        assert_eq!(new.len(), 2);
        let contents: HashSet<Vec<u8>> = new.iter().map(|p| fs::read(p).unwrap()).collect();
        assert!(contents.contains(&msg[..]) && contents.contains(&b"second"[..]));
        for p in &new {
            let name = p.file_name().unwrap().to_str().unwrap();
            assert!(!name.starts_with('.') && !name.contains('/') && !name.contains(':'));
            let mode = fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
    }

    #[tokio::test]
    async fn maildir_names_are_unique_under_concurrency() {
        let dir = tempfile::tempdir().unwrap();
        let t = std::sync::Arc::new(Transport::Maildir(dir.path().to_path_buf()));
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let t = t.clone();
                tokio::spawn(async move {
                    t.send("a@b", &["c@d".into()], format!("m{i}").as_bytes())
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(files(&dir.path().join("new")).len(), 50);
        let names: HashSet<String> = (0..1000).map(|_| unique_name()).collect();
        assert_eq!(names.len(), 1000);
    }

    #[tokio::test]
    async fn maildir_failure_is_transient() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the Maildir should be: it cannot be created.
        let root = dir.path().join("outbox");
        fs::write(&root, b"not a directory").unwrap();
        let err = Transport::Maildir(root)
            .send("a@b", &["c@d".into()], b"x")
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Transient(_)), "{err}");
    }

    #[tokio::test]
    async fn smtp_config_is_checked() {
        for mode in [TlsMode::Tls, TlsMode::StartTls, TlsMode::None] {
            let t = Transport::from_config(&OutboundConfig::Smtp(smtp("127.0.0.1", mode)));
            assert!(matches!(t, Ok(Transport::Smtp(_))), "{mode}");
        }
        assert!(
            Transport::from_config(&OutboundConfig::Smtp(smtp("localhost", TlsMode::None))).is_ok()
        );
        assert!(
            Transport::from_config(&OutboundConfig::Smtp(smtp("[::1]", TlsMode::None))).is_ok()
        );
        let err = Transport::from_config(&OutboundConfig::Smtp(smtp(
            "mail.example.my",
            TlsMode::None,
        )))
        .unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");

        let mut with_user = smtp("mail.example.my", TlsMode::StartTls);
        with_user.username = Some("kpkt.retail".into());
        assert!(Transport::from_config(&OutboundConfig::Smtp(with_user.clone())).is_err());
        with_user.password = Some(Secret::new("s3cret"));
        assert!(Transport::from_config(&OutboundConfig::Smtp(with_user)).is_ok());

        let dir = tempfile::tempdir().unwrap();
        let mut with_ca = smtp("mail.example.my", TlsMode::Tls);
        with_ca.tls_ca_file = Some(dir.path().join("missing.pem"));
        assert!(Transport::from_config(&OutboundConfig::Smtp(with_ca.clone())).is_err());
        let empty = dir.path().join("empty.pem");
        fs::write(&empty, b"").unwrap();
        with_ca.tls_ca_file = Some(empty);
        let err = Transport::from_config(&OutboundConfig::Smtp(with_ca)).unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn bad_envelopes_are_permanent() {
        assert!(matches!(envelope("a@b", &[]), Err(SendError::Permanent(_))));
        assert!(matches!(
            envelope("a@b", &["not an address".into()]),
            Err(SendError::Permanent(_))
        ));
        assert!(matches!(
            envelope("bad sender", &["c@d".into()]),
            Err(SendError::Permanent(_))
        ));
        let e = envelope("", &[" c@d ".into()]).unwrap();
        assert!(e.from().is_none() && e.to().len() == 1);
    }

    #[tokio::test]
    async fn refused_connection_is_transient() {
        // A port nobody listens on: bind, note the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cfg = smtp("127.0.0.1", TlsMode::None);
        cfg.port = port;
        let t = Transport::from_config(&OutboundConfig::Smtp(cfg)).unwrap();
        let err = t.send("a@b", &["c@d".into()], b"x").await.unwrap_err();
        assert!(matches!(err, SendError::Transient(_)), "{err}");
    }
}
