//! The validated configuration's parts, one type per section, as the rest
//! of the daemon uses them.

use super::*;

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
    /// An `incomplete` case left untouched this long counts as ended.
    pub abandon_after_days: u32,
    /// Inbound messages are recognised as already handled, and our sent
    /// emails found by Message-ID, for this long (those of live cases for
    /// as long as the case lives).
    pub remember_messages_days: u32,
}

/// The issuing CA (SPEC §7a): its certificate and the file holding its
/// private key. Both are only known to exist and, for the key, to be the
/// daemon user's alone; reading them as X.509 comes later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaConfig {
    pub certificate: PathBuf,
    pub key: PathBuf,
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

/// What applies to the whole daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneralConfig {
    /// Key `timezone`: the operator's zone, in which times are shown to
    /// people (the command line, email bodies). Stored times stay UTC.
    pub timezone: chrono_tz::Tz,
}

impl Default for GeneralConfig {
    fn default() -> Self {
        GeneralConfig {
            timezone: DEFAULT_TIMEZONE,
        }
    }
}

impl GeneralConfig {
    /// `at` as people read it here, to the minute, with the zone:
    /// `2026-12-03 13:14 +08:00` (`… UTC`, `… BST` where the zone's
    /// abbreviation is a word; Malaysia's is only "+08").
    pub fn local_time(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        self.format(at, "%Y-%m-%d %H:%M")
    }

    /// [`GeneralConfig::local_time`] to the second, for history lines.
    pub fn local_time_seconds(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        self.format(at, "%Y-%m-%d %H:%M:%S")
    }

    fn format(&self, at: chrono::DateTime<chrono::Utc>, pattern: &str) -> String {
        let local = at.with_timezone(&self.timezone);
        let abbreviation = local.format("%Z").to_string();
        let zone = if abbreviation.chars().all(|c| c.is_ascii_alphabetic()) {
            abbreviation
        } else {
            local.format("%:z").to_string()
        };
        format!("{} {zone}", local.format(pattern))
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
