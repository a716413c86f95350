//! Filing: moving a handled message out of the inbox (`UID MOVE`, or COPY +
//! STORE + EXPUNGE), recorded in the checkpoint first and retried until the
//! server confirms it.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::ImapMailbox;
use super::protocol::{COMMAND_TIMEOUT, Trouble, command, quote};
use crate::core::Folder;
use crate::edge::mailbox::{Locator, MailboxError};

/// How often unconfirmed filings are retried on a live connection.
const FILING_RETRY_EVERY: Duration = Duration::from_secs(5 * 60);

impl ImapMailbox {
    /// Retries the recorded but unconfirmed filings (all of them, or only
    /// those among `present`, the UIDs a search just found in the inbox).
    pub(super) async fn retry_filings(&mut self, present: Option<&[u32]>) -> Result<(), Trouble> {
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

    /// With MOVE, one `UID MOVE` per destination folder for the whole
    /// batch; otherwise (or for locators of an older UIDVALIDITY) one by one.
    pub(super) async fn file_batch(
        &mut self,
        items: &[(Locator, Folder)],
    ) -> Result<(), MailboxError> {
        let current = match &self.conn {
            Some(conn) if conn.caps.mv => conn.uidvalidity,
            _ => {
                let mut result = Ok(());
                for (locator, folder) in items {
                    if let Err(e) = self.file_one(locator, *folder).await {
                        result = Err(e);
                    }
                }
                return result;
            }
        };
        let mut result = Ok(());
        for folder in [Folder::Processed, Folder::Rejected, Folder::Quarantine] {
            let mut uids = Vec::new();
            for (locator, f) in items.iter().filter(|(_, f)| *f == folder) {
                match *locator {
                    Locator::Imap { uidvalidity, uid } if uidvalidity == current => uids.push(uid),
                    _ => {
                        if let Err(e) = self.file_one(locator, *f).await {
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

    /// Records the filing, then moves the message; see [`Mailbox::file`].
    pub(super) async fn file_one(
        &mut self,
        locator: &Locator,
        folder: Folder,
    ) -> Result<(), MailboxError> {
        let Locator::Imap { uidvalidity, uid } = *locator else {
            return Err(MailboxError::Other(format!(
                "not an IMAP message: {locator:?}"
            )));
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
}
