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

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

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
        if !is_email(email) {
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
    pub roles: Vec<Role>,
}

impl Staff {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// What a staff member may do.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Verification Specialist: calls the signee, verifies the application.
    Verifier,
    /// Registration Officer: generates the certificate.
    Officer,
    /// QC Officer: checks the issued certificate.
    Qc,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Verifier, Role::Officer, Role::Qc, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Verifier => "verifier",
            Role::Officer => "officer",
            Role::Qc => "qc",
            Role::Admin => "admin",
        }
    }

    /// The job title, for emails.
    pub fn title(self) -> &'static str {
        match self {
            Role::Verifier => "Verification Specialist",
            Role::Officer => "Registration Officer",
            Role::Qc => "QC Officer",
            Role::Admin => "Administrator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
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
        let staff = |name: &str, address: &str, role: Role| Staff {
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
                staff("Aina", "aina@ra.example.my", Role::Verifier),
                staff("Badrul", "badrul@ra.example.my", Role::Officer),
                staff("Chong", "chong@ra.example.my", Role::Qc),
                staff("Dewi", "dewi@ra.example.my", Role::Admin),
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
        let addr = bare_address(addr);
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
        let addr = bare_address(addr);
        self.staff.iter().find(|s| s.address == addr)
    }

    /// Every staff member holding `role`.
    pub fn staff_with(&self, role: Role) -> impl Iterator<Item = &Staff> {
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
                Role::Officer,
                "verified cases will wait for certificate generation",
            ),
            (Role::Qc, "generated certificates will wait for QC"),
        ] {
            if self.staff_with(role).next().is_none() {
                warn(
                    "staff",
                    format!("no staff with role \"{role}\": {stalls} with nobody told"),
                );
            }
        }
        if self.staff_with(Role::Admin).next().is_none() {
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

/// `Name <a@b>` or `<a@b>` or `a@b`, trimmed and lowercased, as `a@b`.
fn bare_address(addr: &str) -> String {
    let addr = addr.trim();
    let inner = match (addr.rfind('<'), addr.strip_suffix('>')) {
        (Some(open), Some(without_close)) => &without_close[open + 1..],
        _ => addr,
    };
    inner.trim().to_lowercase()
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

// ---------------------------------------------------------------------------
// Validation: raw → Config, every mistake recorded.

fn validate(raw: RawConfig, source: Option<&Path>, ctx: &mut Ctx) -> Checked<Config> {
    let mailbox = check_mailbox(raw.mailbox, ctx);
    let outbound = check_outbound(raw.outbound, ctx);
    let web = check_web(raw.web, ctx);
    let store = check_store(raw.store, ctx);
    let security = check_security(raw.security.unwrap_or_default(), ctx);
    let limits = check_limits(raw.limits.unwrap_or_default(), ctx);
    let case = check_case(raw.case.unwrap_or_default(), ctx);
    let developers = check_developers(raw.developer, ctx);
    let staff = check_staff(raw.staff, ctx);
    cross_check(&developers, &staff, outbound.as_ref().ok(), ctx);
    Ok(Config {
        mailbox: mailbox?,
        outbound: outbound?,
        web: web?,
        store: store?,
        security: security?,
        developers: developers.complete()?,
        staff: staff.complete()?,
        limits: limits?,
        case: case?,
        source: source.map(Path::to_path_buf),
    })
}

/// Entries of an array section that passed, with their 1-based index, and
/// whether all did.
struct Entries<T> {
    valid: Vec<(usize, T)>,
    all_valid: bool,
}

impl<T> Entries<T> {
    fn complete(self) -> Checked<Vec<T>> {
        if self.all_valid {
            Ok(self.valid.into_iter().map(|(_, t)| t).collect())
        } else {
            Err(Reported)
        }
    }
}

fn check_mailbox(raw: Option<RawMailbox>, ctx: &mut Ctx) -> Checked<MailboxConfig> {
    let Some(raw) = raw else {
        return Err(ctx.missing(
            "mailbox",
            "a [mailbox] section with kind = \"imap\" or \"maildir\"",
        ));
    };
    refuse_plain_password(
        raw.password.is_some(),
        "mailbox",
        "imap.pass",
        IMAP_PASSWORD_ENV,
        ctx,
    );
    let maildir = raw.kind.as_deref() == Some("maildir");
    let folders = check_folders(&raw, maildir, ctx);
    match raw.kind.as_deref() {
        Some("imap") => {
            let host = check_host(raw.host.as_deref(), "mailbox.host", ctx);
            let tls = check_tls(raw.tls.as_deref(), TlsMode::Tls, "mailbox.tls", ctx);
            if let (Ok(host), Ok(TlsMode::None)) = (&host, &tls)
                && !is_loopback_host(host)
            {
                ctx.error("mailbox.tls", not_loopback(host, "the IMAP password"));
            }
            let default_port = if matches!(tls, Ok(TlsMode::Tls)) {
                993
            } else {
                143
            };
            let port = check_port(raw.port, default_port, "mailbox.port", ctx);
            let username = required_text(raw.username, "mailbox.username", "the IMAP login", ctx);
            let password = read_secret(
                raw.password_file.as_deref(),
                raw.password_env.as_deref(),
                Some(IMAP_PASSWORD_ENV),
                "mailbox",
                ctx,
            )
            .and_then(|password| {
                password.ok_or_else(|| {
                    ctx.missing(
                        "mailbox.password_file",
                        &format!(
                            "IMAP needs a password: set password_file or password_env, \
                             or the environment variable {IMAP_PASSWORD_ENV}"
                        ),
                    )
                })
            });
            let poll = int_in(
                raw.poll_seconds,
                DEFAULT_POLL_SECONDS,
                1,
                3600,
                "mailbox.poll_seconds",
                ctx,
            );
            let ca = check_ca_file(raw.tls_ca_file, "mailbox.tls_ca_file", ctx);
            Ok(MailboxConfig::Imap(ImapConfig {
                host: host?,
                port: port?,
                tls: tls?,
                username: username?,
                password: password?,
                folders: folders?,
                poll_interval: Duration::from_secs(poll?.unsigned_abs()),
                tls_ca_file: ca?,
            }))
        }
        Some("maildir") => {
            let path = required_path(
                raw.path,
                "mailbox.path",
                "the Maildir directory, e.g. \"var/mail\"",
                ctx,
            );
            refuse_keys(
                &[
                    ("host", raw.host.is_some()),
                    ("port", raw.port.is_some()),
                    ("tls", raw.tls.is_some()),
                    ("username", raw.username.is_some()),
                    ("password_file", raw.password_file.is_some()),
                    ("password_env", raw.password_env.is_some()),
                    ("poll_seconds", raw.poll_seconds.is_some()),
                    ("tls_ca_file", raw.tls_ca_file.is_some()),
                    ("inbox", raw.inbox.is_some()),
                ],
                "mailbox",
                "maildir",
                "imap",
                ctx,
            );
            Ok(MailboxConfig::Maildir(MaildirConfig {
                path: path?,
                folders: folders?,
            }))
        }
        Some(other) => Err(ctx.error(
            "mailbox.kind",
            format!("unknown kind {other:?}: expected \"imap\" or \"maildir\""),
        )),
        None => Err(ctx.missing("mailbox.kind", "\"imap\" or \"maildir\"")),
    }
}

fn check_folders(raw: &RawMailbox, maildir: bool, ctx: &mut Ctx) -> Checked<Folders> {
    let defaults = Folders::default();
    let mut ok = true;
    let mut seen: HashMap<String, &str> = HashMap::new();
    let mut folder = |value: &Option<String>, name: &'static str, default: String| {
        let key = format!("mailbox.{name}");
        let value = value.clone().unwrap_or(default);
        if value.trim().is_empty() {
            ctx.error(&key, "must not be empty");
            ok = false;
        } else if value.trim() != value {
            ctx.error(&key, format!("{value:?} has leading or trailing spaces"));
            ok = false;
        } else if maildir
            && (value.contains(['/', '\\'])
                || value.starts_with('.')
                || ["new", "cur", "tmp"].contains(&value.as_str()))
        {
            ctx.error(
                &key,
                format!(
                    "{value:?} cannot be a Maildir folder name: no '/', no leading '.', \
                     not new/cur/tmp"
                ),
            );
            ok = false;
        } else if let Some(other) = seen.insert(value.to_lowercase(), name) {
            ctx.error(
                &key,
                format!("{value:?} is also the {other} folder: the four folders must differ"),
            );
            ok = false;
        }
        value
    };
    let folders = Folders {
        inbox: folder(&raw.inbox, "inbox", defaults.inbox),
        processed: folder(&raw.processed, "processed", defaults.processed),
        rejected: folder(&raw.rejected, "rejected", defaults.rejected),
        quarantine: folder(&raw.quarantine, "quarantine", defaults.quarantine),
    };
    if ok { Ok(folders) } else { Err(Reported) }
}

fn check_outbound(raw: Option<RawOutbound>, ctx: &mut Ctx) -> Checked<Outbound> {
    let Some(raw) = raw else {
        return Err(ctx.missing(
            "outbound",
            "an [outbound] section with kind = \"smtp\" or \"maildir\", from_ra and from_hims",
        ));
    };
    refuse_plain_password(
        raw.password.is_some(),
        "outbound",
        "smtp.pass",
        SMTP_PASSWORD_ENV,
        ctx,
    );
    let from_ra = check_address(raw.from_ra.clone(), "outbound.from_ra", ctx);
    let from_hims = check_address(raw.from_hims.clone(), "outbound.from_hims", ctx);
    let transport = match raw.kind.as_deref() {
        Some("smtp") => check_smtp(&raw, ctx).map(OutboundConfig::Smtp),
        Some("maildir") => {
            let path = required_path(
                raw.path.clone(),
                "outbound.path",
                "the Maildir directory, e.g. \"var/outbox\"",
                ctx,
            );
            refuse_keys(
                &[
                    ("host", raw.host.is_some()),
                    ("port", raw.port.is_some()),
                    ("tls", raw.tls.is_some()),
                    ("username", raw.username.is_some()),
                    ("password_file", raw.password_file.is_some()),
                    ("password_env", raw.password_env.is_some()),
                    ("tls_ca_file", raw.tls_ca_file.is_some()),
                ],
                "outbound",
                "maildir",
                "smtp",
                ctx,
            );
            path.map(|path| OutboundConfig::Maildir { path })
        }
        Some(other) => Err(ctx.error(
            "outbound.kind",
            format!("unknown kind {other:?}: expected \"smtp\" or \"maildir\""),
        )),
        None => Err(ctx.missing("outbound.kind", "\"smtp\" or \"maildir\"")),
    };
    Ok(Outbound {
        transport: transport?,
        from_ra: from_ra?,
        from_hims: from_hims?,
    })
}

fn check_smtp(raw: &RawOutbound, ctx: &mut Ctx) -> Checked<SmtpConfig> {
    let host = check_host(raw.host.as_deref(), "outbound.host", ctx);
    let tls = check_tls(raw.tls.as_deref(), TlsMode::StartTls, "outbound.tls", ctx);
    if let (Ok(host), Ok(TlsMode::None)) = (&host, &tls)
        && !is_loopback_host(host)
    {
        ctx.error("outbound.tls", not_loopback(host, "mail and any password"));
    }
    let default_port = match tls {
        Ok(TlsMode::Tls) => 465,
        Ok(TlsMode::None) => 25,
        _ => 587,
    };
    let port = check_port(raw.port, default_port, "outbound.port", ctx);
    let username = match &raw.username {
        Some(name) if name.trim().is_empty() => Err(ctx.error(
            "outbound.username",
            "must not be empty (leave the key out for no authentication)",
        )),
        other => Ok(other.clone()),
    };
    let explicit = raw.password_file.is_some() || raw.password_env.is_some();
    // Without a username there is no login, so the default environment
    // variable is not consulted; an explicit password source is a mistake.
    let password = if raw.username.is_some() || explicit {
        read_secret(
            raw.password_file.as_deref(),
            raw.password_env.as_deref(),
            Some(SMTP_PASSWORD_ENV),
            "outbound",
            ctx,
        )
    } else {
        Ok(None)
    };
    if raw.username.is_none() && explicit {
        ctx.error(
            "outbound.username",
            "missing: a password source is given, so the SMTP login is needed too",
        );
    }
    if raw.username.is_some() && matches!(password, Ok(None)) {
        ctx.missing(
            "outbound.password_file",
            &format!(
                "SMTP username given but no password: set password_file or password_env, \
                 or the environment variable {SMTP_PASSWORD_ENV}"
            ),
        );
    }
    let ca = check_ca_file(raw.tls_ca_file.clone(), "outbound.tls_ca_file", ctx);
    Ok(SmtpConfig {
        host: host?,
        port: port?,
        tls: tls?,
        username: username?,
        password: password?,
        tls_ca_file: ca?,
    })
}

fn check_web(raw: Option<RawWeb>, ctx: &mut Ctx) -> Checked<WebConfig> {
    let Some(raw) = raw else {
        return Err(ctx.missing(
            "web",
            "a [web] section with listen and base_url (the links' public address)",
        ));
    };
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.into());
    let listen = match listen_text.trim().parse::<SocketAddr>() {
        Ok(addr) if addr.port() == 0 => Err(ctx.error(
            "web.listen",
            format!("{listen_text:?}: the port must be 1–65535"),
        )),
        Ok(addr) => Ok(addr),
        Err(_) => Err(ctx.error(
            "web.listen",
            format!(
                "{listen_text:?} is not IP:port with a port 1–65535 \
                 (e.g. \"127.0.0.1:8080\" or \"[::1]:8080\")"
            ),
        )),
    };
    let base_url = match raw.base_url {
        Some(url) => check_base_url(&url, ctx),
        None => Err(ctx.missing(
            "web.base_url",
            "the public address of the links, e.g. \"https://sign.example.my\"",
        )),
    };
    let pin = int_in(
        raw.pin_link_hours,
        DEFAULT_PIN_LINK_HOURS,
        1,
        24 * 30,
        "web.pin_link_hours",
        ctx,
    );
    let sign = int_in(
        raw.sign_link_days,
        DEFAULT_SIGN_LINK_DAYS,
        1,
        90,
        "web.sign_link_days",
        ctx,
    );
    Ok(WebConfig {
        listen: listen?,
        base_url: base_url?,
        pin_link_ttl: hours(pin?),
        sign_link_ttl: hours(sign? * 24),
    })
}

