//! `sijil ca init DIR`, `sijil ca crl` and `sijil verify FILE.pdf`: the
//! operator's side of the CA, and the check of a signed eSPA PDF that
//! needs nothing of the store.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Utc;

use super::out::Stop;
use crate::config::Config;
use crate::edge::store::Store;
use crate::pki::Authority;
use crate::pki::crl::Revoked;

/// Makes a self-signed test CA in `dir` and says what to put in `[ca]`.
pub fn init(dir: &Path, out: &mut dyn Write) -> Result<(), Stop> {
    let made = Authority::init(dir, "sijil test CA", Utc::now())
        .map_err(|e| Stop::Failed(e.to_string()))?;
    writeln!(
        out,
        "sijil: made a test CA (not for production) in {}",
        dir.display()
    )?;
    writeln!(out, "[ca]")?;
    writeln!(
        out,
        "certificate = {:?}",
        made.certificate.display().to_string()
    )?;
    writeln!(out, "key_file = {:?}", made.key.display().to_string())?;
    Ok(())
}

/// The CRL of every certificate `RESET-PIN` revoked, to `to` or stdout.
pub fn crl(
    store: &Store,
    cfg: &Config,
    to: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), Stop> {
    let authority = crate::daemon::load_authority(cfg).map_err(|e| Stop::Failed(e.to_string()))?;
    let mut revoked = Vec::new();
    for case in store.cases() {
        let case = case.map_err(|e| Stop::Failed(e.to_string()))?;
        for cert in &case.keys.revoked {
            if let Some(at) = cert.revoked_at {
                revoked.push((cert.serial.clone(), at));
            }
        }
    }
    revoked.sort_by_key(|(_, at)| *at);
    let listed: Vec<Revoked<'_>> = revoked
        .iter()
        .map(|(serial, at)| Revoked { serial, at: *at })
        .collect();
    let now = Utc::now();
    let number = u64::try_from(now.timestamp()).unwrap_or(1);
    let pem = authority
        .crl(&listed, number, now)
        .map_err(|e| Stop::Failed(e.to_string()))?;
    match to {
        Some(path) => {
            std::fs::write(path, &pem)
                .map_err(|e| Stop::Failed(format!("cannot write {}: {e}", path.display())))?;
            writeln!(
                out,
                "sijil: {} revoked certificate(s); CRL written to {}",
                listed.len(),
                path.display()
            )?;
        }
        None => write!(out, "{pem}")?,
    }
    Ok(())
}

/// Checks every signature of `file`; `Stop::Failed` unless all hold.
pub fn verify(
    cfg: &Config,
    file: &Path,
    ca: Option<&Path>,
    crl: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), Stop> {
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|e| Stop::Failed(format!("cannot read {}: {e}", path.display())))
    };
    let pdf = read(file)?;
    let ca_path: PathBuf = match (ca, &cfg.ca) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(configured)) => configured.certificate.clone(),
        (None, None) => crate::daemon::test_ca_dir(cfg).join("ca.pem"),
    };
    let anchors = certificates(&read(&ca_path)?)
        .map_err(|e| Stop::Failed(format!("{}: {e}", ca_path.display())))?;
    let revoked = match crl {
        Some(path) => crate::pki::verify::crl_serials(&read(path)?)
            .map_err(|e| Stop::Failed(format!("{}: {e}", path.display())))?,
        None => Vec::new(),
    };
    let report = crate::pki::verify::verify(&pdf, &anchors, &revoked)
        .map_err(|e| Stop::Failed(format!("{}: {e}", file.display())))?;
    writeln!(
        out,
        "{}: {} signature(s), checked against {}",
        file.display(),
        report.signatures.len(),
        ca_path.display()
    )?;
    let yes = |b: bool| if b { "yes" } else { "NO" };
    for (i, s) in report.signatures.iter().enumerate() {
        writeln!(out, "{}. {} — {}", i + 1, s.field, s.signer)?;
        let at = s.at.map_or_else(|| "not stated".into(), |t| t.to_rfc3339());
        writeln!(out, "   time: {at}")?;
        writeln!(
            out,
            "   certificate serial: {}",
            s.serial.as_deref().unwrap_or("unknown")
        )?;
        writeln!(out, "   bytes it covers intact: {}", yes(s.intact))?;
        writeln!(out, "   chain reaches the CA: {}", yes(s.chain_trusted))?;
        writeln!(
            out,
            "   certificate revoked: {}",
            if s.revoked { "YES" } else { "no" }
        )?;
        writeln!(
            out,
            "   document changed after it: {}",
            if s.changed_after { "YES" } else { "no" }
        )?;
        for p in &s.problems {
            writeln!(out, "   problem: {p}")?;
        }
    }
    if report.all_hold() {
        writeln!(out, "every signature holds")?;
        Ok(())
    } else if report.signatures.is_empty() {
        Err(Stop::Failed(format!("{}: no signature", file.display())))
    } else {
        Err(Stop::Failed("not every signature holds".into()))
    }
}

/// Every certificate of a PEM file (or one DER certificate), DER.
fn certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut found = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(bytes) {
        let pem = pem.map_err(|e| format!("not PEM: {e}"))?;
        if pem.label == "CERTIFICATE" {
            found.push(pem.contents);
        }
    }
    if found.is_empty() {
        if x509_parser::parse_x509_certificate(bytes).is_ok() {
            return Ok(vec![bytes.to_vec()]);
        }
        return Err("no certificate in it".into());
    }
    Ok(found)
}
