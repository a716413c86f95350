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

pub mod clients;
pub mod daemon;
pub mod packs;
pub mod process;
pub mod servers;

pub use clients::{ImapSession, subjects};
pub use daemon::{
    DEVELOPER, DEVELOPER_COMPANY, Daemon, HIMS_ADDRESS, OFFICER, QC, RA_ADDRESS, SIGNEE, VERIFIER,
};
pub use packs::{ESPA_REF, FOREIGN_SIGNEE, Pack, STRANGER};
pub use servers::{BOUNCING_DOMAIN, MailServers, PASSWORD, REJECTING_DOMAIN, TEMPFAIL_DOMAIN};

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
    let store = sijil::store::Store::open(db).expect("open the stopped daemon's store");
    let docs = sijil::documents::Documents::open(std::path::Path::new(&documents))
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
            assert_eq!(sijil::inbound::sha256_hex(&bytes), doc.sha256, "{what}");
            read += 1;
        }
    }
    read
}
