//! The raw layer: what serde reads from the TOML, every key optional and
//! unknown keys refused, read section by section so one bad section does not
//! hide the others; and the carrier of mistakes ([`Ctx`]) that validation
//! fills in.

use super::*;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGeneral {
    pub(super) timezone: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMailbox {
    pub(super) kind: Option<String>,
    pub(super) path: Option<PathBuf>,
    pub(super) host: Option<String>,
    pub(super) port: Option<i64>,
    pub(super) tls: Option<String>,
    pub(super) username: Option<String>,
    /// Only so that a plain password gets a helpful refusal.
    pub(super) password: Option<toml::Value>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) password_env: Option<String>,
    pub(super) poll_seconds: Option<i64>,
    pub(super) tls_ca_file: Option<PathBuf>,
    pub(super) inbox: Option<String>,
    pub(super) processed: Option<String>,
    pub(super) rejected: Option<String>,
    pub(super) quarantine: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutbound {
    pub(super) kind: Option<String>,
    pub(super) path: Option<PathBuf>,
    pub(super) host: Option<String>,
    pub(super) port: Option<i64>,
    pub(super) tls: Option<String>,
    pub(super) username: Option<String>,
    pub(super) password: Option<toml::Value>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) password_env: Option<String>,
    pub(super) tls_ca_file: Option<PathBuf>,
    pub(super) from_ra: Option<String>,
    pub(super) from_hims: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeb {
    pub(super) listen: Option<String>,
    pub(super) base_url: Option<String>,
    pub(super) pin_link_hours: Option<i64>,
    pub(super) sign_link_days: Option<i64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub(super) path: Option<PathBuf>,
    pub(super) documents_path: Option<PathBuf>,
    pub(super) purge_after_days: Option<i64>,
    pub(super) abandon_after_days: Option<i64>,
    pub(super) remember_messages_days: Option<i64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCa {
    pub(super) certificate: Option<PathBuf>,
    pub(super) key_file: Option<PathBuf>,
    pub(super) key_env: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSecurity {
    pub(super) require_authenticated_sender: Option<bool>,
    pub(super) authserv_id: Option<String>,
    pub(super) reply_rate_per_hour: Option<i64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) attachment_max_mib: Option<i64>,
    pub(super) message_max_mib: Option<i64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCase {
    pub(super) reference_prefix: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDeveloper {
    pub(super) company: Option<String>,
    pub(super) addresses: Option<Vec<String>>,
    pub(super) domain: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStaff {
    pub(super) name: Option<String>,
    pub(super) address: Option<String>,
    pub(super) roles: Option<Vec<String>>,
}

/// The whole file, section by section. Assembled by hand rather than by
/// serde so that a mistake in one section does not hide the others.
#[derive(Default)]
pub(super) struct RawConfig {
    pub(super) general: Option<RawGeneral>,
    pub(super) mailbox: Option<RawMailbox>,
    pub(super) outbound: Option<RawOutbound>,
    pub(super) web: Option<RawWeb>,
    pub(super) store: Option<RawStore>,
    pub(super) ca: Option<RawCa>,
    pub(super) security: Option<RawSecurity>,
    pub(super) limits: Option<RawLimits>,
    pub(super) case: Option<RawCase>,
    /// One slot per `[[developer]]`, `None` where the entry was unusable,
    /// so the indices in key paths stay those of the file.
    pub(super) developer: Option<Vec<Option<RawDeveloper>>>,
    pub(super) staff: Option<Vec<Option<RawStaff>>>,
}

const SECTIONS: [&str; 11] = [
    "general",
    "mailbox",
    "outbound",
    "web",
    "store",
    "ca",
    "security",
    "limits",
    "case",
    "developer",
    "staff",
];

/// Marker: the mistake has been recorded in [`Ctx::errors`].
pub(super) struct Reported;

pub(super) type Checked<T> = Result<T, Reported>;

/// What validation carries along: the mistakes so far and the environment.
pub(super) struct Ctx<'a> {
    pub(super) errors: Vec<ConfigError>,
    /// Keys whose value the raw layer already refused, so that validation
    /// does not add a second "missing" mistake for them.
    pub(super) refused: HashSet<String>,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
}

impl Ctx<'_> {
    pub(super) fn error(&mut self, key: impl Into<String>, message: impl Into<String>) -> Reported {
        self.errors.push(ConfigError {
            key: key.into(),
            message: message.into(),
        });
        Reported
    }

    pub(super) fn missing(&mut self, key: &str, hint: &str) -> Reported {
        if !self.refused.contains(key) {
            self.error(key, format!("missing: {hint}"));
        }
        Reported
    }
}

pub(super) fn parse(
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
            "general" => raw.general = raw_section(value, &key, ctx),
            "mailbox" => raw.mailbox = raw_section(value, &key, ctx),
            "outbound" => raw.outbound = raw_section(value, &key, ctx),
            "web" => raw.web = raw_section(value, &key, ctx),
            "store" => raw.store = raw_section(value, &key, ctx),
            "ca" => raw.ca = raw_section(value, &key, ctx),
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
