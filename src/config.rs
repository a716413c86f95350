//! Configuration: the operator's TOML file (or the embedded default) turned
//! into a validated [`Config`].
//!
//! Two layers, after ripgrep's low-level/high-level arguments: a raw layer
//! that serde fills straight from TOML (every field optional, unknown keys
//! refused), then a validation step that builds the rich `Config` the rest of
//! the daemon uses. Validation never stops at the first mistake, because
//! `sijil check-config` must explain every one, each named by its key path
//! (`web.listen`, `staff[2].roles`; `[[developer]]` and `[[staff]]` entries
//! count from 1, as an operator reads the file).
//!
//! Relative paths are kept as written, so they resolve against the daemon's
//! working directory (the embedded default's `var/...` relies on this).
//! Secrets never sit in the file: they come from `password_file`,
//! `password_env`, or the `SIJIL_IMAP_PASSWORD` / `SIJIL_SMTP_PASSWORD`
//! environment variables, and are read when the configuration is loaded.
//!
//! This file holds the validated types and the raw layer; the checks are in
//! `config/validate.rs`, the tests in `config/tests.rs`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::address;

#[cfg(test)]
mod tests;
mod validate;

use validate::{is_loopback_host, is_phrase_char, unescape_quoted, validate};

/// Environment variable holding the IMAP password when neither
/// `mailbox.password_file` nor `mailbox.password_env` is given.
pub const IMAP_PASSWORD_ENV: &str = "SIJIL_IMAP_PASSWORD";
/// Environment variable holding the SMTP password when neither
/// `outbound.password_file` nor `outbound.password_env` is given.
pub const SMTP_PASSWORD_ENV: &str = "SIJIL_SMTP_PASSWORD";

const DEFAULT_POLL_SECONDS: i64 = 30;
const DEFAULT_PIN_LINK_HOURS: i64 = 72;
const DEFAULT_SIGN_LINK_DAYS: i64 = 7;
const DEFAULT_PURGE_AFTER_DAYS: i64 = 90;
const DEFAULT_REPLY_RATE_PER_HOUR: i64 = 30;
const DEFAULT_ATTACHMENT_MAX_MIB: i64 = 10;
const DEFAULT_MESSAGE_MAX_MIB: i64 = 25;
const DEFAULT_REFERENCE_PREFIX: &str = "SJL";
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const MIB: u64 = 1024 * 1024;

// ---------------------------------------------------------------------------
// The validated configuration.

/// The whole validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub mailbox: MailboxConfig,
    pub outbound: Outbound,
    pub web: WebConfig,
    pub store: StoreConfig,
    pub security: SecurityConfig,
    pub developers: Vec<Developer>,
    pub staff: Vec<Staff>,
    pub limits: LimitsConfig,
    pub case: CaseConfig,
    /// The file it came from; `None` for the embedded default.
    pub source: Option<PathBuf>,
}

/// Where inbound mail is read from.
#[derive(Clone, Debug, PartialEq)]
pub enum MailboxConfig {
    Imap(ImapConfig),
    Maildir(MaildirConfig),
}

impl MailboxConfig {
    /// The folder names, whichever the kind.
    pub fn folders(&self) -> &Folders {
        match self {
            MailboxConfig::Imap(imap) => &imap.folders,
            MailboxConfig::Maildir(maildir) => &maildir.folders,
        }
    }
}

/// Names of the inbox and of the three folders messages are moved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folders {
    pub inbox: String,
    pub processed: String,
    pub rejected: String,
    pub quarantine: String,
}

impl Default for Folders {
    fn default() -> Self {
        Folders {
            inbox: "INBOX".into(),
            processed: "Processed".into(),
            rejected: "Rejected".into(),
            quarantine: "Quarantine".into(),
        }
    }
}

/// An IMAP mailbox (production).
#[derive(Clone, Debug, PartialEq)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub password: Secret,
    pub folders: Folders,
    /// Poll period when the server lacks IDLE (key `poll_seconds`).
    pub poll_interval: Duration,
    /// An extra CA certificate (PEM) for a server with a private CA.
    pub tls_ca_file: Option<PathBuf>,
}

/// A Maildir (the embedded default): `path/new` is the inbox, the folders
/// are Maildir++ subfolders beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct MaildirConfig {
    pub path: PathBuf,
    pub folders: Folders,
}