fn check_base_url(url: &str, ctx: &mut Ctx) -> Checked<String> {
    let text = url.trim();
    let Some((scheme, rest)) = ["https://", "http://"]
        .into_iter()
        .find_map(|scheme| Some((scheme, text.strip_prefix(scheme)?)))
    else {
        return Err(ctx.error(
            "web.base_url",
            format!("{url:?} must start with https:// (or http://)"),
        ));
    };
    let rest = rest.trim_end_matches('/');
    let problem = if rest.split('/').next().unwrap_or_default().is_empty() {
        Some("has no host")
    } else if rest.contains(char::is_whitespace) {
        Some("must not contain spaces")
    } else if rest.contains(['?', '#']) {
        Some("must not carry a query or fragment")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ctx.error("web.base_url", format!("{url:?} {problem}"))),
        None => Ok(format!("{scheme}{rest}")),
    }
}

fn check_store(raw: Option<RawStore>, ctx: &mut Ctx) -> Checked<StoreConfig> {
    let Some(raw) = raw else {
        return Err(ctx.missing(
            "store",
            "a [store] section with path, e.g. path = \"var/sijil.db\"",
        ));
    };
    let path = required_path(
        raw.path,
        "store.path",
        "the database directory, e.g. \"var/sijil.db\"",
        ctx,
    );
    let documents = match (raw.documents_path, &path) {
        (Some(documents), _) if documents.as_os_str().is_empty() => {
            Err(ctx.error("store.documents_path", "must not be empty"))
        }
        (Some(documents), Ok(path)) if documents == *path || documents.starts_with(path) => {
            Err(ctx.error(
                "store.documents_path",
                "must be outside the database directory store.path",
            ))
        }
        (Some(documents), _) => Ok(documents),
        (None, Ok(path)) => {
            let mut beside = path.clone().into_os_string();
            beside.push(".documents");
            Ok(PathBuf::from(beside))
        }
        (None, Err(_)) => Err(Reported),
    };
    let purge = int_in(
        raw.purge_after_days,
        DEFAULT_PURGE_AFTER_DAYS,
        1,
        3650,
        "store.purge_after_days",
        ctx,
    );
    Ok(StoreConfig {
        path: path?,
        documents: documents?,
        purge_after_days: purge? as u32,
    })
}

