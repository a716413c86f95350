//! Documents on disk, named by their SHA-256, readable by the daemon's user
//! only (SPEC §8: ID copies are personal data).
//!
//! The path of a blob derives from its digest alone, never from the
//! sender's file name. Writes are idempotent (same bytes, same name), so a
//! crash between writing a blob and committing its case leaves at worst an
//! unreferenced file. [`Blobs::sync`] is the barrier the daemon passes
//! before it makes the case that references a blob durable, so a case never
//! points at nothing; one barrier covers a whole batch of messages.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

impl Blobs {
    /// Opens (creating, mode 0700) the blob directory.
    pub fn open(root: &Path) -> std::io::Result<Blobs> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)?;
        Ok(Blobs {
            root: root.to_path_buf(),
        })
    }

    /// Where the blob with this digest lives. `sha256` must be hex.
    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| self.root.join(&sha256[..2]).join(sha256))
    }

    /// Stores `bytes` under `sha256` (mode 0600, written aside and renamed
    /// into place). Does nothing if the blob is already there. Durable only
    /// after [`Blobs::sync`].
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
        let Some(path) = self.path(sha256) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "blob name is not a SHA-256 digest",
            ));
        };
        if path.exists() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(&self.root);
        let tmp = dir.join(format!(".{sha256}.{}.tmp", std::process::id()));
        let open = || {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
        };
        // The fan-out directory is made the first time one of its blobs is
        // written, not checked before every write.
        let mut f = match open() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)?;
                open()?
            }
            other => other?,
        };
        f.write_all(bytes)?;
        drop(f);
        std::fs::rename(&tmp, &path)
    }

    /// Makes every blob written so far durable, with their directories: one
    /// `syncfs` of the file system holding them, rather than two `fsync`s
    /// per file.
    pub fn sync(&self) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let dir = std::fs::File::open(&self.root)?;
        // SAFETY: `dir` is an open file descriptor for the whole call.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    pub fn get(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        match self.path(sha256) {
            Some(p) => std::fs::read(p),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "blob name is not a SHA-256 digest",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn stores_privately_by_digest_only() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(&dir.path().join("docs")).unwrap();
        let bytes = b"%PDF-1.4 identity copy";
        let digest = crate::inbound::sha256_hex(bytes);
        blobs.put(&digest, bytes).unwrap();
        blobs.put(&digest, bytes).unwrap();
        blobs.sync().unwrap();
        assert_eq!(blobs.get(&digest).unwrap(), bytes);
        let path = blobs.path(&digest).unwrap();
        assert_eq!(path.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        let root_mode = dir
            .path()
            .join("docs")
            .metadata()
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(root_mode & 0o777, 0o700);
        assert!(blobs.path("../../etc/passwd").is_none());
        assert!(blobs.put("../x", b"x").is_err());
    }
}
