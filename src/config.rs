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
//! Here: [`Config`] and its look-ups. Beside it: `types` (each section's
//! validated type), `errors`, `raw` (the serde layer and the mistakes'
//! carrier), `validate` (the checks, one file per section), `tests`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::address;

mod errors;
mod raw;
#[cfg(test)]
mod tests;
mod types;
mod validate;

pub use errors::{ConfigError, ConfigErrors};
use raw::*;
pub use types::{
    Address, CaConfig, CaseConfig, Developer, Folders, GeneralConfig, ImapConfig, LimitsConfig,
    MailboxConfig, MaildirConfig, Outbound, OutboundConfig, Secret, SecurityConfig, SmtpConfig,
    Staff, StaffRole, StoreConfig, TlsMode, WebConfig,
};
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
const DEFAULT_ABANDON_AFTER_DAYS: i64 = 30;
const DEFAULT_REMEMBER_MESSAGES_DAYS: i64 = 90;
const DEFAULT_REPLY_RATE_PER_HOUR: i64 = 30;
const DEFAULT_ATTACHMENT_MAX_MIB: i64 = 10;
const DEFAULT_MESSAGE_MAX_MIB: i64 = 25;
const DEFAULT_REFERENCE_PREFIX: &str = "SJL";
const DEFAULT_TIMEZONE: chrono_tz::Tz = chrono_tz::Asia::Kuala_Lumpur;
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const MIB: u64 = 1024 * 1024;

/// The whole validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub general: GeneralConfig,
    pub mailbox: MailboxConfig,
    pub outbound: Outbound,
    pub web: WebConfig,
    pub store: StoreConfig,
    /// `None`: no `[ca]` section (nothing is issued yet).
    pub ca: Option<CaConfig>,
    pub security: SecurityConfig,
    pub developers: Vec<Developer>,
    pub staff: Vec<Staff>,
    pub limits: LimitsConfig,
    pub case: CaseConfig,
    /// The file it came from; `None` for the embedded default.
    pub source: Option<PathBuf>,
}

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
            general: GeneralConfig::default(),
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
                abandon_after_days: DEFAULT_ABANDON_AFTER_DAYS as u32,
                remember_messages_days: DEFAULT_REMEMBER_MESSAGES_DAYS as u32,
            },
            ca: None,
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
        if self.ca.is_none() && self.source.is_some() {
            warn(
                "ca",
                "no [ca]: a test CA is made beside the store; the certificates it issues are \
                 trusted by nobody (make one with `sijil ca init DIR` or name yours)"
                    .into(),
            );
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
