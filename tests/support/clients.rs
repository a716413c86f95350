//! Client-side helpers on [`MailServers`]: submit by SMTP (lettre), and look into or fill
//! mailboxes by IMAP (async-imap). They are what a test uses to play the developer, the staff and
//! the signees, and to see what the daemon sent and where it filed what it read.
//!
//! Every helper panics with a useful message (and the servers' log tails) on failure; the
//! `try_*` variants return errors for tests that expect one (e.g. during an outage).

use std::time::{Duration, Instant};

use async_imap::{Client, Session};
use futures::TryStreamExt;
use lettre::address::{Address, Envelope};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::net::TcpStream;

use super::servers::MailServers;

/// How often [`MailServers::wait_for`] looks at the folder again.
const POLL: Duration = Duration::from_millis(100);

/// An authenticated plain-TCP IMAP session.
pub type ImapSession = Session<TcpStream>;

impl MailServers {
    /// Submits the raw RFC 5322 message `raw` to Postfix by SMTP with envelope sender `from`
    /// (`""` = the null sender `<>`) and recipients `to`. Returns once Postfix accepted it
    /// (delivery to Dovecot follows within milliseconds; use [`Self::wait_for`]). Dovecot adds
    /// `Return-Path` and `Received` headers; the rest arrives byte for byte.
    pub async fn send(&self, raw: &[u8], from: &str, to: &[&str]) {
        if let Err(e) = self.try_send(raw, from, to).await {
            panic!(
                "SMTP submission from {from:?} to {to:?} failed: {e}\n{}",
                self.logs()
            );
        }
    }

    /// [`Self::send`] that returns the failure instead of panicking.
    pub async fn try_send(&self, raw: &[u8], from: &str, to: &[&str]) -> anyhow::Result<()> {
        let sender = if from.is_empty() {
            None
        } else {
            Some(from.parse::<Address>()?)
        };
        let recipients = to
            .iter()
            .map(|a| a.parse::<Address>())
            .collect::<Result<Vec<_>, _>>()?;
        let envelope = Envelope::new(sender, recipients)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(self.smtp_port)
            .timeout(Some(Duration::from_secs(30)))
            .build();
        // lettre always ends DATA with "\r\n.\r\n": drop the message's own final CRLF so the
        // delivered message is byte-for-byte the one given (plus trace headers).
        let raw = raw.strip_suffix(b"\r\n").unwrap_or(raw);
        transport.send_raw(&envelope, raw).await?;
        Ok(())
    }

    /// Logs `user` in over plain IMAP (password [`MailServers::password`]).
    pub async fn imap(&self, user: &str) -> ImapSession {
        match self.try_imap(user).await {
            Ok(s) => s,
            Err(e) => panic!("IMAP login as {user} failed: {e}\n{}", self.logs()),
        }
    }

    /// [`Self::imap`] that returns the failure instead of panicking.
    pub async fn try_imap(&self, user: &str) -> anyhow::Result<ImapSession> {
        let stream = TcpStream::connect(("127.0.0.1", self.imap_port)).await?;
        let mut client = Client::new(stream);
        client
            .read_response()
            .await?
            .ok_or_else(|| anyhow::anyhow!("no IMAP greeting"))?;
        let session = client
            .login(user, &self.password)
            .await
            .map_err(|(e, _)| anyhow::anyhow!("login: {e}"))?;
        Ok(session)
    }

    /// IMAP APPENDs `raw` to `folder` of `user` (created first when missing), without flags —
    /// as if it had just arrived. For backlogs and for messages SMTP would alter or refuse.
    pub async fn append(&self, user: &str, folder: &str, raw: &[u8]) {
        let mut s = self.imap(user).await;
        // CREATE fails with NO when the folder exists (INBOX always does): that is fine.
        let _ = s.create(folder).await;
        if let Err(e) = s.append(folder, None, None, raw).await {
            panic!(
                "IMAP APPEND to {user}/{folder} failed: {e}\n{}",
                self.logs()
            );
        }
        let _ = s.logout().await;
    }

    /// Every message in `folder` of `user`, in mailbox order, as raw bytes; empty when the
    /// folder does not exist. Reads with BODY.PEEK so no \Seen flag is set.
    pub async fn messages(&self, user: &str, folder: &str) -> Vec<Vec<u8>> {
        let mut s = self.imap(user).await;
        let out = match fetch_all(&mut s, folder).await {
            Ok(m) => m,
            Err(e) => panic!("IMAP read of {user}/{folder} failed: {e}\n{}", self.logs()),
        };
        let _ = s.logout().await;
        out
    }

