//! Documents (forms, ID copies, letters) on disk, appended to segment files
//! readable by the daemon's user only (SPEC §8: ID copies are personal
//! data).
//!
//! Every document a case keeps is appended to the active segment,
//! `<documents_path>/NNNNNNNNNN.seg`, and found again by its [`Location`],
//! which the store indexes by the document's SHA-256 in the same
//! transaction as the case. No file is ever named after anything a sender
//! wrote.
//!
//! **Why segments, not a file per document.** Creating a file costs an
//! inode, a directory entry and a rename per document, four per pack; on
//! ext4 without a journal each inode allocation also scans past every inode
//! freed in the last few seconds (the mail server on the same disk frees
//! one per message it files). Appending instead cut sijil's CPU per pack by
//! about a fifth in `scripts/bench`.
//!
//! **Why a crash loses nothing.** The daemon syncs the segments a batch
//! wrote ([`Documents::unsynced`]) before it flushes the store, and files
//! the batch's messages only after both. A crash before that leaves bytes
//! no case points at, which are only wasted space. A segment is never
//! appended to by a later run: each run starts a new one, so a torn tail
//! from a crash never sits under a live document. And because the store may
//! write the index before the segment reaches the disk (sled flushes on its
//! own too), a location is trusted only once its bytes hash to the name
//! ([`Documents::ensure`]): the daemon checks it whenever the same document
//! comes again, which includes the message a crash left unfiled.
//!
//! **Retention** (SPEC §8): a purged document's bytes are destroyed where
//! they are ([`destroy`]): overwritten with zeros and synced, then the range
//! is punched out of the file (`fallocate` `PUNCH_HOLE`) so its blocks are
//! given back. Chosen over compaction, which would copy every other
//! document of the segment (personal data too) to a new file and swap it in
//! crash-safely, and over a file per document, which the segments replaced
//! for their cost per pack (above). The other documents of the segment, and
//! their locations, are untouched.

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A segment stops taking documents once it holds this many bytes.
const SEGMENT_BYTES: u64 = 64 << 20;

/// Where one document's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub segment: u64,
    pub offset: u64,
    pub len: u64,
}

impl Location {
    /// How the store keeps it: three big-endian `u64`s.
    pub fn to_bytes(&self) -> [u8; 24] {
        let mut out = [0; 24];
        out[..8].copy_from_slice(&self.segment.to_be_bytes());
        out[8..16].copy_from_slice(&self.offset.to_be_bytes());
        out[16..].copy_from_slice(&self.len.to_be_bytes());
        out
    }

    /// The location [`Location::to_bytes`] wrote; `None` for anything else.
    pub fn from_bytes(bytes: &[u8]) -> Option<Location> {
        let word = |i: usize| {
            let w: [u8; 8] = bytes.get(i * 8..i * 8 + 8)?.try_into().ok()?;
            Some(u64::from_be_bytes(w))
        };
        (bytes.len() == 24).then_some(())?;
        Some(Location {
            segment: word(0)?,
            offset: word(1)?,
            len: word(2)?,
        })
    }
}

/// The document segments of one store. The daemon's message loop owns it:
/// appending needs `&mut self`.
#[derive(Debug)]
pub struct Documents {
    root: PathBuf,
    /// The segment being appended to, created with the first document of
    /// this run.
    active: Option<Active>,
    /// The number the next new segment gets.
    next: u64,
    /// Segments written since the last [`Documents::synced`].
    unsynced: Vec<Arc<File>>,
    /// [`SEGMENT_BYTES`], smaller in tests.
    segment_bytes: u64,
}

#[derive(Debug)]
struct Active {
    number: u64,
    file: Arc<File>,
    len: u64,
}