fn check_security(raw: RawSecurity, ctx: &mut Ctx) -> Checked<SecurityConfig> {
    let require = raw.require_authenticated_sender.unwrap_or(false);
    let authserv_id = match raw.authserv_id {
        Some(id) if id.trim().is_empty() || id.contains(char::is_whitespace) => Err(ctx.error(
            "security.authserv_id",
            format!("{id:?} is not an authserv-id (a host name such as \"mx.example.my\")"),
        )),
        Some(id) => Ok(Some(id)),
        None if require => Err(ctx.missing(
            "security.authserv_id",
            "required when require_authenticated_sender = true: the host name your \
             mail server writes in Authentication-Results",
        )),
        None => Ok(None),
    };
    let rate = int_in(
        raw.reply_rate_per_hour,
        DEFAULT_REPLY_RATE_PER_HOUR,
        1,
        10_000,
        "security.reply_rate_per_hour",
        ctx,
    );
    Ok(SecurityConfig {
        require_authenticated_sender: require,
        authserv_id: authserv_id?,
        reply_rate_per_hour: rate? as u32,
    })
}

fn check_limits(raw: RawLimits, ctx: &mut Ctx) -> Checked<LimitsConfig> {
    let attachment = int_in(
        raw.attachment_max_mib,
        DEFAULT_ATTACHMENT_MAX_MIB,
        1,
        1024,
        "limits.attachment_max_mib",
        ctx,
    );
    let message = int_in(
        raw.message_max_mib,
        DEFAULT_MESSAGE_MAX_MIB,
        1,
        1024,
        "limits.message_max_mib",
        ctx,
    );
    let (attachment, message) = (attachment?, message?);
    if attachment > message {
        return Err(ctx.error(
            "limits.attachment_max_mib",
            format!("{attachment} MiB is more than limits.message_max_mib ({message} MiB)"),
        ));
    }
    Ok(LimitsConfig {
        attachment_max_bytes: attachment.unsigned_abs() * MIB,
        message_max_bytes: message.unsigned_abs() * MIB,
    })
}

fn check_case(raw: RawCase, ctx: &mut Ctx) -> Checked<CaseConfig> {
    let prefix = raw
        .reference_prefix
        .unwrap_or_else(|| DEFAULT_REFERENCE_PREFIX.into());
    if (2..=6).contains(&prefix.len()) && prefix.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(CaseConfig {
            reference_prefix: prefix,
        })
    } else {
        Err(ctx.error(
            "case.reference_prefix",
            format!("{prefix:?} must be 2 to 6 uppercase letters A–Z, like \"SJL\""),
        ))
    }
}

fn check_developers(raw: Option<Vec<Option<RawDeveloper>>>, ctx: &mut Ctx) -> Entries<Developer> {
    let mut entries = Entries {
        valid: Vec::new(),
        all_valid: true,
    };
    let raw = match raw {
        Some(raw) => raw,
        None if ctx.refused.contains("developer") => {
            entries.all_valid = false;
            return entries;
        }
        None => Vec::new(),
    };
    if raw.is_empty() {
        ctx.error(
            "developer",
            "no [[developer]]: every application pack would be quarantined; add at least one",
        );
        entries.all_valid = false;
    }
    for (i, dev) in raw.into_iter().enumerate() {
        let n = i + 1;
        let Some(dev) = dev else {
            entries.all_valid = false;
            continue;
        };
        match check_developer(dev, &format!("developer[{n}]"), ctx) {
            Ok(dev) => entries.valid.push((n, dev)),
            Err(Reported) => entries.all_valid = false,
        }
    }
    entries
}

fn check_developer(raw: RawDeveloper, key: &str, ctx: &mut Ctx) -> Checked<Developer> {
    let company = required_text(
        raw.company,
        &format!("{key}.company"),
        "the company name",
        ctx,
    );
    let addresses = check_address_list(raw.addresses, &format!("{key}.addresses"), ctx);
    let domain = match raw.domain {
        Some(domain) => {
            let lower = domain.trim().to_lowercase();
            if let Some(bare) = lower.strip_prefix('@').filter(|d| is_domain(d)) {
                Err(ctx.error(
                    format!("{key}.domain"),
                    format!("write the domain without '@': domain = {bare:?}"),
                ))
            } else if is_domain(&lower) {
                Ok(Some(lower))
            } else {
                Err(ctx.error(
                    format!("{key}.domain"),
                    format!("{domain:?} is not a domain name"),
                ))
            }
        }
        None => Ok(None),
    };
    // Not when a key of this entry was refused: it may be a misspelt
    // `addresses` or `domain`, already reported.
    let section_refused = ctx
        .refused
        .iter()
        .any(|k| k.starts_with(&format!("{key}.")));
    if let (Ok(addresses), Ok(None)) = (&addresses, &domain)
        && addresses.is_empty()
        && !section_refused
    {
        ctx.error(
            key,
            "give the developer's sender addresses = [...] or a whole domain = \"...\"",
        );
        return Err(Reported);
    }
    Ok(Developer {
        company: company?,
        addresses: addresses?,
        domain: domain?,
    })
}

fn check_address_list(raw: Option<Vec<String>>, key: &str, ctx: &mut Ctx) -> Checked<Vec<String>> {
    let mut ok = true;
    let mut out: Vec<String> = Vec::new();
    for address in raw.unwrap_or_default() {
        let lower = bare_address(&address);
        if !is_email(&lower) {
            ctx.error(key, format!("{address:?} is not an email address"));
            ok = false;
        } else if !out.contains(&lower) {
            out.push(lower);
        }
    }
    if ok { Ok(out) } else { Err(Reported) }
}

fn check_staff(raw: Option<Vec<Option<RawStaff>>>, ctx: &mut Ctx) -> Entries<Staff> {
    let mut entries = Entries {
        valid: Vec::new(),
        all_valid: true,
    };
    let raw = match raw {
        Some(raw) => raw,
        None if ctx.refused.contains("staff") => {
            entries.all_valid = false;
            return entries;
        }
        None => Vec::new(),
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, staff) in raw.into_iter().enumerate() {
        let n = i + 1;
        let Some(staff) = staff else {
            entries.all_valid = false;
            continue;
        };
        let key = format!("staff[{n}]");
        let name = required_text(staff.name, &format!("{key}.name"), "the person's name", ctx);
        let address = match staff.address {
            Some(address) => {
                let lower = bare_address(&address);
                if !is_email(&lower) {
                    Err(ctx.error(
                        format!("{key}.address"),
                        format!("{address:?} is not an email address"),
                    ))
                } else if let Some(first) = seen.insert(lower.clone(), n) {
                    Err(ctx.error(
                        format!("{key}.address"),
                        format!("{lower} is already staff[{first}]: give each person one entry with all their roles"),
                    ))
                } else {
                    Ok(lower)
                }
            }
            None => Err(ctx.missing(
                &format!("{key}.address"),
                "the staff member's email address",
            )),
        };
        let roles = check_roles(staff.roles, &format!("{key}.roles"), ctx);
        match (name, address, roles) {
            (Ok(name), Ok(address), Ok(roles)) => entries.valid.push((
                n,
                Staff {
                    name,
                    address,
                    roles,
                },
            )),
            _ => entries.all_valid = false,
        }
    }
    if entries.all_valid && !entries.valid.iter().any(|(_, s)| s.has(Role::Verifier)) {
        ctx.error(
            "staff",
            "no [[staff]] with role \"verifier\": nobody would be told of a new case",
        );
        entries.all_valid = false;
    }
    entries
}

fn check_roles(raw: Option<Vec<String>>, key: &str, ctx: &mut Ctx) -> Checked<Vec<Role>> {
    let Some(raw) = raw else {
        return Err(ctx.missing(
            key,
            "roles = [...] with one or more of \"verifier\", \"officer\", \"qc\", \"admin\"",
        ));
    };
    if raw.is_empty() {
        return Err(ctx.error(
            key,
            "empty: give one or more of \"verifier\", \"officer\", \"qc\", \"admin\"",
        ));
    }
    let mut ok = true;
    let mut roles = Vec::new();
    for text in raw {
        match text.trim().to_lowercase().parse::<Role>() {
            Ok(role) if !roles.contains(&role) => roles.push(role),
            Ok(_) => {}
            Err(_) => {
                ctx.error(
                    key,
                    format!(
                        "unknown role {text:?}: expected \"verifier\", \"officer\", \"qc\" or \"admin\""
                    ),
                );
                ok = false;
            }
        }
    }
    if ok { Ok(roles) } else { Err(Reported) }
}

