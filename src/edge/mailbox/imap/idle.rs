//! Waiting for mail: IDLE (RFC 2177) where the server offers it, otherwise
//! a sleep of `poll_interval` and a NOOP.

use std::time::Duration;

use async_imap::error::Error as ImapError;
use async_imap::imap_proto::{MailboxDatum, Response, Status};
use tokio::time::{sleep, timeout};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::protocol::{COMMAND_TIMEOUT, Trouble, command, outcome_text};
use super::session::Session;
use super::{GOODBYE_TIMEOUT, ImapMailbox};

/// IDLE is ended and re-issued after this long: servers may drop an IDLE
/// older than 30 minutes (RFC 2177).
const IDLE_RENEW: Duration = Duration::from_secs(29 * 60);

/// How a wait on the server ended.
pub(super) enum Waited {
    /// Something may have changed in the inbox (or the wait timed out).
    Again,
    /// `shutdown` was cancelled.
    Cancelled,
}

impl ImapMailbox {
    /// Waits for the inbox to change: IDLE where offered, otherwise a sleep
    /// of `poll_interval` followed by NOOP.
    pub(super) async fn wait_for_mail(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Result<Waited, Trouble> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use async_imap::imap_proto::Response;

    #[test]
    fn idle_changes_are_recognised() {
        let parse = |raw: &'static [u8]| Response::parse(raw).unwrap().1;
        assert!(is_change(&parse(b"* 4 EXISTS\r\n")).unwrap());
        assert!(is_change(&parse(b"* 2 EXPUNGE\r\n")).unwrap());
        assert!(!is_change(&parse(b"* OK Still here\r\n")).unwrap());
        assert!(is_change(&parse(b"* BYE shutting down\r\n")).is_err());
        assert!(is_change(&parse(b"* NO Internal error\r\n")).is_err());
    }
}
