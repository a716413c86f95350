//! What the IMAP edge persists: the inbox's UIDVALIDITY and the filings
//! asked for but not yet confirmed by the server, so that a crash or a lost
//! connection never hands a filed message out again.

use tracing::warn;

use super::protocol::Trouble;
use crate::core::Folder;

/// The persistent part of the edge's state, in the `sled::Tree` it was
/// given.
///
/// Keys: `uidvalidity` → u32 (big-endian); `filing/` + UIDVALIDITY + UID
/// (both big-endian) → the folder the message is being moved to.
pub(super) struct Checkpoint {
    tree: sled::Tree,
}

const KEY_UIDVALIDITY: &[u8] = b"uidvalidity";

const FILING_PREFIX: &[u8] = b"filing/";

impl Checkpoint {
    /// The checkpoint kept in `tree`, which it owns entirely.
    pub(super) fn new(tree: sled::Tree) -> Self {
        Checkpoint { tree }
    }

    pub(super) fn uidvalidity(&self) -> Result<Option<u32>, Trouble> {
        let Some(value) = self.tree.get(KEY_UIDVALIDITY).map_err(store)? else {
            return Ok(None);
        };
        match <[u8; 4]>::try_from(value.as_ref()) {
            Ok(bytes) => Ok(Some(u32::from_be_bytes(bytes))),
            Err(_) => {
                warn!("checkpoint UIDVALIDITY unreadable; starting over");
                Ok(None)
            }
        }
    }

    /// Drops every recorded filing and remembers `uidvalidity`.
    pub(super) async fn start_epoch(&self, uidvalidity: u32) -> Result<(), Trouble> {
        let mut batch = sled::Batch::default();
        for entry in self.tree.scan_prefix(FILING_PREFIX) {
            let (key, _) = entry.map_err(store)?;
            batch.remove(key);
        }
        batch.insert(KEY_UIDVALIDITY, &uidvalidity.to_be_bytes());
        self.tree.apply_batch(batch).map_err(store)?;
        self.tree.flush_async().await.map_err(store)?;
        Ok(())
    }

    pub(super) async fn record_filing(
        &self,
        uidvalidity: u32,
        uid: u32,
        folder: Folder,
    ) -> Result<(), Trouble> {
        // Not flushed: it becomes durable with the store's next flush. Lost
        // in a crash, it only means the message is fetched once more, and
        // the daemon, finding its Message-ID already handled, files it.
        self.tree
            .insert(filing_key(uidvalidity, uid), folder_tag(folder))
            .map_err(store)?;
        Ok(())
    }

    pub(super) fn filing(&self, uidvalidity: u32, uid: u32) -> Result<Option<Folder>, Trouble> {
        let value = self.tree.get(filing_key(uidvalidity, uid)).map_err(store)?;
        Ok(value.and_then(|v| folder_from_tag(&v)))
    }

    /// Filings recorded under `uidvalidity`, by ascending UID.
    pub(super) fn filings(&self, uidvalidity: u32) -> Result<Vec<(u32, Folder)>, Trouble> {
        let mut prefix = FILING_PREFIX.to_vec();
        prefix.extend_from_slice(&uidvalidity.to_be_bytes());
        let mut out = Vec::new();
        for entry in self.tree.scan_prefix(&prefix) {
            let (key, value) = entry.map_err(store)?;
            let uid = key
                .get(prefix.len()..)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes);
            match (uid, folder_from_tag(&value)) {
                (Some(uid), Some(folder)) => out.push((uid, folder)),
                _ => {
                    warn!("unreadable filing record in the checkpoint; dropped");
                    self.tree.remove(key).map_err(store)?;
                }
            }
        }
        Ok(out)
    }

    /// Forgets a filing the server confirmed. Not flushed: if this is lost
    /// in a crash, the move is merely repeated, and that is harmless.
    pub(super) fn clear_filing(&self, uidvalidity: u32, uid: u32) -> Result<(), Trouble> {
        self.tree
            .remove(filing_key(uidvalidity, uid))
            .map_err(store)?;
        Ok(())
    }
}

fn filing_key(uidvalidity: u32, uid: u32) -> Vec<u8> {
    let mut key = FILING_PREFIX.to_vec();
    key.extend_from_slice(&uidvalidity.to_be_bytes());
    key.extend_from_slice(&uid.to_be_bytes());
    key
}

/// Folders are stored by role, not by name, so that renaming a folder in the
/// configuration still finds its pending filings.
fn folder_tag(folder: Folder) -> &'static [u8] {
    match folder {
        Folder::Processed => b"processed",
        Folder::Rejected => b"rejected",
        Folder::Quarantine => b"quarantine",
    }
}

fn folder_from_tag(tag: &[u8]) -> Option<Folder> {
    match tag {
        b"processed" => Some(Folder::Processed),
        b"rejected" => Some(Folder::Rejected),
        b"quarantine" => Some(Folder::Quarantine),
        _ => None,
    }
}

fn store(e: sled::Error) -> Trouble {
    Trouble::Store(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checkpoint_records_filings_per_uidvalidity() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let cp = Checkpoint {
            tree: db.open_tree("imap").unwrap(),
        };
        assert_eq!(cp.uidvalidity().unwrap(), None);
        cp.start_epoch(10).await.unwrap();
        assert_eq!(cp.uidvalidity().unwrap(), Some(10));
        cp.record_filing(10, 5, Folder::Rejected).await.unwrap();
        cp.record_filing(10, 3, Folder::Processed).await.unwrap();
        assert_eq!(
            cp.filings(10).unwrap(),
            vec![(3, Folder::Processed), (5, Folder::Rejected)]
        );
        assert_eq!(cp.filing(10, 5).unwrap(), Some(Folder::Rejected));
        assert_eq!(cp.filing(11, 5).unwrap(), None);
        cp.clear_filing(10, 3).unwrap();
        assert_eq!(cp.filings(10).unwrap(), vec![(5, Folder::Rejected)]);
        cp.start_epoch(11).await.unwrap();
        assert_eq!(cp.uidvalidity().unwrap(), Some(11));
        assert!(cp.filings(10).unwrap().is_empty());
        // Garbage written by someone else does not panic us.
        cp.tree.insert(KEY_UIDVALIDITY, &b"xy"[..]).unwrap();
        cp.tree
            .insert(filing_key(11, 1), &b"elsewhere"[..])
            .unwrap();
        assert_eq!(cp.uidvalidity().unwrap(), None);
        assert!(cp.filings(11).unwrap().is_empty());
    }
}
