//! Checks a signed PDF with tools sijil did not write: poppler's `pdfsig`
//! (with an NSS database that trusts the test CA) and `openssl cms` on the
//! CMS of each signature. A missing tool is a failure that names the
//! package to install.

use std::path::Path;

use mail_parser::MimeHeaders;
use std::process::Command;

/// A file attached to a delivered message, by content type.
pub fn attachment(message: &[u8], content_type: &str) -> Option<Vec<u8>> {
    let parsed = mail_parser::MessageParser::default().parse(message)?;
    parsed.attachments().find_map(|part| {
        let ct = part.content_type()?;
        let full = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default());
        (full == content_type).then(|| part.contents().to_vec())
    })
}

fn run(program: &str, package: &str, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} did not run ({e}): install the Debian package {package}")
        })
}

/// `pdfsig`'s report on `pdf`, with `ca_pem` trusted (a fresh NSS
/// database in `dir`).
pub fn pdfsig(pdf: &Path, ca_pem: &Path, dir: &Path) -> String {
    let db = dir.join("nssdb");
    std::fs::create_dir_all(&db).expect("nss db dir");
    let sql = format!("sql:{}", db.display());
    let made = run(
        "certutil",
        "libnss3-tools",
        &["-N", "-d", &sql, "--empty-password"],
    );
    assert!(
        made.status.success(),
        "certutil -N: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let ca = ca_pem.display().to_string();
    let added = run(
        "certutil",
        "libnss3-tools",
        &[
            "-A",
            "-d",
            &sql,
            "-n",
            "sijil-test-ca",
            "-t",
            "CT,C,C",
            "-i",
            &ca,
        ],
    );
    assert!(
        added.status.success(),
        "certutil -A: {}",
        String::from_utf8_lossy(&added.stderr)
    );
    let out = run(
        "pdfsig",
        "poppler-utils",
        &["-nssdir", &sql, &pdf.display().to_string()],
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Each signature's CMS (DER) and the bytes its ByteRange covers.
pub fn signatures(pdf: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let re = regex::bytes::Regex::new(r"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")
        .expect("regex");
    re.captures_iter(pdf)
        .map(|c| {
            let n = |i: usize| -> usize {
                std::str::from_utf8(&c[i])
                    .expect("digits")
                    .parse()
                    .expect("a number")
            };
            let (a, b, c2, d) = (n(1), n(2), n(3), n(4));
            let mut covered = pdf[a..a + b].to_vec();
            covered.extend_from_slice(&pdf[c2..c2 + d]);
            let hex_part = &pdf[a + b..c2];
            let hex_text: String = String::from_utf8_lossy(hex_part)
                .chars()
                .filter(char::is_ascii_hexdigit)
                .collect();
            let mut der = hex::decode(&hex_text).expect("the /Contents hex");
            // The placeholder is zero-padded past the DER's own length.
            let len = der_length(&der);
            der.truncate(len);
            (der, covered)
        })
        .collect()
}

fn der_length(der: &[u8]) -> usize {
    match der.get(1) {
        Some(&l) if l < 0x80 => 2 + l as usize,
        Some(&l) => {
            let k = (l & 0x7f) as usize;
            let mut n = 0usize;
            for b in &der[2..2 + k] {
                n = (n << 8) | *b as usize;
            }
            2 + k + n
        }
        None => 0,
    }
}

/// `openssl cms -verify` of one detached signature against `ca_pem`:
/// its output and whether it verified.
pub fn openssl_cms_verify(cms: &[u8], content: &[u8], ca_pem: &Path, dir: &Path) -> (bool, String) {
    let sig = dir.join("sig.der");
    let data = dir.join("content.bin");
    std::fs::write(&sig, cms).expect("write cms");
    std::fs::write(&data, content).expect("write content");
    let out = run(
        "openssl",
        "openssl",
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            &sig.display().to_string(),
            "-content",
            &data.display().to_string(),
            "-CAfile",
            &ca_pem.display().to_string(),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `openssl x509 -text` of the signer's certificate in a CMS.
pub fn signer_certificate_text(cms: &[u8], dir: &Path) -> String {
    let sig = dir.join("certs.der");
    std::fs::write(&sig, cms).expect("write cms");
    let certs = run(
        "openssl",
        "openssl",
        &[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            &sig.display().to_string(),
            "-print_certs",
        ],
    );
    let pem = String::from_utf8_lossy(&certs.stdout).to_string();
    let path = dir.join("signer.pem");
    // The signer's is the certificate that is not a CA.
    for block in pem.split_inclusive("-----END CERTIFICATE-----\n") {
        let Some(begin) = block.find("-----BEGIN CERTIFICATE-----") else {
            continue;
        };
        std::fs::write(&path, &block[begin..]).expect("write pem");
        let text = run(
            "openssl",
            "openssl",
            &[
                "x509",
                "-text",
                "-noout",
                "-in",
                &path.display().to_string(),
            ],
        );
        let text = String::from_utf8_lossy(&text.stdout).to_string();
        if !text.contains("CA:TRUE") {
            return text;
        }
    }
    panic!("no signer certificate in the CMS: {pem}")
}