/// How a connection to a mail server is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Tls,
    /// Plain connection upgraded with STARTTLS (IMAP 143, submission 587).
    StartTls,
    /// No encryption: only accepted for a loopback host.
    None,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Tls => "tls",
            TlsMode::StartTls => "starttls",
            TlsMode::None => "none",
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TlsMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tls" => Ok(TlsMode::Tls),
            "starttls" => Ok(TlsMode::StartTls),
            "none" => Ok(TlsMode::None),
            other => Err(format!(
                "unknown TLS mode {other:?}: expected \"tls\", \"starttls\" or \"none\""
            )),
        }
    }
}

/// Outgoing mail: the transport and the two sender addresses.
#[derive(Clone, Debug, PartialEq)]
pub struct Outbound {
    pub transport: OutboundConfig,
    /// Sender of the RA's emails (ACK, EMEL 1–3, staff mail, ...).
    pub from_ra: Address,
    /// Sender of EMEL 0 and 4, CODE and COMPLETED.
    pub from_hims: Address,
}

/// Where outgoing mail is delivered.
#[derive(Clone, Debug, PartialEq)]
pub enum OutboundConfig {
    Smtp(SmtpConfig),
    /// Each message written as a file into this Maildir (its `new/`).
    Maildir {
        path: PathBuf,
    },
}

/// An SMTP relay or submission server.
#[derive(Clone, Debug, PartialEq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// `None`: no authentication (a loopback relay).
    pub username: Option<String>,
    /// Present exactly when `username` is.
    pub password: Option<Secret>,
    pub tls_ca_file: Option<PathBuf>,
}

/// A mailbox address with an optional display name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub name: Option<String>,
    pub email: String,
}

impl Address {
    /// Parses `Display Name <local@domain>`, `"Quoted, Name" <local@domain>`
    /// or a bare `local@domain`.
    pub fn parse(text: &str) -> Result<Address, String> {
        let text = text.trim();
        let (name, email) = match (text.rfind('<'), text.strip_suffix('>')) {
            (Some(open), Some(without_close)) => {
                let name = text[..open].trim();
                let name = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
                    Some(quoted) => unescape_quoted(quoted),
                    None => name.to_owned(),
                };
                (name, without_close[open + 1..].trim())
            }
            _ => (String::new(), text),
        };
        if !address::is_valid(email) {
            return Err(format!(
                "{text:?} is not an address: expected \"Name <local@domain>\" or \"local@domain\""
            ));
        }
        Ok(Address {
            name: (!name.is_empty()).then_some(name),
            email: email.to_owned(),
        })
    }
}

impl FromStr for Address {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Address::parse(s)
    }
}

/// The RFC 5322 form: `Name <email>`, the name quoted when it holds a
/// special character. Non-ASCII names are left for the mail builder to encode.
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            None => f.write_str(&self.email),
            Some(name) if name.chars().all(is_phrase_char) => {
                write!(f, "{name} <{}>", self.email)
            }
            Some(name) => {
                let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
                write!(f, "\"{escaped}\" <{}>", self.email)
            }
        }
    }
}

/// The link web server.
#[derive(Clone, Debug, PartialEq)]
pub struct WebConfig {
    pub listen: SocketAddr,
    /// Public base of the links, `http(s)://host[/prefix]`, no trailing slash.
    pub base_url: String,
    /// Validity of a set-PIN link (key `pin_link_hours`).
    pub pin_link_ttl: Duration,
    /// Validity of a signing link (key `sign_link_days`).
    pub sign_link_ttl: Duration,
}

/// The sled database and the documents (ID copies) stored beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreConfig {
    pub path: PathBuf,
    /// Key `documents_path`; default `<path>.documents`.
    pub documents: PathBuf,
    /// Documents of a finished case are purged this long after it ends.
    pub purge_after_days: u32,
}

/// Sender authentication and reply throttling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityConfig {
    /// Accept staff and developer mail only with a passing DMARC/DKIM/SPF
    /// verdict in an `Authentication-Results` header from `authserv_id`.
    pub require_authenticated_sender: bool,
    /// The receiving server's authserv-id; required by the above.
    pub authserv_id: Option<String>,
    /// At most this many replies to one sender per hour.
    pub reply_rate_per_hour: u32,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            require_authenticated_sender: false,
            authserv_id: None,
            reply_rate_per_hour: DEFAULT_REPLY_RATE_PER_HOUR as u32,
        }
    }
}

