//! `sijil.toml` for a test: the test's people ([`DEVELOPER`], staff [`VERIFIER`], [`OFFICER`],
//! [`QC`]) and the RA's addresses, with the few things tests vary — where mail comes in, where it
//! goes out, the web port and the store — given by the caller. Anything else a test changes it
//! changes in the returned table (`cfg["security"]["require_authenticated_sender"] = true.into()`).

use std::fs;
use std::path::{Path, PathBuf};

use super::daemon::{
    DEVELOPER, DEVELOPER_COMPANY, HIMS_ADDRESS, OFFICER, QC, RA_ADDRESS, VERIFIER,
};

/// The test's staff: name, address, role.
const STAFF: [(&str, &str, &str); 3] = [
    ("Aina", VERIFIER, "verifier"),
    ("Badrul", OFFICER, "officer"),
    ("Chong", QC, "qc"),
];

/// Where the daemon reads mail.
pub enum Inbound {
    /// The RA mailbox [`RA_ADDRESS`] on an IMAP server on loopback, no TLS.
    Imap { port: u16, password_file: PathBuf },
    /// A Maildir (its `new/`, `cur/`, `tmp/` and the `.Processed`, … folders).
    Maildir(PathBuf),
}

/// Where the daemon sends mail.
pub enum Outbound {
    /// An SMTP server on loopback, no TLS.
    Smtp { port: u16 },
    /// A Maildir the emails are written into.
    Maildir(PathBuf),
}

/// The configuration table: `inbound`, `outbound`, web on `127.0.0.1:<web_port>` (also the
/// `base_url`), the store at `store`, the test's developer and staff.
pub fn config(inbound: Inbound, outbound: Outbound, web_port: u16, store: &Path) -> toml::Table {
    let mailbox = match inbound {
        Inbound::Imap {
            port,
            password_file,
        } => format!(
            r#"kind = "imap"
host = "127.0.0.1"
port = {port}
tls = "none"
username = "{RA_ADDRESS}"
password_file = "{}"
inbox = "INBOX"
processed = "Processed"
rejected = "Rejected"
quarantine = "Quarantine""#,
            password_file.display()
        ),
        Inbound::Maildir(path) => format!("kind = \"maildir\"\npath = \"{}\"", path.display()),
    };
    let transport = match outbound {
        Outbound::Smtp { port } => {
            format!("kind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"")
        }
        Outbound::Maildir(path) => format!("kind = \"maildir\"\npath = \"{}\"", path.display()),
    };
    let staff: String = STAFF
        .iter()
        .map(|(name, address, role)| {
            format!(
                "\n[[staff]]\nname = \"{name}\"\naddress = \"{address}\"\nroles = [\"{role}\"]\n"
            )
        })
        .collect();
    let text = format!(
        r#"
[mailbox]
{mailbox}

[outbound]
{transport}
from_ra = "POS Digicert RA <{RA_ADDRESS}>"
from_hims = "HIMS eSPA <{HIMS_ADDRESS}>"

[web]
listen = "127.0.0.1:{web_port}"
base_url = "http://127.0.0.1:{web_port}"

[store]
path = "{store}"

[security]
require_authenticated_sender = false
authserv_id = "mx.ra.example.my"

[[developer]]
company = "{DEVELOPER_COMPANY}"
addresses = ["{DEVELOPER}"]
{staff}"#,
        store = store.display(),
    );
    text.parse().expect("the test config is valid TOML")
}

/// Writes `config` to `path` as TOML.
pub fn write_config(path: &Path, config: &toml::Table) {
    let text = toml::to_string(config).expect("serialise the config");
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Reads the TOML file at `path`, lets `edit` change it and writes it back.
pub fn edit_config(path: &Path, edit: impl FnOnce(&mut toml::Table)) {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut config: toml::Table = text.parse().expect("the config is TOML");
    edit(&mut config);
    write_config(path, &config);
}

/// Sets `[limits]` of `config`: the most MiB per attachment and per message.
pub fn set_limits(config: &mut toml::Table, attachment_mib: i64, message_mib: i64) {
    let mut limits = toml::Table::new();
    limits.insert("attachment_max_mib".into(), attachment_mib.into());
    limits.insert("message_max_mib".into(), message_mib.into());
    config.insert("limits".into(), limits.into());
}