    /// Waits until `folder` of `user` holds at least `count` messages, then returns them all.
    /// Panics after `timeout` with what the folder does hold (count and subjects). Survives the
    /// IMAP server being down for part of the wait.
    pub async fn wait_for(
        &self,
        user: &str,
        folder: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut session: Option<ImapSession> = None;
        let mut seen: Vec<Vec<u8>> = Vec::new();
        let mut last_error = String::new();
        loop {
            if session.is_none() {
                match self.try_imap(user).await {
                    Ok(s) => session = Some(s),
                    Err(e) => last_error = e.to_string(),
                }
            }
            if let Some(s) = session.as_mut() {
                // EXAMINE again on every round: it re-syncs the mailbox (STATUS on the selected
                // mailbox may answer from the session's stale view in Dovecot).
                // The bodies are fetched afresh when enough are there, and otherwise only when the
                // count changed (to report what is there on timeout).
                let round = async {
                    let exists = examine(s, folder).await?;
                    if exists == 0 {
                        seen.clear();
                    } else if exists >= count || exists != seen.len() {
                        seen = fetch_selected(s).await?;
                    }
                    Ok::<_, async_imap::error::Error>(())
                };
                if let Err(e) = round.await {
                    last_error = e.to_string();
                    session = None;
                } else if seen.len() >= count {
                    if let Some(mut s) = session.take() {
                        let _ = s.logout().await;
                    }
                    return seen;
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "waited {timeout:?} for {count} message(s) in {user}/{folder}; it holds {}: {:?}{}\n{}",
                    seen.len(),
                    subjects(&seen),
                    if last_error.is_empty() {
                        String::new()
                    } else {
                        format!(" (last IMAP error: {last_error})")
                    },
                    self.logs()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The names of all folders of `user` (INBOX included), sorted.
    pub async fn folder_names(&self, user: &str) -> Vec<String> {
        let mut s = self.imap(user).await;
        let names: Result<Vec<String>, _> = async {
            let list = s.list(Some(""), Some("*")).await?;
            let names: Vec<_> = list.try_collect().await?;
            Ok::<_, async_imap::error::Error>(names.iter().map(|n| n.name().to_string()).collect())
        }
        .await;
        let mut names = match names {
            Ok(n) => n,
            Err(e) => panic!("IMAP LIST for {user} failed: {e}\n{}", self.logs()),
        };
        let _ = s.logout().await;
        names.sort();
        names
    }
}

/// EXAMINEs `folder` (read-only select) and returns its message count; 0 when it does not
/// exist.
async fn examine(s: &mut ImapSession, folder: &str) -> async_imap::error::Result<usize> {
    match s.examine(folder).await {
        Ok(m) => Ok(m.exists as usize),
        Err(async_imap::error::Error::No(_)) => Ok(0),
        Err(e) => Err(e),
    }
}

/// All message bodies of the selected folder in sequence order (BODY.PEEK: no \Seen).
async fn fetch_selected(s: &mut ImapSession) -> async_imap::error::Result<Vec<Vec<u8>>> {
    let fetches: Vec<_> = s.fetch("1:*", "BODY.PEEK[]").await?.try_collect().await?;
    let mut messages: Vec<(u32, Vec<u8>)> = fetches
        .iter()
        .filter_map(|f| f.body().map(|b| (f.message, b.to_vec())))
        .collect();
    messages.sort_by_key(|(seq, _)| *seq);
    Ok(messages.into_iter().map(|(_, b)| b).collect())
}

/// All message bodies of `folder` in sequence order; empty when the folder does not exist.
async fn fetch_all(s: &mut ImapSession, folder: &str) -> async_imap::error::Result<Vec<Vec<u8>>> {
    if examine(s, folder).await? == 0 {
        return Ok(Vec::new());
    }
    fetch_selected(s).await
}

/// The Subject of a raw message (`(no subject)` when it has none or does not parse).
pub fn subject(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| "(no subject)".into())
}

/// The Subject of each raw message.
pub fn subjects(messages: &[Vec<u8>]) -> Vec<String> {
    messages.iter().map(|raw| subject(raw)).collect()
}