/// A housing developer allowed to send application packs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Developer {
    pub company: String,
    /// Lowercased sender addresses.
    pub addresses: Vec<String>,
    /// Lowercased domain: every address of it belongs to this developer.
    pub domain: Option<String>,
}

/// A member of the RA's staff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Staff {
    pub name: String,
    /// Lowercased.
    pub address: String,
    pub roles: Vec<StaffRole>,
}

impl Staff {
    pub fn has(&self, role: StaffRole) -> bool {
        self.roles.contains(&role)
    }
}

/// What a staff member may do.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum StaffRole {
    /// Verification Specialist: calls the signee, verifies the application.
    Verifier,
    /// Registration Officer: generates the certificate.
    Officer,
    /// QC Officer: checks the issued certificate.
    Qc,
    Admin,
}

impl StaffRole {
    pub const ALL: [StaffRole; 4] = [
        StaffRole::Verifier,
        StaffRole::Officer,
        StaffRole::Qc,
        StaffRole::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Verifier => "verifier",
            StaffRole::Officer => "officer",
            StaffRole::Qc => "qc",
            StaffRole::Admin => "admin",
        }
    }

    /// The job title, for emails.
    pub fn title(self) -> &'static str {
        match self {
            StaffRole::Verifier => "Verification Specialist",
            StaffRole::Officer => "Registration Officer",
            StaffRole::Qc => "QC Officer",
            StaffRole::Admin => "Administrator",
        }
    }
}

impl fmt::Display for StaffRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StaffRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        StaffRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?}: expected \"verifier\", \"officer\", \"qc\" or \"admin\""
                )
            })
    }
}

/// Size limits on inbound mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Key `attachment_max_mib`.
    pub attachment_max_bytes: u64,
    /// Key `message_max_mib`.
    pub message_max_bytes: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            attachment_max_bytes: DEFAULT_ATTACHMENT_MAX_MIB as u64 * MIB,
            message_max_bytes: DEFAULT_MESSAGE_MAX_MIB as u64 * MIB,
        }
    }
}

/// Case references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseConfig {
    /// `SJL` in `[SJL-2026-000123]`: 2–6 uppercase letters.
    pub reference_prefix: String,
}

impl Default for CaseConfig {
    fn default() -> Self {
        CaseConfig {
            reference_prefix: DEFAULT_REFERENCE_PREFIX.into(),
        }
    }
}

/// A password: never printed, by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// One mistake in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Key path such as `web.listen` or `staff[2].roles`; empty when the
    /// mistake is about the file as a whole (unreadable, TOML syntax).
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every mistake found, in the order of the sections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// Whether some mistake is about exactly this key.
    pub fn mentions(&self, key: &str) -> bool {
        self.0.iter().any(|e| e.key == key)
    }
}

