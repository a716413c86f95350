//! The embedded default's inbound edge: a Maildir on local disk.
//!
//! New mail is delivered into `new/` (a mail client may have moved it to
//! `cur/`); a handled message is renamed into the Maildir++ subfolder of its
//! destination (`.Processed/cur/` and so on). A rename is atomic, so a
//! message is always in exactly one place. A message file over the size
//! limit is read only up to the end of its header (SPEC §8): its size is
//! the file's, whatever a `,S=` in its name says.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use tokio::io::AsyncReadExt;

use super::{Fetched, HEADER_MAX, Locator, Mailbox, MailboxError};
use crate::config::MaildirConfig;
use crate::core::Folder;

/// How often an empty inbox is looked at again. Reading a directory is
/// cheap, and the embedded default is for one machine's local mail.
const POLL: Duration = Duration::from_millis(200);

pub struct MaildirMailbox {
    root: PathBuf,
    /// Handed out and not yet filed: skipped by the next look at the inbox.
    in_hand: std::collections::HashSet<String>,
    /// Found by the last look at the inbox, oldest first, not yet handed
    /// out: one directory listing serves a whole backlog (a listing per
    /// message would make a backlog of n messages cost n² entries read).
    queue: std::collections::VecDeque<(String, PathBuf)>,
    processed: String,
    rejected: String,
    quarantine: String,
    /// Files larger than this are read only up to the end of their header;
    /// `None`: no limit.
    message_max: Option<u64>,
}

impl MaildirMailbox {
    pub fn new(cfg: &MaildirConfig) -> MaildirMailbox {
        MaildirMailbox {
            root: cfg.path.clone(),
            in_hand: Default::default(),
            queue: Default::default(),
            processed: cfg.folders.processed.clone(),
            rejected: cfg.folders.rejected.clone(),
            quarantine: cfg.folders.quarantine.clone(),
            message_max: None,
        }
    }

    /// A message over `bytes` is handed out as its header alone, with its
    /// size ([`Fetched::oversize`]).
    pub fn with_message_max(mut self, bytes: u64) -> Self {
        self.message_max = Some(bytes);
        self
    }

    fn folder_dir(&self, folder: Folder) -> PathBuf {
        let name = match folder {
            Folder::Processed => &self.processed,
            Folder::Rejected => &self.rejected,
            Folder::Quarantine => &self.quarantine,
        };
        self.root.join(format!(".{name}"))
    }

    /// Lists the message files not in hand: `new/`, then `cur/`, each
    /// oldest first (Maildir names start with the delivery time).
    fn look(&mut self) -> Result<(), MailboxError> {
        for sub in ["new", "cur"] {
            let dir = self.root.join(sub);
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .map_err(|e| io(&dir, e))?
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .filter(|n| !self.in_hand.contains(&format!("{sub}/{n}")))
                .collect();
            names.sort();
            for name in names {
                let path = dir.join(&name);
                self.queue.push_back((format!("{sub}/{name}"), path));
            }
        }
        Ok(())
    }
}

fn io(path: &Path, e: std::io::Error) -> MailboxError {
    MailboxError::Other(format!("{}: {e}", path.display()))
}

/// Reads a message file: whole, or when it is over `max`, only up to the
/// blank line that ends its header (at most [`HEADER_MAX`] bytes), with
/// the file's size. The size is taken from the open file, so a file
/// replaced meanwhile cannot pass for a small one.
async fn read(path: &Path, max: Option<u64>) -> std::io::Result<(Vec<u8>, Option<u64>)> {
    let mut file = tokio::fs::File::open(path).await?;
    let size = file.metadata().await?.len();
    let Some(max) = max.filter(|&max| size > max) else {
        let mut raw = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.read_to_end(&mut raw).await?;
        return Ok((raw, None));
    };
    let mut head = Vec::new();
    let mut chunk = [0u8; 8192];
    while head.len() < HEADER_MAX {
        let want = chunk.len().min(HEADER_MAX - head.len());
        let n = file.read(&mut chunk[..want]).await?;
        if n == 0 {
            break;
        }
        // Only the new bytes (and the three before) can complete the end.
        let from = head.len().saturating_sub(3);
        head.extend_from_slice(&chunk[..n]);
        if let Some(end) = crate::edge::inbound::header_end(&head[from..]) {
            head.truncate(from + end);
            break;
        }
    }
    tracing::debug!(
        bytes = size,
        limit = max,
        "message over the size limit: header only"
    );
    Ok((head, Some(size)))
}

fn create_maildir(dir: &Path) -> Result<(), MailboxError> {
    for sub in ["new", "cur", "tmp"] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).map_err(|e| io(&d, e))?;
    }
    Ok(())
}

