//! The inbound mailbox edge: where raw messages come from and the folder each
//! one is filed into once its effect is stored.
//!
//! Two implementations share one contract: [`imap::ImapMailbox`] (production)
//! and [`maildir::MaildirMailbox`] (the embedded default). The daemon asks for
//! the next message, decides, commits, and only then files it; a message that
//! is never filed (crash) is simply offered again on the next run.

pub mod imap;
pub mod maildir;

use crate::core::Folder;
use tokio_util::sync::CancellationToken;

/// Where a message is inside its mailbox, for filing it later. Not the
/// RFC 5322 Message-ID (every `message_id` elsewhere): that names the
/// message, this only finds it in one mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Locator {
    /// IMAP: the UID in the inbox, with the UIDVALIDITY it belongs to.
    Imap { uidvalidity: u32, uid: u32 },
    /// Maildir: the file name inside `new/` or `cur/`.
    Maildir { file: String },
}

/// The most of a message's header read when the message is over the size
/// limit: a header is a few kilobytes, and a hostile one must not become
/// the whole message by other means.
pub const HEADER_MAX: usize = 64 * 1024;

/// One message taken from the inbox, not yet filed.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub locator: Locator,
    /// The whole message; only its header (at most [`HEADER_MAX`] bytes)
    /// when `oversize` is set.
    pub raw: Vec<u8>,
    /// The message's real size, when it is over the limit the mailbox was
    /// given: then it is never read whole (SPEC §8), and `raw` holds only
    /// its header.
    pub oversize: Option<u64>,
}

/// Errors of a mailbox edge. The daemon logs them and carries on: an
/// implementation reconnects by itself, so an error here only means "this
/// one attempt failed".
#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    /// The server refused our login: the configuration is wrong. Fatal at
    /// start-up, so the operator sees it at once.
    #[error("login refused: {0}")]
    LoginRefused(String),
    /// Anything else: connection lost, I/O, protocol. Retried with back-off.
    #[error("{0}")]
    Other(String),
}

/// The contract both edges implement. Every future is `Send`, so that the
/// mailbox can live in a task of its own (see [`crate::edge::fetcher`]).
pub trait Mailbox: Send {
    /// Connects (or checks the Maildir), creating the three folders when
    /// absent. A refused login is [`MailboxError::LoginRefused`].
    fn open(&mut self) -> impl Future<Output = Result<(), MailboxError>> + Send;

    /// The next message in the inbox that has not been filed yet, waiting
    /// (IDLE or polling) while the inbox is empty. Returns `Ok(None)` once
    /// `shutdown` is cancelled. Reconnects with capped back-off on its own.
    fn next(
        &mut self,
        shutdown: &CancellationToken,
    ) -> impl Future<Output = Result<Option<Fetched>, MailboxError>> + Send;

    /// The next message only if one is already known to be waiting (the
    /// rest of a backlog); never waits, never reconnects. Lets the fetcher
    /// read ahead while earlier messages wait to be filed.
    fn next_ready(&mut self) -> impl Future<Output = Result<Option<Fetched>, MailboxError>> + Send;

    /// Moves a message out of the inbox into `folder`. Must be idempotent:
    /// filing a message that is already gone is not an error.
    fn file(
        &mut self,
        locator: &Locator,
        folder: Folder,
    ) -> impl Future<Output = Result<(), MailboxError>> + Send;

    /// Files several messages; the same as [`Mailbox::file`] on each, which
    /// an edge may do in fewer round trips. Every message is tried; the
    /// last error, if any, is returned.
    fn file_all(
        &mut self,
        items: &[(Locator, Folder)],
    ) -> impl Future<Output = Result<(), MailboxError>> + Send {
        async move {
            let mut result = Ok(());
            for (locator, folder) in items {
                if let Err(e) = self.file(locator, *folder).await {
                    result = Err(e);
                }
            }
            result
        }
    }

    /// Closes the connection politely (LOGOUT). Best effort.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}