impl Documents {
    /// Opens (creating, mode 0700) the documents directory. Segments of
    /// earlier runs are only read from now on.
    pub fn open(root: &Path) -> std::io::Result<Documents> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)?;
        let mut last = 0;
        for entry in std::fs::read_dir(root)? {
            let name = entry?.file_name();
            if let Some(n) = name.to_str().and_then(segment_number) {
                last = last.max(n);
            }
        }
        Ok(Documents {
            root: root.to_path_buf(),
            active: None,
            next: last.saturating_add(1),
            unsynced: Vec::new(),
            segment_bytes: SEGMENT_BYTES,
        })
    }

    /// The file holding segment `number`.
    pub fn segment_path(&self, number: u64) -> PathBuf {
        segment_file(&self.root, number)
    }

    /// The directory the segments are in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Appends `bytes` and says where they are. Durable only once the
    /// segment is synced (see [`Documents::unsynced`]).
    pub fn put(&mut self, bytes: &[u8]) -> std::io::Result<Location> {
        let len = bytes.len() as u64;
        let full = self
            .active
            .as_ref()
            .is_none_or(|a| a.len > 0 && a.len + len > self.segment_bytes);
        if full {
            self.start_segment()?;
        }
        let Some(active) = self.active.as_mut() else {
            return Err(std::io::Error::other("no active segment"));
        };
        let at = Location {
            segment: active.number,
            offset: active.len,
            len,
        };
        // After a failed or short write the end of the segment is unknown:
        // the next document goes to a new segment.
        if let Err(e) = active.file.write_all_at(bytes, at.offset) {
            self.active = None;
            return Err(e);
        }
        active.len += len;
        let file = active.file.clone();
        if !self.unsynced.iter().any(|f| Arc::ptr_eq(f, &file)) {
            self.unsynced.push(file);
        }
        Ok(at)
    }

    fn start_segment(&mut self) -> std::io::Result<()> {
        let number = self.next;
        // At the very last number the next create fails (the file exists)
        // instead of wrapping around onto segment 0.
        self.next = self.next.saturating_add(1);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.segment_path(number))?;
        // The new name must outlive a crash as surely as the bytes synced
        // into it later: a segment is created once per 64 MiB, so its
        // directory is synced right away.
        File::open(&self.root)?.sync_all()?;
        self.active = Some(Active {
            number,
            file: Arc::new(file),
            len: 0,
        });
        Ok(())
    }

    /// The segments written since the last [`Documents::synced`], to be
    /// synced (`sync_data`) off the async threads; call `synced` after.
    pub fn unsynced(&self) -> Vec<Arc<File>> {
        self.unsynced.clone()
    }

    /// Every segment [`Documents::unsynced`] returned is now durable.
    pub fn synced(&mut self) {
        self.unsynced.clear();
    }

    /// Reads one document back.
    pub fn read(&self, at: &Location) -> std::io::Result<Vec<u8>> {
        read_at(&self.root, at)
    }

    /// Whether the bytes at `at` are the document named `sha256`.
    pub fn holds(&self, at: &Location, sha256: &str) -> bool {
        self.read(at)
            .is_ok_and(|bytes| crate::edge::inbound::sha256_hex(&bytes) == sha256)
    }

    /// Makes sure the document `sha256` (these `bytes`) is held: `known` is
    /// where the store says it is, if anywhere. Returns the new location
    /// when it had to be written (the store must index it), `None` when
    /// `known` already holds it.
    pub fn ensure(
        &mut self,
        sha256: &str,
        bytes: &[u8],
        known: Option<&Location>,
    ) -> std::io::Result<Option<Location>> {
        if known.is_some_and(|at| self.holds(at, sha256)) {
            return Ok(None);
        }
        self.put(bytes).map(Some)
    }
}

