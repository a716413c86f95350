//! `[ca]`: the issuing CA's certificate and private key (SPEC §7a). The key
//! is named by a file, either directly (`key_file`) or through an
//! environment variable holding the file's path (`key_env`), never written
//! in the configuration. Only the files are checked here: they exist, can be
//! read, and the key is its owner's alone; reading them as X.509 is a later
//! step.

use std::fs::File;

use super::*;

pub(super) fn check_ca(raw: Option<RawCa>, ctx: &mut Ctx) -> Checked<Option<CaConfig>> {
    let Some(raw) = raw else { return Ok(None) };
    let certificate = match raw.certificate {
        Some(path) => readable_file(&path, "ca.certificate", ctx).map(|_| path),
        None => Err(ctx.missing(
            "ca.certificate",
            "the CA certificate (PEM), e.g. certificate = \"/etc/sijil/ca.pem\"",
        )),
    };
    let key = check_key(raw.key_file, raw.key_env.as_deref(), ctx);
    Ok(Some(CaConfig {
        certificate: certificate?,
        key: key?,
    }))
}

/// The key file, from `key_file` or from the variable `key_env` names; it
/// must be readable and owner-only.
fn check_key(file: Option<PathBuf>, var: Option<&str>, ctx: &mut Ctx) -> Checked<PathBuf> {
    let (path, key) = match (file, var) {
        (Some(_), Some(_)) => {
            return Err(ctx.error(
                "ca.key_env",
                "give key_file or key_env, not both: one file holds the CA key",
            ));
        }
        (None, None) => {
            return Err(ctx.missing(
                "ca.key_file",
                "the file holding the CA's private key, e.g. key_file = \
                 \"/etc/sijil/ca.key\" (or key_env = \"VAR\", a variable holding that path)",
            ));
        }
        (Some(path), None) => (path, "ca.key_file"),
        (None, Some(name)) if name.trim().is_empty() => {
            return Err(ctx.error("ca.key_env", "must name an environment variable"));
        }
        (None, Some(name)) => match (ctx.env)(name).filter(|v| !v.is_empty()) {
            Some(value) => (PathBuf::from(value), "ca.key_env"),
            None => {
                return Err(ctx.error(
                    "ca.key_env",
                    format!(
                        "the environment variable {name} is not set (or empty): it must hold \
                         the path of the CA key file"
                    ),
                ));
            }
        },
    };
    let meta = readable_file(&path, key, ctx)?;
    owner_only(&path, &meta, key, ctx)?;
    Ok(path)
}

/// Exists, is a file, and this process can open it.
fn readable_file(path: &Path, key: &str, ctx: &mut Ctx) -> Checked<std::fs::Metadata> {
    let meta = existing_file(path, key, ctx)?;
    match File::open(path) {
        Ok(_) => Ok(meta),
        Err(e) => Err(ctx.error(key, format!("cannot read {}: {e}", path.display()))),
    }
}

/// A private key readable by anyone but its owner is a key given away: no
/// permission bits for the group or others (0600, or the stricter 0400).
#[cfg(unix)]
fn owner_only(path: &Path, meta: &std::fs::Metadata, key: &str, ctx: &mut Ctx) -> Checked<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        Ok(())
    } else {
        Err(ctx.error(
            key,
            format!(
                "{} has mode {mode:04o}: the CA key must be readable by its owner only \
                 (chmod 600 {})",
                path.display(),
                path.display()
            ),
        ))
    }
}

#[cfg(not(unix))]
fn owner_only(_: &Path, _: &std::fs::Metadata, _: &str, _: &mut Ctx) -> Checked<()> {
    Ok(())
}