/// Mistakes that span sections: one address claimed twice, or our own
/// sender address claimed by a person (the daemon would answer itself).
fn cross_check(
    developers: &Entries<Developer>,
    staff: &Entries<Staff>,
    outbound: Option<&Outbound>,
    ctx: &mut Ctx,
) {
    let mut address_owner: HashMap<&str, String> = HashMap::new();
    let mut domain_owner: HashMap<&str, String> = HashMap::new();
    for (n, dev) in &developers.valid {
        let who = format!("developer[{n}] ({})", dev.company);
        for address in &dev.addresses {
            if let Some(first) = address_owner.insert(address, who.clone()) {
                ctx.error(
                    format!("developer[{n}].addresses"),
                    format!("{address} is also listed by {first}"),
                );
            }
        }
        if let Some(domain) = &dev.domain
            && let Some(first) = domain_owner.insert(domain, who.clone())
        {
            ctx.error(
                format!("developer[{n}].domain"),
                format!("{domain} is also the domain of {first}"),
            );
        }
    }
    let developer_of = |address: &str| {
        address_owner.get(address).cloned().or_else(|| {
            let domain = address.rsplit_once('@')?.1;
            domain_owner.get(domain).cloned()
        })
    };
    for (n, person) in &staff.valid {
        if let Some(dev) = developer_of(&person.address) {
            ctx.error(
                format!("staff[{n}].address"),
                format!(
                    "{} also belongs to {dev}: staff commands and developer mail would be confused",
                    person.address
                ),
            );
        }
    }
    let Some(outbound) = outbound else { return };
    for (key, from) in [
        ("outbound.from_ra", &outbound.from_ra),
        ("outbound.from_hims", &outbound.from_hims),
    ] {
        let email = from.email.to_lowercase();
        let owner = developer_of(&email).or_else(|| {
            staff
                .valid
                .iter()
                .find(|(_, s)| s.address == email)
                .map(|(n, s)| format!("staff[{n}] ({})", s.name))
        });
        if let Some(owner) = owner {
            ctx.error(
                key,
                format!("{email} also belongs to {owner}: the daemon would answer its own mail"),
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Small checks shared by the sections.

/// A plain `password` key: refused, and the missing-password mistake it
/// would also cause is not reported a second time.
fn refuse_plain_password(present: bool, section: &str, file: &str, env: &str, ctx: &mut Ctx) {
    if present {
        ctx.error(
            format!("{section}.password"),
            format!(
                "secrets never go in the configuration file: use \
                 password_file = \"/etc/sijil/{file}\" or password_env = \"{env}\""
            ),
        );
        ctx.refused.insert(format!("{section}.password_file"));
    }
}

/// Keys that mean nothing for the chosen `kind`.
fn refuse_keys(keys: &[(&str, bool)], section: &str, kind: &str, other: &str, ctx: &mut Ctx) {
    for (name, present) in keys {
        if *present {
            ctx.error(
                format!("{section}.{name}"),
                format!(
                    "not used with kind = \"{kind}\" (only with kind = \"{other}\"): remove it"
                ),
            );
        }
    }
}

fn required_text(value: Option<String>, key: &str, what: &str, ctx: &mut Ctx) -> Checked<String> {
    match value {
        Some(text) if text.trim().is_empty() => Err(ctx.error(key, "must not be empty")),
        Some(text) => Ok(text.trim().to_owned()),
        None => Err(ctx.missing(key, what)),
    }
}

fn required_path(value: Option<PathBuf>, key: &str, what: &str, ctx: &mut Ctx) -> Checked<PathBuf> {
    match value {
        Some(path) if path.as_os_str().is_empty() => Err(ctx.error(key, "must not be empty")),
        Some(path) => Ok(path),
        None => Err(ctx.missing(key, what)),
    }
}

fn check_host(value: Option<&str>, key: &str, ctx: &mut Ctx) -> Checked<String> {
    let Some(host) = value else {
        return Err(ctx.missing(key, "the server's host name or IP address"));
    };
    let host = host.trim();
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let problem = if host.is_empty() {
        Some("must not be empty")
    } else if host.contains("://") {
        Some("give the host name only, without a scheme such as imap:// or smtp://")
    } else if host.contains(char::is_whitespace) || host.contains(['/', '@']) {
        Some("is not a host name or IP address")
    } else if host.contains(':') && unbracketed.parse::<Ipv6Addr>().is_err() {
        Some("give the port in the `port` key, not in the host")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ctx.error(key, format!("{host:?}: {problem}"))),
        None => Ok(unbracketed.to_owned()),
    }
}

fn check_tls(value: Option<&str>, default: TlsMode, key: &str, ctx: &mut Ctx) -> Checked<TlsMode> {
    match value {
        Some(text) => text
            .parse()
            .map_err(|message: String| ctx.error(key, message)),
        None => Ok(default),
    }
}

fn not_loopback(host: &str, what: &str) -> String {
    format!(
        "\"none\" is only allowed for a loopback host (127.0.0.1, ::1, localhost), \
         not {host:?}: {what} would cross the network in clear; use \"tls\" or \"starttls\""
    )
}

fn check_port(value: Option<i64>, default: u16, key: &str, ctx: &mut Ctx) -> Checked<u16> {
    match value {
        None => Ok(default),
        Some(port) => u16::try_from(port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| ctx.error(key, format!("{port} is not a port: expected 1–65535"))),
    }
}

fn int_in(
    value: Option<i64>,
    default: i64,
    lo: i64,
    hi: i64,
    key: &str,
    ctx: &mut Ctx,
) -> Checked<i64> {
    let value = value.unwrap_or(default);
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(ctx.error(key, format!("{value} is out of range: expected {lo}–{hi}")))
    }
}

fn check_ca_file(value: Option<PathBuf>, key: &str, ctx: &mut Ctx) -> Checked<Option<PathBuf>> {
    let Some(path) = value else { return Ok(None) };
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => Ok(Some(path)),
        Ok(_) => Err(ctx.error(key, format!("{} is not a file", path.display()))),
        Err(e) => Err(ctx.error(key, format!("cannot read {}: {e}", path.display()))),
    }
}

fn check_address(value: Option<String>, key: &str, ctx: &mut Ctx) -> Checked<Address> {
    match value {
        Some(text) => Address::parse(&text).map_err(|message| ctx.error(key, message)),
        None => Err(ctx.missing(
            key,
            "a sender such as \"POS Digicert RA <kpkt.retail@example.my>\"",
        )),
    }
}

/// Reads a password from `file` or the environment variable `var`, or else
/// from `default_var` when set. `Ok(None)`: no password anywhere.
fn read_secret(
    file: Option<&Path>,
    var: Option<&str>,
    default_var: Option<&str>,
    section: &str,
    ctx: &mut Ctx,
) -> Checked<Option<Secret>> {
    match (file, var) {
        (Some(_), Some(_)) => Err(ctx.error(
            format!("{section}.password_env"),
            "give password_file or password_env, not both",
        )),
        (Some(path), None) => {
            let key = format!("{section}.password_file");
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    let password = text.trim_end_matches(['\n', '\r']);
                    if password.is_empty() {
                        Err(ctx.error(key, format!("{} is empty", path.display())))
                    } else {
                        Ok(Some(Secret::new(password)))
                    }
                }
                Err(e) => Err(ctx.error(key, format!("cannot read {}: {e}", path.display()))),
            }
        }
        (None, Some(name)) => {
            let key = format!("{section}.password_env");
            if name.trim().is_empty() {
                return Err(ctx.error(key, "must name an environment variable"));
            }
            match (ctx.env)(name).filter(|v| !v.is_empty()) {
                Some(value) => Ok(Some(Secret::new(value))),
                None => Err(ctx.error(
                    key,
                    format!("the environment variable {name} is not set (or empty)"),
                )),
            }
        }
        (None, None) => Ok(default_var
            .and_then(|name| (ctx.env)(name))
            .filter(|v| !v.is_empty())
            .map(Secret::new)),
    }
}

fn is_loopback_host(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && is_domain(domain)
}

fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// May stand unquoted in a display name (RFC 5322 atext and spaces; UTF-8
/// allowed by RFC 6532).
fn is_phrase_char(c: char) -> bool {
    c.is_alphanumeric() || !c.is_ascii() || c == ' ' || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

fn unescape_quoted(quoted: &str) -> String {
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The SPEC §9 example, character for character.
    const SPEC_EXAMPLE: &str = r#"[mailbox]                   # inbound
kind = "imap"               # or "maildir" (embedded default: path = "var/mail")
host = "127.0.0.1"
port = 993
tls = "tls"                 # "tls" | "starttls" | "none" (none only on loopback)
username = "kpkt.retail"
password_file = "/etc/sijil/imap.pass"
inbox = "INBOX"
processed = "Processed"
rejected = "Rejected"
quarantine = "Quarantine"

[outbound]
kind = "smtp"               # or "maildir" (embedded default: path = "var/outbox")
host = "127.0.0.1"
port = 587
tls = "starttls"
from_ra = "POS Digicert RA <kpkt.retail@example.my>"
from_hims = "HIMS eSPA <noreply@hims.example.my>"

[web]
listen = "127.0.0.1:8080"
base_url = "https://sign.example.my"

[store]
path = "var/sijil.db"       # sled; attachments beside it

[security]
require_authenticated_sender = false
authserv_id = "mx.example.my"

[[developer]]
company = "Seri Indah Development Sdn Bhd"
addresses = ["submit@seriindah.my"]   # or: domain = "seriindah.my"

[[staff]]
name = "Aina"
address = "aina@ra.example.my"
roles = ["verifier"]
"#;

    /// `config()` of /work/shared/contract-check with root `/tmp/root`.
    fn contract_config(port: &str) -> String {
        let mut text = format!(
            r#"[mailbox]
kind = "maildir"
path = "/tmp/root/mail"

[outbound]
kind = "maildir"
path = "/tmp/root/outbox"
from_ra = "POS Digicert RA <kpkt.retail@ra.example.my>"
from_hims = "HIMS eSPA <noreply@hims.example.my>"

[web]
listen = "127.0.0.1:{port}"
base_url = "http://127.0.0.1:18089"

[store]
path = "/tmp/root/sijil.db"

[security]
require_authenticated_sender = false
authserv_id = "mx.ra.example.my"

[[developer]]
company = "Seri Indah Development Sdn Bhd"
addresses = ["submit@seriindah.my"]
"#
        );
        for (n, a) in [
            ("verifier", "aina@ra.example.my"),
            ("officer", "badrul@ra.example.my"),
            ("qc", "chong@ra.example.my"),
        ] {
            let title = format!("{}{}", n[..1].to_uppercase(), &n[1..]);
            text.push_str(&format!(
                "\n[[staff]]\nname = \"{title}\"\naddress = \"{a}\"\nroles = [\"{n}\"]\n"
            ));
        }
        text
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn password_file(content: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(content.as_bytes()).unwrap();
        file
    }

    /// The SPEC example with its password file replaced by a real one.
    fn spec_with(file: &tempfile::NamedTempFile) -> String {
        SPEC_EXAMPLE.replace("/etc/sijil/imap.pass", &file.path().display().to_string())
    }

    fn errors_of(text: &str) -> ConfigErrors {
        match parse(text, None, &no_env) {
            Ok(config) => panic!("accepted: {config:?}"),
            Err(errors) => errors,
        }
    }

    fn assert_error(errors: &ConfigErrors, key: &str, fragment: &str) {
        assert!(
            errors
                .0
                .iter()
                .any(|e| e.key == key && e.message.contains(fragment)),
            "no error on {key} containing {fragment:?} in:\n{errors}"
        );
    }

    #[test]
    fn spec_example_as_written() {
        let file = password_file("s3cret\n");
        let config = parse(
            &spec_with(&file),
            Some(Path::new("/etc/sijil/sijil.toml")),
            &no_env,
        )
        .unwrap();
        let MailboxConfig::Imap(imap) = &config.mailbox else {
            panic!("not IMAP: {:?}", config.mailbox)
        };
        assert_eq!(imap.host, "127.0.0.1");
        assert_eq!(imap.port, 993);
        assert_eq!(imap.tls, TlsMode::Tls);
        assert_eq!(imap.username, "kpkt.retail");
        assert_eq!(imap.password.expose(), "s3cret");
        assert_eq!(imap.folders, Folders::default());
        assert_eq!(imap.poll_interval, Duration::from_secs(30));
        assert_eq!(imap.tls_ca_file, None);
        let OutboundConfig::Smtp(smtp) = &config.outbound.transport else {
            panic!("not SMTP")
        };
        assert_eq!(
            (smtp.host.as_str(), smtp.port, smtp.tls),
            ("127.0.0.1", 587, TlsMode::StartTls)
        );
        assert_eq!((smtp.username.clone(), smtp.password.clone()), (None, None));
        assert_eq!(
            config.outbound.from_ra,
            Address {
                name: Some("POS Digicert RA".into()),
                email: "kpkt.retail@example.my".into()
            }
        );
        assert_eq!(
            config.outbound.from_hims.to_string(),
            "HIMS eSPA <noreply@hims.example.my>"
        );
        assert_eq!(config.web.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.web.base_url, "https://sign.example.my");
        assert_eq!(config.web.pin_link_ttl, Duration::from_secs(72 * 3600));
        assert_eq!(config.web.sign_link_ttl, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(config.store.path, PathBuf::from("var/sijil.db"));
        assert_eq!(
            config.store.documents,
            PathBuf::from("var/sijil.db.documents")
        );
        assert_eq!(config.store.purge_after_days, 90);
        assert!(!config.security.require_authenticated_sender);
        assert_eq!(
            config.security.authserv_id.as_deref(),
            Some("mx.example.my")
        );
        assert_eq!(config.security.reply_rate_per_hour, 30);
        assert_eq!(config.developers.len(), 1);
        assert_eq!(config.developers[0].addresses, ["submit@seriindah.my"]);
        assert_eq!(config.staff[0].roles, [Role::Verifier]);
        assert_eq!(config.limits, LimitsConfig::default());
        assert_eq!(config.limits.message_max_bytes, 25 * 1024 * 1024);
        assert_eq!(config.case.reference_prefix, "SJL");
        assert_eq!(config.source, Some(PathBuf::from("/etc/sijil/sijil.toml")));
        // Only one role is staffed: allowed, but said.
        let warnings = config.warnings();
        assert!(warnings.iter().any(|w| w.message.contains("\"officer\"")));
        assert!(warnings.iter().any(|w| w.message.contains("\"qc\"")));
    }

    #[test]
    fn contract_check_config_accepted() {
        let config = parse(&contract_config("18089"), None, &no_env).unwrap();
        assert_eq!(
            config.mailbox,
            MailboxConfig::Maildir(MaildirConfig {
                path: "/tmp/root/mail".into(),
                folders: Folders::default()
            })
        );
        assert_eq!(
            config.outbound.transport,
            OutboundConfig::Maildir {
                path: "/tmp/root/outbox".into()
            }
        );
        assert_eq!(config.web.listen.port(), 18089);
        assert_eq!(config.staff_with(Role::Verifier).count(), 1);
        assert_eq!(
            config.staff_with(Role::Officer).next().unwrap().name,
            "Officer"
        );
        assert_eq!(
            config.staff_with(Role::Qc).next().unwrap().address,
            "chong@ra.example.my"
        );
        assert!(config.developer_for("Submit@SeriIndah.my").is_some());
    }

    #[test]
    fn contract_check_bad_port_names_web_listen() {
        let errors = errors_of(&contract_config("99999"));
        assert_eq!(errors.0.len(), 1, "{errors}");
        assert_error(&errors, "web.listen", "99999");
        assert!(errors.to_string().starts_with("web.listen: "));
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let errors = errors_of("[web]\nlisten = \"127.0.0.1:8080\"\nbase_url = https://x\n");
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].key, "");
        assert!(
            errors.0[0].message.contains("line 3, column 12"),
            "{}",
            errors.0[0].message
        );
        let errors = errors_of("[web]\nlisten = \"a\"\nlisten = \"b\"\n");
        assert!(errors.0[0].message.contains("line 3"), "{errors}");
    }

    /// Each mutation of a valid configuration gives an error on its key.
    #[test]
    fn every_mistake_named_by_its_key() {
        let file = password_file("pw\n");
        let base = spec_with(&file);
        let valid_line = |line: &str| {
            assert!(base.contains(line), "test bug: {line:?} not in the example");
        };
        let cases: &[(&str, &str, &str, &str)] = &[
            // (replace this, with this, key, message fragment)
            ("kind = \"imap\"", "kind = \"pop3\"", "mailbox.kind", "pop3"),
            (
                "kind = \"smtp\"",
                "kind = \"sendmail\"",
                "outbound.kind",
                "sendmail",
            ),
            ("port = 993", "port = 0", "mailbox.port", "1–65535"),
            ("port = 993", "port = 70000", "mailbox.port", "70000"),
            ("port = 993", "port = \"993\"", "mailbox.port", "integer"),
            ("port = 587", "port = -1", "outbound.port", "1–65535"),
            (
                "host = \"127.0.0.1\"\nport = 993",
                "host = \"\"\nport = 993",
                "mailbox.host",
                "empty",
            ),
            (
                "host = \"127.0.0.1\"\nport = 993",
                "host = \"imaps://mail\"\nport = 993",
                "mailbox.host",
                "scheme",
            ),
            (
                "host = \"127.0.0.1\"\nport = 587",
                "host = \"smtp:25\"\nport = 587",
                "outbound.host",
                "port",
            ),
            ("tls = \"tls\"", "tls = \"ssl\"", "mailbox.tls", "ssl"),
            (
                "host = \"127.0.0.1\"\nport = 993\ntls = \"tls\"",
                "host = \"mail.example.my\"\nport = 993\ntls = \"none\"",
                "mailbox.tls",
                "loopback",
            ),
            (
                "host = \"127.0.0.1\"\nport = 587\ntls = \"starttls\"",
                "host = \"10.0.0.5\"\nport = 587\ntls = \"none\"",
                "outbound.tls",
                "loopback",
            ),
            (
                "username = \"kpkt.retail\"\n",
                "",
                "mailbox.username",
                "missing",
            ),
            (
                "username = \"kpkt.retail\"",
                "username = \"  \"",
                "mailbox.username",
                "empty",
            ),
            (
                "username = \"kpkt.retail\"",
                "username = \"kpkt.retail\"\npassword = \"hunter2\"",
                "mailbox.password",
                "password_file",
            ),
            (
                "tls = \"starttls\"",
                "tls = \"starttls\"\npassword = \"x\"",
                "outbound.password",
                "password_env",
            ),
            (
                "inbox = \"INBOX\"",
                "inbox = \"\"",
                "mailbox.inbox",
                "empty",
            ),
            (
                "rejected = \"Rejected\"",
                "rejected = \"processed\"",
                "mailbox.rejected",
                "processed folder",
            ),
            (
                "quarantine = \"Quarantine\"",
                "quarantine = \"Quarantine\"\nquarantaine = \"Q\"",
                "mailbox.quarantaine",
                "unknown key",
            ),
            (
                "from_ra = \"POS Digicert RA <kpkt.retail@example.my>\"",
                "from_ra = \"POS Digicert RA\"",
                "outbound.from_ra",
                "not an address",
            ),
            (
                "from_hims = \"HIMS eSPA <noreply@hims.example.my>\"\n",
                "",
                "outbound.from_hims",
                "missing",
            ),
            (
                "tls = \"starttls\"",
                "tls = \"starttls\"\nusername = \"relay\"",
                "outbound.password_file",
                "no password",
            ),
            (
                "tls = \"starttls\"",
                "tls = \"starttls\"\npassword_env = \"SOME_VAR\"",
                "outbound.username",
                "missing",
            ),
            (
                "listen = \"127.0.0.1:8080\"",
                "listen = \"localhost:8080\"",
                "web.listen",
                "IP:port",
            ),
            (
                "listen = \"127.0.0.1:8080\"",
                "listen = \"127.0.0.1:0\"",
                "web.listen",
                "1–65535",
            ),
            (
                "base_url = \"https://sign.example.my\"",
                "base_url = \"sign.example.my\"",
                "web.base_url",
                "https://",
            ),
            (
                "base_url = \"https://sign.example.my\"",
                "base_url = \"https://\"",
                "web.base_url",
                "no host",
            ),
            (
                "base_url = \"https://sign.example.my\"\n",
                "",
                "web.base_url",
                "missing",
            ),
            (
                "base_url = \"https://sign.example.my\"",
                "base_url = \"https://sign.example.my\"\npin_link_hours = 0",
                "web.pin_link_hours",
                "1–720",
            ),
            (
                "base_url = \"https://sign.example.my\"",
                "base_url = \"https://sign.example.my\"\nsign_link_days = 1.5",
                "web.sign_link_days",
                "integer",
            ),
            (
                "path = \"var/sijil.db\"       # sled; attachments beside it",
                "",
                "store.path",
                "missing",
            ),
            (
                "path = \"var/sijil.db\"",
                "path = \"var/sijil.db\"\ndocuments_path = \"var/sijil.db/docs\"",
                "store.documents_path",
                "outside",
            ),
            (
                "path = \"var/sijil.db\"",
                "path = \"var/sijil.db\"\npurge_after_days = 0",
                "store.purge_after_days",
                "1–3650",
            ),
            (
                "require_authenticated_sender = false",
                "require_authenticated_sender = \"no\"",
                "security.require_authenticated_sender",
                "true or false",
            ),
            (
                "require_authenticated_sender = false\nauthserv_id = \"mx.example.my\"",
                "require_authenticated_sender = true",
                "security.authserv_id",
                "required",
            ),
            (
                "authserv_id = \"mx.example.my\"",
                "authserv_id = \"mx.example.my\"\nreply_rate_per_hour = 0",
                "security.reply_rate_per_hour",
                "1–10000",
            ),
            (
                "company = \"Seri Indah Development Sdn Bhd\"",
                "company = \"\"",
                "developer[1].company",
                "empty",
            ),
            (
                "addresses = [\"submit@seriindah.my\"]",
                "addresses = [\"submit at seriindah\"]",
                "developer[1].addresses",
                "not an email",
            ),
            (
                "addresses = [\"submit@seriindah.my\"]",
                "addresses = \"submit@seriindah.my\"",
                "developer[1].addresses",
                "array",
            ),
            (
                "addresses = [\"submit@seriindah.my\"]",
                "addresses = []",
                "developer[1]",
                "domain",
            ),
            (
                "addresses = [\"submit@seriindah.my\"]",
                "domain = \"@seriindah.my\"",
                "developer[1].domain",
                "without '@'",
            ),
            (
                "addresses = [\"submit@seriindah.my\"]",
                "addresses = [\"submit@seriindah.my\"]\ncompnay = \"x\"",
                "developer[1].compnay",
                "unknown key",
            ),
            ("name = \"Aina\"\n", "", "staff[1].name", "missing"),
            (
                "address = \"aina@ra.example.my\"",
                "address = \"aina\"",
                "staff[1].address",
                "not an email",
            ),
            (
                "roles = [\"verifier\"]",
                "roles = [\"verifer\"]",
                "staff[1].roles",
                "verifer",
            ),
            (
                "roles = [\"verifier\"]",
                "roles = []",
                "staff[1].roles",
                "empty",
            ),
            (
                "roles = [\"verifier\"]",
                "roles = [\"officer\"]",
                "staff",
                "verifier",
            ),
            (
                "[security]",
                "[case]\nreference_prefix = \"sjl\"\n\n[security]",
                "case.reference_prefix",
                "uppercase",
            ),
            (
                "[security]",
                "[limits]\nattachment_max_mib = 30\n\n[security]",
                "limits.attachment_max_mib",
                "message_max_mib",
            ),
            (
                "[security]",
                "[limits]\nmessage_max_mib = 2000\n\n[security]",
                "limits.message_max_mib",
                "1–1024",
            ),
            (
                "[security]",
                "[logging]\nlevel = \"debug\"\n\n[security]",
                "logging",
                "unknown section",
            ),
            ("[[staff]]", "[[staffs]]", "staffs", "did you mean `staff`"),
        ];
        for (from, to, key, fragment) in cases {
            valid_line(from);
            let errors = errors_of(&base.replacen(from, to, 1));
            assert_error(&errors, key, fragment);
        }
    }

    #[test]
    fn kind_specific_keys_refused_for_maildir() {
        let text = contract_config("8080").replace(
            "path = \"/tmp/root/mail\"",
            "path = \"/tmp/root/mail\"\nhost = \"imap.example.my\"\ninbox = \"INBOX\"",
        );
        let errors = errors_of(&text);
        assert_error(&errors, "mailbox.host", "kind = \"imap\"");
        assert_error(&errors, "mailbox.inbox", "kind = \"imap\"");
        let text = contract_config("8080").replace(
            "path = \"/tmp/root/outbox\"",
            "path = \"/tmp/root/outbox\"\nport = 25",
        );
        assert_error(&errors_of(&text), "outbound.port", "kind = \"smtp\"");
        let text = contract_config("8080").replace("processed", "x");
        assert!(parse(&text, None, &no_env).is_ok());
        let text = contract_config("8080").replace(
            "path = \"/tmp/root/mail\"",
            "path = \"/tmp/root/mail\"\nprocessed = \"../etc\"",
        );
        assert_error(
            &errors_of(&text),
            "mailbox.processed",
            "Maildir folder name",
        );
    }

    #[test]
    fn missing_sections_and_people() {
        let errors = errors_of("");
        for key in ["mailbox", "outbound", "web", "store", "developer"] {
            assert!(errors.mentions(key), "{key} not in:\n{errors}");
        }
        assert_error(&errors, "staff", "verifier");
        let errors = errors_of("[[developer]]\ncompany = \"X\"\n");
        assert_error(&errors, "developer[1]", "addresses");
        let errors = errors_of("[developer]\ncompany = \"X\"\n");
        assert_error(&errors, "developer", "[[developer]]");
        let errors = errors_of("web = 3\n");
        assert_error(&errors, "web", "must be a table");
        assert!(
            !errors
                .0
                .iter()
                .any(|e| e.key == "web" && e.message.contains("missing"))
        );
    }

    #[test]
    fn several_mistakes_all_reported() {
        let file = password_file("pw");
        let text = spec_with(&file)
            .replace("port = 993", "port = 99999")
            .replace("tls = \"starttls\"", "tls = \"startls\"")
            .replace("127.0.0.1:8080", "127.0.0.1:99999")
            .replace("roles = [\"verifier\"]", "roles = [\"verifier\", \"boss\"]")
            .replace(
                "company = \"Seri Indah Development Sdn Bhd\"",
                "company = 7",
            )
            .replace(
                "quarantine = \"Quarantine\"",
                "quarantine = \"Processed\"\nidle = true",
            )
            + "\n[[staff]]\nname = \"Aina again\"\naddress = \"AINA@ra.example.my\"\nroles = [\"qc\"]\n";
        let errors = errors_of(&text);
        for key in [
            "mailbox.port",
            "mailbox.quarantine",
            "mailbox.idle",
            "outbound.tls",
            "web.listen",
            "developer[1].company",
            "staff[1].roles",
            "staff[2].address",
        ] {
            assert!(errors.mentions(key), "{key} not in:\n{errors}");
        }
        // A refused value is not also reported missing.
        assert_eq!(
            errors
                .0
                .iter()
                .filter(|e| e.key == "developer[1].company")
                .count(),
            1,
            "{errors}"
        );
        assert_eq!(errors.to_string().lines().count(), errors.0.len());
        assert!(
            !errors.mentions("staff"),
            "consequential error reported:\n{errors}"
        );
    }

    #[test]
    fn secrets_from_file_env_and_default_env() {
        let file = password_file("line one\r\n");
        let config = parse(&spec_with(&file), None, &no_env).unwrap();
        let MailboxConfig::Imap(imap) = &config.mailbox else {
            panic!()
        };
        assert_eq!(imap.password.expose(), "line one");

        let by_env = SPEC_EXAMPLE.replace(
            "password_file = \"/etc/sijil/imap.pass\"",
            "password_env = \"MY_IMAP_PW\"",
        );
        let env = |name: &str| (name == "MY_IMAP_PW").then(|| "from-env".to_owned());
        let config = parse(&by_env, None, &env).unwrap();
        let MailboxConfig::Imap(imap) = &config.mailbox else {
            panic!()
        };
        assert_eq!(imap.password.expose(), "from-env");
        assert_error(&errors_of(&by_env), "mailbox.password_env", "MY_IMAP_PW");

        let neither = SPEC_EXAMPLE.replace("password_file = \"/etc/sijil/imap.pass\"\n", "");
        assert_error(
            &errors_of(&neither),
            "mailbox.password_file",
            IMAP_PASSWORD_ENV,
        );
        let env = |name: &str| {
            [(IMAP_PASSWORD_ENV, "imap"), (SMTP_PASSWORD_ENV, "smtp")]
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let config = parse(&neither, None, &env).unwrap();
        let MailboxConfig::Imap(imap) = &config.mailbox else {
            panic!()
        };
        assert_eq!(imap.password.expose(), "imap");
        // No SMTP username: no login, even though SIJIL_SMTP_PASSWORD is set.
        let OutboundConfig::Smtp(smtp) = &config.outbound.transport else {
            panic!()
        };
        assert_eq!(smtp.password, None);
        let with_user =
            neither.replace("tls = \"starttls\"", "tls = \"starttls\"\nusername = \"u\"");
        let config = parse(&with_user, None, &env).unwrap();
        let OutboundConfig::Smtp(smtp) = &config.outbound.transport else {
            panic!()
        };
        assert_eq!(smtp.username.as_deref(), Some("u"));
        assert_eq!(smtp.password.as_ref().map(Secret::expose), Some("smtp"));

        let both = SPEC_EXAMPLE.replace(
            "password_file = \"/etc/sijil/imap.pass\"",
            "password_file = \"/x\"\npassword_env = \"Y\"",
        );
        assert_error(&errors_of(&both), "mailbox.password_env", "not both");
        let unreadable =
            SPEC_EXAMPLE.replace("/etc/sijil/imap.pass", "/nonexistent/sijil/imap.pass");
        assert_error(
            &errors_of(&unreadable),
            "mailbox.password_file",
            "/nonexistent/sijil/imap.pass",
        );
        let empty = password_file("\n");
        assert_error(
            &errors_of(&spec_with(&empty)),
            "mailbox.password_file",
            "empty",
        );
    }

    #[test]
    fn tls_none_allowed_on_loopback_only() {
        let file = password_file("pw");
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "localhost",
            "LocalHost",
        ] {
            let text = spec_with(&file)
                .replace("tls = \"tls\"", "tls = \"none\"")
                .replacen("host = \"127.0.0.1\"", &format!("host = {host:?}"), 1);
            let config = parse(&text, None, &no_env).unwrap();
            let MailboxConfig::Imap(imap) = &config.mailbox else {
                panic!()
            };
            assert_eq!(imap.tls, TlsMode::None);
        }
        let text = spec_with(&file).replace("port = 993\ntls = \"tls\"", "tls = \"starttls\"");
        let config = parse(&text, None, &no_env).unwrap();
        let MailboxConfig::Imap(imap) = &config.mailbox else {
            panic!()
        };
        assert_eq!(imap.port, 143, "default port follows the TLS mode");
    }

    #[test]
    fn tls_ca_file_must_exist() {
        let file = password_file("pw");
        let ca = password_file("-----BEGIN CERTIFICATE-----\n");
        let text = spec_with(&file).replace(
            "username = \"kpkt.retail\"",
            &format!(
                "username = \"kpkt.retail\"\ntls_ca_file = {:?}",
                ca.path().display().to_string()
            ),
        );
        let config = parse(&text, None, &no_env).unwrap();
        let MailboxConfig::Imap(imap) = &config.mailbox else {
            panic!()
        };
        assert_eq!(imap.tls_ca_file.as_deref(), Some(ca.path()));
        let text = spec_with(&file).replace(
            "username = \"kpkt.retail\"",
            "username = \"kpkt.retail\"\ntls_ca_file = \"/nonexistent/ca.pem\"",
        );
        assert_error(
            &errors_of(&text),
            "mailbox.tls_ca_file",
            "/nonexistent/ca.pem",
        );
    }

    #[test]
    fn cross_section_conflicts() {
        let base = contract_config("8080");
        let twice = base.clone()
            + "\n[[developer]]\ncompany = \"Other\"\naddresses = [\"SUBMIT@seriindah.my\"]\n";
        assert_error(&errors_of(&twice), "developer[2].addresses", "developer[1]");
        let domains = base.replace(
            "addresses = [\"submit@seriindah.my\"]",
            "domain = \"ra.example.my\"",
        );
        let errors = errors_of(&domains);
        assert_error(&errors, "staff[1].address", "developer[1]");
        assert_error(&errors, "outbound.from_ra", "answer its own mail");
        let two_domains = base.replace(
            "addresses = [\"submit@seriindah.my\"]",
            "domain = \"seriindah.my\"",
        ) + "\n[[developer]]\ncompany = \"Other\"\ndomain = \"SeriIndah.my\"\n";
        assert_error(
            &errors_of(&two_domains),
            "developer[2].domain",
            "seriindah.my",
        );
    }

    #[test]
    fn lookups_by_address_and_domain() {
        let text = contract_config("8080")
            + "\n[[developer]]\ncompany = \"Domain Co\"\ndomain = \"Domain.Example.MY\"\n\
               \n[[developer]]\ncompany = \"Exact Co\"\naddresses = [\"Boss@domain.example.my\"]\n";
        let config = parse(&text, None, &no_env).unwrap();
        assert_eq!(
            config.developers[1].domain.as_deref(),
            Some("domain.example.my")
        );
        assert_eq!(config.developers[2].addresses, ["boss@domain.example.my"]);
        let company = |addr: &str| config.developer_for(addr).map(|d| d.company.as_str());
        assert_eq!(
            company("SUBMIT@SERIINDAH.MY"),
            Some("Seri Indah Development Sdn Bhd")
        );
        assert_eq!(
            company(" Submit <submit@seriindah.my> "),
            Some("Seri Indah Development Sdn Bhd")
        );
        assert_eq!(company("other@seriindah.my"), None);
        assert_eq!(company("anyone@domain.example.my"), Some("Domain Co"));
        // A listed address wins over a domain.
        assert_eq!(company("boss@DOMAIN.example.my"), Some("Exact Co"));
        assert_eq!(company("x@sub.domain.example.my"), None);
        assert_eq!(company("not an address"), None);
        assert_eq!(
            config
                .staff_for("Aina@RA.example.my")
                .map(|s| s.name.as_str()),
            Some("Verifier")
        );
        assert!(config.staff_for("submit@seriindah.my").is_none());
        let roles: Vec<Role> = config.staff.iter().flat_map(|s| s.roles.clone()).collect();
        assert_eq!(roles, [Role::Verifier, Role::Officer, Role::Qc]);
    }

    #[test]
    fn embedded_default_matches_its_file() {
        let default = Config::embedded_default();
        let file = include_str!("../config/embedded-default.toml");
        let parsed = parse(file, None, &no_env).unwrap();
        assert_eq!(parsed, default);
        assert_eq!(Config::load(None).unwrap(), default);
        // Enough for a sample pack: a developer and every role.
        assert!(default.developer_for("pemaju@example.my").is_some());
        for role in Role::ALL {
            assert_eq!(default.staff_with(role).count(), 1, "{role}");
        }
        assert_eq!(default.web.base_url, "http://127.0.0.1:8080");
        assert!(default.warnings().is_empty(), "{:?}", default.warnings());
    }

    #[test]
    fn example_file_is_valid() {
        let file = password_file("imap-pw\n");
        let text = include_str!("../config/sijil.example.toml")
            .replace("/etc/sijil/imap.pass", &file.path().display().to_string());
        let config = parse(&text, Some(Path::new("sijil.toml")), &no_env).unwrap();
        assert!(matches!(config.mailbox, MailboxConfig::Imap(_)));
        assert!(matches!(config.outbound.transport, OutboundConfig::Smtp(_)));
        assert!(config.security.require_authenticated_sender);
        assert!(config.warnings().is_empty(), "{:?}", config.warnings());
        // Every commented-out optional key is valid when uncommented (except
        // the alternatives that need a file or exclude another key).
        let uncommented: String = text
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if rest.split_once(" = ").is_some_and(|(key, _)| {
                        key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) && !rest.starts_with("password_env")
                        && !rest.starts_with("tls_ca_file")
                        && !rest.starts_with("domain") =>
                {
                    rest.to_owned()
                }
                _ => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
            .replace("/etc/sijil/smtp.pass", &file.path().display().to_string());
        let full = parse(&uncommented, None, &no_env).unwrap();
        let OutboundConfig::Smtp(smtp) = &full.outbound.transport else {
            panic!()
        };
        assert_eq!(smtp.username.as_deref(), Some("kpkt.retail"));
        assert_eq!(
            full.store.documents,
            PathBuf::from("/var/lib/sijil/sijil.db.documents")
        );
    }

    #[test]
    fn load_reads_the_file_or_names_it() {
        let file = password_file(&contract_config("8080"));
        let config = Config::load(Some(file.path())).unwrap();
        assert_eq!(config.source.as_deref(), Some(file.path()));
        let errors = Config::load(Some(Path::new("/nonexistent/sijil.toml"))).unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert!(
            errors.to_string().contains("/nonexistent/sijil.toml"),
            "{errors}"
        );
    }

    #[test]
    fn secret_never_printed() {
        let file = password_file("hunter2");
        let config = parse(&spec_with(&file), None, &no_env).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"));
        assert!(debug.contains("***"));
        assert_eq!(Secret::new("hunter2").to_string(), "***");
        assert_eq!(Secret::new("hunter2").expose(), "hunter2");
    }

    #[test]
    fn addresses_parse_and_print() {
        let a = Address::parse("POS Digicert RA <kpkt.retail@example.my>").unwrap();
        assert_eq!(a.name.as_deref(), Some("POS Digicert RA"));
        assert_eq!(a.email, "kpkt.retail@example.my");
        assert_eq!(a.to_string(), "POS Digicert RA <kpkt.retail@example.my>");
        let bare = Address::parse(" noreply@hims.example.my ").unwrap();
        assert_eq!(
            bare,
            Address {
                name: None,
                email: "noreply@hims.example.my".into()
            }
        );
        assert_eq!(bare.to_string(), "noreply@hims.example.my");
        let quoted = Address::parse(r#""Seri Indah, Sdn. Bhd." <a@b.my>"#).unwrap();
        assert_eq!(quoted.name.as_deref(), Some("Seri Indah, Sdn. Bhd."));
        assert_eq!(quoted.to_string(), r#""Seri Indah, Sdn. Bhd." <a@b.my>"#);
        let tricky = Address {
            name: Some(r#"A "B" \ C"#.into()),
            email: "a@b.my".into(),
        };
        assert_eq!(tricky.to_string(), r#""A \"B\" \\ C" <a@b.my>"#);
        assert_eq!(Address::parse(&tricky.to_string()).unwrap(), tricky);
        assert_eq!(Address::parse("<a@b.my>").unwrap().name, None);
        assert_eq!(
            Address::parse("Pemaju Ümran <a@b.my>").unwrap().to_string(),
            "Pemaju Ümran <a@b.my>"
        );
        for bad in [
            "",
            "a",
            "a@",
            "@b.my",
            "a@b..my",
            "a b@c.my",
            "Name <a@b.my",
            "a@-b.my",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Address::parse("kpkt.retail@localhost").is_ok());
    }

    #[test]
    fn roles_and_tls_modes_by_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("boss".parse::<Role>().is_err());
        let roles: Vec<Role> = toml::from_str::<toml::Table>("r = [\"qc\", \"admin\"]")
            .unwrap()
            .remove("r")
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(roles, [Role::Qc, Role::Admin]);
        for mode in [TlsMode::Tls, TlsMode::StartTls, TlsMode::None] {
            assert_eq!(mode.as_str().parse::<TlsMode>(), Ok(mode));
        }
    }

    #[test]
    fn staff_roles_deduplicated_and_base_url_trimmed() {
        let text = contract_config("8080")
            .replace("roles = [\"qc\"]", "roles = [\"qc\", \"QC\", \"admin\"]")
            .replace(
                "base_url = \"http://127.0.0.1:18089\"",
                "base_url = \"https://x.my/sijil/\"",
            );
        let config = parse(&text, None, &no_env).unwrap();
        assert_eq!(config.staff[2].roles, [Role::Qc, Role::Admin]);
        assert_eq!(config.web.base_url, "https://x.my/sijil");
        assert!(config.warnings().is_empty(), "{:?}", config.warnings());
        for (url, warned) in [
            ("http://[::1]:8080/", false),
            ("http://localhost", false),
            ("http://sign.example.my:8080", true),
        ] {
            let text = contract_config("8080")
                .replace("http://127.0.0.1:18089", url)
                .replace("roles = [\"qc\"]", "roles = [\"qc\", \"admin\"]");
            let config = parse(&text, None, &no_env).unwrap();
            assert_eq!(
                config.warnings().iter().any(|w| w.key == "web.base_url"),
                warned,
                "{url}"
            );
        }
    }
}