/// One line per mistake, `key: message`.
impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// The configuration used without a file: Maildir in (`var/mail`),
    /// Maildir out (`var/outbox`), store in `var/`, links on
    /// `http://127.0.0.1:8080`, one example developer and one example staff
    /// member per role so a sample pack runs end to end.
    /// `config/embedded-default.toml` is the same, written out.
    pub fn embedded_default() -> Config {
        let staff = |name: &str, address: &str, role: StaffRole| Staff {
            name: name.into(),
            address: address.into(),
            roles: vec![role],
        };
        Config {
            mailbox: MailboxConfig::Maildir(MaildirConfig {
                path: "var/mail".into(),
                folders: Folders::default(),
            }),
            outbound: Outbound {
                transport: OutboundConfig::Maildir {
                    path: "var/outbox".into(),
                },
                from_ra: Address {
                    name: Some("POS Digicert RA".into()),
                    email: "kpkt.retail@ra.example.my".into(),
                },
                from_hims: Address {
                    name: Some("HIMS eSPA".into()),
                    email: "noreply@hims.example.my".into(),
                },
            },
            web: WebConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
                base_url: "http://127.0.0.1:8080".into(),
                pin_link_ttl: hours(DEFAULT_PIN_LINK_HOURS),
                sign_link_ttl: hours(DEFAULT_SIGN_LINK_DAYS * 24),
            },
            store: StoreConfig {
                path: "var/sijil.db".into(),
                documents: "var/sijil.db.documents".into(),
                purge_after_days: DEFAULT_PURGE_AFTER_DAYS as u32,
            },
            security: SecurityConfig::default(),
            developers: vec![Developer {
                company: "Contoh Pemaju Sdn Bhd".into(),
                addresses: vec!["pemaju@example.my".into()],
                domain: None,
            }],
            staff: vec![
                staff("Aina", "aina@ra.example.my", StaffRole::Verifier),
                staff("Badrul", "badrul@ra.example.my", StaffRole::Officer),
                staff("Chong", "chong@ra.example.my", StaffRole::Qc),
                staff("Dewi", "dewi@ra.example.my", StaffRole::Admin),
            ],
            limits: LimitsConfig::default(),
            case: CaseConfig::default(),
            source: None,
        }
    }

    /// Parses and validates a configuration file's text, reading the secrets
    /// it points at. `source` is recorded in [`Config::source`] and used in
    /// no other way (relative paths resolve against the working directory).
    pub fn from_toml(text: &str, source: Option<&Path>) -> Result<Config, ConfigErrors> {
        parse(text, source, &|name| std::env::var(name).ok())
    }

    /// Loads the file at `path`, or the embedded default when `None`.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigErrors> {
        let Some(path) = path else {
            return Ok(Config::embedded_default());
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Config::from_toml(&text, Some(path)),
            Err(e) => Err(ConfigErrors(vec![ConfigError {
                key: String::new(),
                message: format!("cannot read the configuration file {}: {e}", path.display()),
            }])),
        }
    }

    /// The developer an address belongs to (case-insensitive): listed
    /// addresses first, then a whole domain.
    pub fn developer_for(&self, addr: &str) -> Option<&Developer> {
        let addr = address::bare(addr);
        self.developers
            .iter()
            .find(|d| d.addresses.contains(&addr))
            .or_else(|| {
                let domain = addr.rsplit_once('@')?.1;
                self.developers
                    .iter()
                    .find(|d| d.domain.as_deref() == Some(domain))
            })
    }

    /// The staff member with this address (case-insensitive).
    pub fn staff_for(&self, addr: &str) -> Option<&Staff> {
        let addr = address::bare(addr);
        self.staff.iter().find(|s| s.address == addr)
    }

    /// Every staff member holding `role`.
    pub fn staff_with(&self, role: StaffRole) -> impl Iterator<Item = &Staff> {
        self.staff.iter().filter(move |s| s.has(role))
    }

    /// Things that are allowed but probably not meant; `check-config` prints
    /// them without failing.
    pub fn warnings(&self) -> Vec<ConfigError> {
        let mut warnings = Vec::new();
        let mut warn = |key: &str, message: String| {
            warnings.push(ConfigError {
                key: key.into(),
                message,
            })
        };
        for (role, stalls) in [
            (
                StaffRole::Officer,
                "verified cases will wait for certificate generation",
            ),
            (StaffRole::Qc, "generated certificates will wait for QC"),
        ] {
            if self.staff_with(role).next().is_none() {
                warn(
                    "staff",
                    format!("no staff with role \"{role}\": {stalls} with nobody told"),
                );
            }
        }
        if self.staff_with(StaffRole::Admin).next().is_none() {
            warn(
                "staff",
                "no staff with role \"admin\": nobody can use the admin commands".into(),
            );
        }
        if let Some(rest) = self.web.base_url.strip_prefix("http://") {
            let authority = rest.split('/').next().unwrap_or_default();
            // `[::1]:8080` keeps its brackets; `host:8080` loses the port.
            let host = match authority.find(']') {
                Some(close) => &authority[..=close],
                None => authority.split(':').next().unwrap_or_default(),
            };
            if !is_loopback_host(host) {
                warn(
                    "web.base_url",
                    "plain http:// links carry PIN and signing tokens: use https://".into(),
                );
            }
        }
        if matches!(self.mailbox, MailboxConfig::Imap(_))
            && !self.security.require_authenticated_sender
        {
            warn(
                "security.require_authenticated_sender",
                "false: staff commands and packs are trusted on the From: header alone".into(),
            );
        }
        warnings
    }
}