impl Mailbox for MaildirMailbox {
    async fn open(&mut self) -> Result<(), MailboxError> {
        create_maildir(&self.root)?;
        for folder in [Folder::Processed, Folder::Rejected, Folder::Quarantine] {
            create_maildir(&self.folder_dir(folder))?;
        }
        Ok(())
    }

    async fn next(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Result<Option<Fetched>, MailboxError> {
        loop {
            if shutdown.is_cancelled() {
                return Ok(None);
            }
            if let Some(fetched) = self.next_ready().await? {
                return Ok(Some(fetched));
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(None),
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    async fn next_ready(&mut self) -> Result<Option<Fetched>, MailboxError> {
        if self.queue.is_empty() {
            self.look()?;
        }
        while let Some((file, path)) = self.queue.pop_front() {
            match read(&path, self.message_max).await {
                Ok((raw, oversize)) => {
                    self.in_hand.insert(file.clone());
                    return Ok(Some(Fetched {
                        locator: Locator::Maildir { file },
                        raw,
                        oversize,
                    }));
                }
                // Another reader (a mail client) moved it meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&path, e)),
            }
        }
        Ok(None)
    }

    async fn file(&mut self, locator: &Locator, folder: Folder) -> Result<(), MailboxError> {
        let Locator::Maildir { file } = locator else {
            return Err(MailboxError::Other("not a Maildir message".into()));
        };
        self.in_hand.remove(file);
        let from = self.root.join(file);
        let base = file.rsplit('/').next().unwrap_or(file);
        // Maildir info ":2,S" marks it seen; keep any flags it already had.
        let name = if base.contains(":2,") {
            base.to_string()
        } else {
            format!("{base}:2,S")
        };
        let to = self.folder_dir(folder).join("cur").join(name);
        match std::fs::rename(&from, &to) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&from, e)),
        }
    }

    async fn close(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Folders;

    fn mailbox(root: &Path) -> MaildirMailbox {
        MaildirMailbox::new(&MaildirConfig {
            path: root.to_path_buf(),
            folders: Folders {
                inbox: "INBOX".into(),
                processed: "Processed".into(),
                rejected: "Rejected".into(),
                quarantine: "Quarantine".into(),
            },
        })
    }

    #[tokio::test]
    async fn hands_out_oldest_first_and_files_by_rename() {
        let dir = tempfile::tempdir().unwrap();
        let mut mb = mailbox(dir.path());
        mb.open().await.unwrap();
        std::fs::write(dir.path().join("new/200.b"), b"second").unwrap();
        std::fs::write(dir.path().join("new/100.a"), b"first").unwrap();
        let stop = CancellationToken::new();
        let m = mb.next(&stop).await.unwrap().unwrap();
        assert_eq!(m.raw, b"first");
        mb.file(&m.locator, Folder::Quarantine).await.unwrap();
        mb.file(&m.locator, Folder::Quarantine).await.unwrap();
        assert!(dir.path().join(".Quarantine/cur/100.a:2,S").exists());
        let m = mb.next(&stop).await.unwrap().unwrap();
        assert_eq!(m.raw, b"second");
        mb.file(&m.locator, Folder::Processed).await.unwrap();
        assert!(
            std::fs::read_dir(dir.path().join("new"))
                .unwrap()
                .next()
                .is_none()
        );
        stop.cancel();
        assert!(mb.next(&stop).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_message_over_the_limit_is_read_to_the_end_of_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let mut mb = mailbox(dir.path()).with_message_max(1000);
        mb.open().await.unwrap();
        let header = "From: a@b.my\r\nSubject: big\r\n\r\n";
        let big = format!("{header}{}", "x".repeat(5000));
        // The name's size says small: the file's size is what counts.
        std::fs::write(dir.path().join("new/100.a,S=10"), &big).unwrap();
        std::fs::write(dir.path().join("new/200.b"), "Subject: small\n\nhi").unwrap();
        // A header that never ends is cut at HEADER_MAX.
        let endless = format!("X-Long: {}", "y".repeat(2 * HEADER_MAX));
        std::fs::write(dir.path().join("new/300.c"), &endless).unwrap();
        let stop = CancellationToken::new();
        let m = mb.next(&stop).await.unwrap().unwrap();
        assert_eq!(m.raw, header.as_bytes());
        assert_eq!(m.oversize, Some(big.len() as u64));
        let m = mb.next(&stop).await.unwrap().unwrap();
        assert_eq!(m.raw, b"Subject: small\n\nhi");
        assert_eq!(m.oversize, None);
        let m = mb.next(&stop).await.unwrap().unwrap();
        assert_eq!(m.raw.len(), HEADER_MAX);
        assert_eq!(m.oversize, Some(endless.len() as u64));
    }
}