/// Destroys the bytes at `at` in the segments under `root`: zeros written
/// over them and synced (on a file system that writes in place, the old
/// blocks hold zeros), then the range punched out of the file. Idempotent:
/// a purge cut short by a crash is simply done again. A segment that is
/// gone already holds nothing to destroy.
pub fn destroy(root: &Path, at: &Location) -> std::io::Result<()> {
    let path = root.join(format!("{:010}.seg", at.segment));
    let file = match std::fs::OpenOptions::new().write(true).open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let end = file.metadata()?.len();
    let len = at.len.min(end.saturating_sub(at.offset));
    if len == 0 {
        return Ok(());
    }
    let zeros = vec![0u8; len.min(1 << 20) as usize];
    let mut done = 0;
    while done < len {
        let n = zeros.len().min((len - done) as usize);
        file.write_all_at(&zeros[..n], at.offset + done)?;
        done += n as u64;
    }
    file.sync_data()?;
    punch_hole(&file, at.offset, len);
    Ok(())
}

/// Gives the blocks of a zeroed range back to the file system. Best
/// effort: the bytes are already gone; a file system without hole punching
/// only keeps the space.
fn punch_hole(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return;
    };
    // SAFETY: a valid open descriptor; fallocate reads no memory of ours.
    let done = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            offset,
            len,
        )
    };
    if done != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "hole not punched");
    }
}