fn hours(n: i64) -> Duration {
    Duration::from_secs(n.unsigned_abs() * 3600)
}

// ---------------------------------------------------------------------------
// The raw layer: what serde reads from the TOML, unchecked.

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMailbox {
    kind: Option<String>,
    path: Option<PathBuf>,
    host: Option<String>,
    port: Option<i64>,
    tls: Option<String>,
    username: Option<String>,
    /// Only so that a plain password gets a helpful refusal.
    password: Option<toml::Value>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    poll_seconds: Option<i64>,
    tls_ca_file: Option<PathBuf>,
    inbox: Option<String>,
    processed: Option<String>,
    rejected: Option<String>,
    quarantine: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbound {
    kind: Option<String>,
    path: Option<PathBuf>,
    host: Option<String>,
    port: Option<i64>,
    tls: Option<String>,
    username: Option<String>,
    password: Option<toml::Value>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    tls_ca_file: Option<PathBuf>,
    from_ra: Option<String>,
    from_hims: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeb {
    listen: Option<String>,
    base_url: Option<String>,
    pin_link_hours: Option<i64>,
    sign_link_days: Option<i64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<PathBuf>,
    documents_path: Option<PathBuf>,
    purge_after_days: Option<i64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecurity {
    require_authenticated_sender: Option<bool>,
    authserv_id: Option<String>,
    reply_rate_per_hour: Option<i64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    attachment_max_mib: Option<i64>,
    message_max_mib: Option<i64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    reference_prefix: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeveloper {
    company: Option<String>,
    addresses: Option<Vec<String>>,
    domain: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStaff {
    name: Option<String>,
    address: Option<String>,
    roles: Option<Vec<String>>,
}

/// The whole file, section by section. Assembled by hand rather than by
/// serde so that a mistake in one section does not hide the others.
#[derive(Default)]
struct RawConfig {
    mailbox: Option<RawMailbox>,
    outbound: Option<RawOutbound>,
    web: Option<RawWeb>,
    store: Option<RawStore>,
    security: Option<RawSecurity>,
    limits: Option<RawLimits>,
    case: Option<RawCase>,
    /// One slot per `[[developer]]`, `None` where the entry was unusable,
    /// so the indices in key paths stay those of the file.
    developer: Option<Vec<Option<RawDeveloper>>>,
    staff: Option<Vec<Option<RawStaff>>>,
}

const SECTIONS: [&str; 9] = [
    "mailbox",
    "outbound",
    "web",
    "store",
    "security",
    "limits",
    "case",
    "developer",
    "staff",
];

/// Marker: the mistake has been recorded in [`Ctx::errors`].
struct Reported;

type Checked<T> = Result<T, Reported>;

/// What validation carries along: the mistakes so far and the environment.
struct Ctx<'a> {
    errors: Vec<ConfigError>,
    /// Keys whose value the raw layer already refused, so that validation
    /// does not add a second "missing" mistake for them.
    refused: HashSet<String>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Ctx<'_> {
    fn error(&mut self, key: impl Into<String>, message: impl Into<String>) -> Reported {
        self.errors.push(ConfigError {
            key: key.into(),
            message: message.into(),
        });
        Reported
    }

    fn missing(&mut self, key: &str, hint: &str) -> Reported {
        if !self.refused.contains(key) {
            self.error(key, format!("missing: {hint}"));
        }
        Reported
    }
}

fn parse(
    text: &str,
    source: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let table = match toml::from_str::<toml::Table>(text) {
        Ok(table) => table,
        Err(e) => return Err(ConfigErrors(vec![syntax_error(text, &e)])),
    };
    let mut ctx = Ctx {
        errors: Vec::new(),
        refused: HashSet::new(),
        env,
    };
    let raw = read_raw(table, &mut ctx);
    let config = validate(raw, source, &mut ctx);
    match config {
        Ok(config) if ctx.errors.is_empty() => Ok(config),
        _ => {
            // The raw layer reports before validation does: put each
            // mistake back with its section, in the order of the file's
            // usual layout (stable, so a section's own order is kept).
            ctx.errors.sort_by_key(|e| section_rank(&e.key));
            Err(ConfigErrors(ctx.errors))
        }
    }
}

fn section_rank(key: &str) -> usize {
    let section = key.split(['.', '[']).next().unwrap_or_default();
    SECTIONS
        .iter()
        .position(|s| *s == section)
        .unwrap_or(SECTIONS.len())
}

fn syntax_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let message = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let message = match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("TOML syntax error at line {line}, column {column}: {message}")
        }
        None => format!("TOML syntax error: {message}"),
    };
    ConfigError {
        key: String::new(),
        message,
    }
}

fn read_raw(table: toml::Table, ctx: &mut Ctx) -> RawConfig {
    let mut raw = RawConfig::default();
    for (key, value) in table {
        match key.as_str() {
            "mailbox" => raw.mailbox = raw_section(value, &key, ctx),
            "outbound" => raw.outbound = raw_section(value, &key, ctx),
            "web" => raw.web = raw_section(value, &key, ctx),
            "store" => raw.store = raw_section(value, &key, ctx),
            "security" => raw.security = raw_section(value, &key, ctx),
            "limits" => raw.limits = raw_section(value, &key, ctx),
            "case" => raw.case = raw_section(value, &key, ctx),
            "developer" => raw.developer = raw_entries(value, &key, ctx),
            "staff" => raw.staff = raw_entries(value, &key, ctx),
            other => {
                let hint = SECTIONS
                    .iter()
                    .find(|s| other.trim_end_matches('s') == **s)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                ctx.error(
                    other,
                    format!(
                        "unknown section{hint}; the sections are {}",
                        SECTIONS.map(|s| format!("`{s}`")).join(", ")
                    ),
                );
            }
        }
    }
    raw
}

/// Reads one `[section]` with serde. When serde refuses it, each key is
/// tried alone to name every bad one, and the section is read again without
/// them so the good keys are still validated.
fn raw_section<T: DeserializeOwned>(value: toml::Value, key: &str, ctx: &mut Ctx) -> Option<T> {
    let table = match value {
        toml::Value::Table(table) => table,
        other => {
            ctx.refused.insert(key.to_owned());
            ctx.error(
                key,
                format!("must be a table ([{key}]), not a {}", other.type_str()),
            );
            return None;
        }
    };
    if let Ok(raw) = toml::Value::Table(table.clone()).try_into::<T>() {
        return Some(raw);
    }
    let mut accepted = toml::Table::new();
    for (name, value) in table {
        let mut alone = toml::Table::new();
        alone.insert(name.clone(), value.clone());
        match toml::Value::Table(alone).try_into::<T>() {
            Ok(_) => {
                accepted.insert(name, value);
            }
            Err(e) => {
                let full = format!("{key}.{name}");
                ctx.error(&full, serde_message(e.message(), &name));
                ctx.refused.insert(full);
            }
        }
    }
    match toml::Value::Table(accepted).try_into::<T>() {
        Ok(raw) => Some(raw),
        Err(e) => {
            ctx.refused.insert(key.to_owned());
            ctx.error(key, serde_message(e.message(), ""));
            None
        }
    }
}

/// Reads an array of tables (`[[developer]]`), keeping one slot per entry.
fn raw_entries<T: DeserializeOwned>(
    value: toml::Value,
    key: &str,
    ctx: &mut Ctx,
) -> Option<Vec<Option<T>>> {
    match value {
        toml::Value::Array(items) => Some(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| raw_section(item, &format!("{key}[{}]", i + 1), ctx))
                .collect(),
        ),
        other => {
            ctx.refused.insert(key.to_owned());
            ctx.error(
                key,
                format!(
                    "must be an array of tables (write [[{key}]] for each entry), not a {}",
                    other.type_str()
                ),
            );
            None
        }
    }
}

/// serde's wording, in the operator's terms.
fn serde_message(message: &str, name: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix(&format!("unknown field `{name}`")) {
        let rest = rest.trim_start_matches(',').trim();
        return if rest.is_empty() {
            "unknown key".into()
        } else {
            format!("unknown key; {rest}")
        };
    }
    message
        .replace("expected i64", "expected an integer")
        .replace("expected a sequence", "expected an array")
        .replace("expected a boolean", "expected true or false")
}
