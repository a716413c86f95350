//! One IMAP command at a time over the session: sending it, reading its
//! untagged answers, and judging its tagged completion ([`Trouble`] says
//! why it failed); plus quoting names and cutting server text for logs.

use std::fmt;
use std::time::Duration;

use async_imap::error::Error as ImapError;
use async_imap::imap_proto::{Outcome, RequestId, Response, Status};
use tokio::time::timeout;

use super::session::Session;
use crate::edge::mailbox::MailboxError;

/// Longest time for one ordinary command (SEARCH, MOVE, NOOP, …).
pub(super) const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Server text quoted in errors and logs is cut to this many characters.
const MAX_SERVER_TEXT: usize = 200;

/// Why an operation on the server did not succeed.
#[derive(Debug)]
pub(super) enum Trouble {
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

/// Runs one command whose untagged answers do not matter.
pub(super) async fn command(
    session: &mut Session,
    line: &str,
    limit: Duration,
) -> Result<(), Trouble> {
    command_with(session, line, limit, |_| {}).await
}

/// Runs one command, hands each untagged answer to `on_untagged`, and turns
/// the tagged completion into `Ok`, [`Trouble::Refused`] (NO/BAD) or
/// [`Trouble::Broken`]. Unlike several async-imap helpers, this checks the
/// completion status, so a NO to FETCH or SEARCH is not mistaken for "no
/// messages".
pub(super) async fn command_with<F>(
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
pub(super) fn completion(resp: &Response<'_>, tag: &RequestId) -> Option<Result<(), Trouble>> {
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
pub(super) async fn within<T>(
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

/// A mailbox name as an IMAP quoted string.
pub(super) fn quote(name: &str) -> Result<String, Trouble> {
    if name.is_empty() || name.contains(['\r', '\n', '\0']) {
        return Err(Trouble::Refused(format!("unusable folder name {name:?}")));
    }
    Ok(format!(
        "\"{}\"",
        name.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

pub(super) fn outcome_text(outcome: &Outcome<'_>) -> String {
    let text = outcome.information.as_deref().unwrap_or("");
    match &outcome.code {
        Some(code) => cut(&format!("[{code:?}] {text}")),
        None => cut(text),
    }
}

/// Server text, cut short and stripped of control characters, for errors
/// and logs.
pub(super) fn cut(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_SERVER_TEXT)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