/// `0000000042.seg` → 42.
fn segment_number(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Reads one document back from the documents directory `root` (the web
/// pages read the eSPA's PDF so, without the mailbox worker's writer).
pub fn read_at(root: &Path, at: &Location) -> std::io::Result<Vec<u8>> {
    let len = usize::try_from(at.len).map_err(std::io::Error::other)?;
    let mut bytes = vec![0; len];
    File::open(segment_file(root, at.segment))?.read_exact_at(&mut bytes, at.offset)?;
    Ok(bytes)
}

fn segment_file(root: &Path, number: u64) -> PathBuf {
    root.join(format!("{number:010}.seg"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::inbound::sha256_hex;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    fn sync(docs: &mut Documents) {
        for f in docs.unsynced() {
            f.sync_data().unwrap();
        }
        docs.synced();
    }

    #[test]
    fn stores_privately_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("docs");
        let mut docs = Documents::open(&root).unwrap();
        let form = b"%PDF-1.4 application form".to_vec();
        let id = b"\xff\xd8\xff identity copy".to_vec();
        let a = docs.put(&form).unwrap();
        let b = docs.put(&id).unwrap();
        assert_eq!((a.segment, a.offset), (b.segment, 0));
        assert_eq!(b.offset, form.len() as u64);
        assert_eq!(docs.unsynced().len(), 1);
        sync(&mut docs);
        assert!(docs.unsynced().is_empty());
        assert_eq!(docs.read(&a).unwrap(), form);
        assert_eq!(docs.read(&b).unwrap(), id);
        assert!(docs.holds(&b, &sha256_hex(&id)));
        assert!(!docs.holds(&b, &sha256_hex(&form)));

        let mode = |p: &Path| p.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&docs.segment_path(a.segment)), 0o600);
        let names: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["0000000001.seg"]);
    }

    #[test]
    fn a_new_run_appends_to_a_new_segment() {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let mut docs = Documents::open(dir.path()).unwrap();
            docs.put(b"first run").unwrap()
        };
        // A torn tail left by a crash stays where no live document is.
        let path = dir.path().join("0000000001.seg");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"garbage")
            .unwrap();
        let mut docs = Documents::open(dir.path()).unwrap();
        let second = docs.put(b"second run").unwrap();
        assert_eq!((first.segment, second.segment), (1, 2));
        assert_eq!(second.offset, 0);
        assert_eq!(docs.read(&first).unwrap(), b"first run");
        assert_eq!(docs.read(&second).unwrap(), b"second run");
    }

    #[test]
    fn a_full_segment_gives_way_to_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let mut docs = Documents::open(dir.path()).unwrap();
        docs.segment_bytes = 1000;
        let big = vec![7u8; 501];
        let a = docs.put(&big).unwrap();
        let b = docs.put(&big).unwrap();
        let c = docs.put(b"small").unwrap();
        assert_eq!((a.segment, b.segment, c.segment), (1, 2, 2));
        // Both segments still need their sync.
        assert_eq!(docs.unsynced().len(), 2);
        // A document larger than a segment still gets one of its own.
        let huge = vec![1u8; 1001];
        let d = docs.put(&huge).unwrap();
        assert_eq!((d.segment, d.offset), (3, 0));
        assert_eq!(docs.read(&d).unwrap().len(), huge.len());
    }

    #[test]
    fn a_destroyed_document_is_gone_from_its_segment_and_its_neighbours_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut docs = Documents::open(dir.path()).unwrap();
        let before = b"%PDF-1.4 LOA kept".to_vec();
        let id = b"\xff\xd8\xff MYKAD-MARKER-7f3a personal data \xff\xd9".to_vec();
        let after = b"%PDF-1.4 another letter".to_vec();
        let (a, b, c) = (
            docs.put(&before).unwrap(),
            docs.put(&id).unwrap(),
            docs.put(&after).unwrap(),
        );
        sync(&mut docs);
        destroy(dir.path(), &b).unwrap();
        let segment = std::fs::read(docs.segment_path(b.segment)).unwrap();
        assert!(
            !segment.windows(17).any(|w| w == b"MYKAD-MARKER-7f3a"),
            "the bytes are gone from the file"
        );
        assert_eq!(docs.read(&a).unwrap(), before);
        assert_eq!(docs.read(&c).unwrap(), after);
        assert!(!docs.holds(&b, &sha256_hex(&id)));
        // Again, and on a segment that is gone: nothing to do, no error.
        destroy(dir.path(), &b).unwrap();
        let gone = Location { segment: 99, ..b };
        destroy(dir.path(), &gone).unwrap();
    }

    #[test]
    fn ensure_rewrites_only_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let mut docs = Documents::open(dir.path()).unwrap();
        let bytes = b"%PDF-1.4 letter of authorisation".to_vec();
        let sha = sha256_hex(&bytes);
        let at = docs.ensure(&sha, &bytes, None).unwrap().unwrap();
        sync(&mut docs);
        // Known and intact: nothing written, nothing to sync.
        assert_eq!(docs.ensure(&sha, &bytes, Some(&at)).unwrap(), None);
        assert!(docs.unsynced().is_empty());
        // The store's location outlived the bytes (a crash before the sync
        // reached the disk): written again, and due for the next sync.
        std::fs::OpenOptions::new()
            .write(true)
            .open(docs.segment_path(at.segment))
            .unwrap()
            .set_len(3)
            .unwrap();
        let again = docs.ensure(&sha, &bytes, Some(&at)).unwrap().unwrap();
        assert_ne!(again, at);
        assert_eq!(docs.read(&again).unwrap(), bytes);
        assert_eq!(docs.unsynced().len(), 1);
        // A location in a segment that is gone altogether.
        let lost = Location {
            segment: 99,
            offset: 0,
            len: bytes.len() as u64,
        };
        assert!(docs.ensure(&sha, &bytes, Some(&lost)).unwrap().is_some());
    }

    #[test]
    fn locations_round_trip() {
        let at = Location {
            segment: 3,
            offset: u64::MAX - 1,
            len: 1 << 40,
        };
        assert_eq!(Location::from_bytes(&at.to_bytes()), Some(at));
        assert_eq!(Location::from_bytes(&at.to_bytes()[..23]), None);
        assert_eq!(Location::from_bytes(&[0; 25]), None);
    }

    #[test]
    fn only_segment_names_count() {
        assert_eq!(segment_number("0000000042.seg"), Some(42));
        assert_eq!(segment_number(".seg"), None);
        assert_eq!(segment_number("12.seg.tmp"), None);
        assert_eq!(segment_number("-1.seg"), None);
        assert_eq!(segment_number("ab.seg"), None);
    }
}
