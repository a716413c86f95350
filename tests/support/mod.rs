//! The integration-test harness: real mail servers, the real `sijil` binary, and realistic
//! inbound mail. Each integration test file says `mod support;` and uses what it needs:
//!
//! ```ignore
//! mod support;
//! use std::time::Duration;
//! use support::{Daemon, MailServers, Pack, DEVELOPER, RA_ADDRESS};
//!
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn pack_is_acknowledged() {
//!     let servers = MailServers::start();           // Dovecot + Postfix on free ports
//!     let _sijil = Daemon::start(&servers);          // sijil run, reading RA_ADDRESS by IMAP
//!     servers.send(&Pack::mykad_valid().build(), DEVELOPER, &[RA_ADDRESS]).await;
//!     let acks = servers.wait_for(DEVELOPER, "INBOX", 1, Duration::from_secs(20)).await;
//!     assert!(String::from_utf8_lossy(&acks[0]).contains("[SJL-"));
//! }
//! ```
//!
//! Every address is a mailbox on the test Dovecot (user name = full address, password
//! [`PASSWORD`]), and Postfix relays mail for any domain into it — so whatever sijil sends to
//! the developer, the staff or a signee can be read back with [`MailServers::messages`] /
//! [`MailServers::wait_for`].
//!
//! Needs root and the Debian packages dovecot-imapd, dovecot-lmtpd, postfix, openssl
//! (`scripts/test` installs them when missing).

// Each test file compiles this module and uses only part of it (re-exports included).
#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;

pub mod browser;
pub mod clients;
pub mod config;
pub mod daemon;
pub mod packs;
pub mod pdf_tools;
pub mod process;
pub mod servers;
pub mod signing;
pub mod wait;
pub mod web;

pub use clients::{ImapSession, subject, subjects};
pub use config::{Inbound, Outbound, config, edit_config, set_limits, write_config};
pub use daemon::{
    DEVELOPER, DEVELOPER_COMPANY, Daemon, HIMS_ADDRESS, OFFICER, QC, RA_ADDRESS, SIGNEE, VERIFIER,
    deliver,
};
pub use packs::{ESPA_REF, FOREIGN_SIGNEE, Pack, STRANGER};
pub use process::{free_port, peak_rss_kib};
pub use servers::{BOUNCING_DOMAIN, MailServers, PASSWORD, REJECTING_DOMAIN, TEMPFAIL_DOMAIN};
pub use wait::{until, until_sync};

/// Parses a raw message (for assertions on headers, text and attachments).
pub fn parse(raw: &[u8]) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a parseable message")
}

/// Files of a Maildir folder (`new/` and `cur/`; Dovecot stores Maildir), sorted.
pub fn maildir_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<std::path::PathBuf> = ["new", "cur"]
        .iter()
        .filter_map(|s| std::fs::read_dir(dir.join(s)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    out.sort();
    out
}

/// The messages of a Maildir folder (see [`maildir_files`]), read; a file gone meanwhile (filed
/// elsewhere) is left out.
pub fn maildir_messages(dir: &std::path::Path) -> Vec<Vec<u8>> {
    maildir_files(dir)
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .collect()
}

/// Copies per Message-ID (lower-cased) of the messages in the Maildir folder `dir`; with
/// `in_reply_to`, only those answering that message.
pub fn copies(dir: &std::path::Path, in_reply_to: Option<&str>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for raw in maildir_messages(dir) {
        if let Some(parent) = in_reply_to
            && header_lowercase(&raw, "In-Reply-To") != parent.to_lowercase()
        {
            continue;
        }
        *out.entry(header_lowercase(&raw, "Message-ID")).or_insert(0) += 1;
    }
    out
}

/// A temporary directory for a test that has no [`MailServers`] (which keep their own): removed
/// when dropped, unless `SIJIL_KEEP_TEST_DIR` is set (then kept, and its path printed).
pub struct TestDir(Option<tempfile::TempDir>);

impl TestDir {
    pub fn new() -> TestDir {
        TestDir(Some(
            tempfile::tempdir().expect("create a temporary directory"),
        ))
    }

    pub fn path(&self) -> &std::path::Path {
        self.0.as_ref().expect("the directory lives").path()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if let Some(tmp) = self.0.take() {
            keep_or_remove(tmp);
        }
    }
}

/// Removes a test's temporary directory, or keeps it (printing where) when
/// `SIJIL_KEEP_TEST_DIR` is set, for a post-mortem.
pub fn keep_or_remove(tmp: tempfile::TempDir) {
    if std::env::var_os("SIJIL_KEEP_TEST_DIR").is_some() {
        eprintln!("keeping {}", tmp.keep().display());
    }
}

/// The first To address of a raw message ("" when it has none).
pub fn first_to(raw: &[u8]) -> String {
    parse(raw)
        .to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_string()
}

/// A header of a raw message, trimmed and lower-cased ("" when absent).
pub fn header_lowercase(raw: &[u8], name: &str) -> String {
    parse(raw)
        .header_raw(name)
        .unwrap_or_default()
        .trim()
        .to_lowercase()
}

/// The signee address of numbered pack `i` (see [`Pack::numbered`]).
pub fn numbered_signee(i: usize) -> String {
    format!("signee{i}@buyer.example.com")
}

/// Opens a stopped daemon's store and documents (`<db>.documents`, the default beside it) and
/// checks that every document of every case reads back as the bytes its SHA-256 names.
/// Returns how many were read.
pub fn check_documents(db: &std::path::Path) -> usize {
    let mut documents = db.as_os_str().to_owned();
    documents.push(".documents");
    let store = sijil::edge::store::Store::open(db).expect("open the stopped daemon's store");
    let docs = sijil::edge::documents::Documents::open(std::path::Path::new(&documents))
        .expect("open its documents");
    let mut read = 0;
    for case in store.cases() {
        let case = case.expect("a readable case");
        for doc in &case.documents {
            let what = format!("{}: {}", case.reference, doc.name);
            let at = store.document(&doc.sha256).expect("the document index");
            let at = at.unwrap_or_else(|| panic!("{what}: not stored"));
            let bytes = docs.read(&at).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(bytes.len() as u64, doc.size, "{what}");
            assert_eq!(
                sijil::edge::inbound::sha256_hex(&bytes),
                doc.sha256,
                "{what}"
            );
            read += 1;
        }
    }
    read
}
