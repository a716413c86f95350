//! `cargo bench --bench pki`: the cost of the key work a signature needs
//! (SPEC §7a), on this machine, one core: sealing a new key under a PIN
//! (key pair + Argon2id + AES-256-GCM), unsealing it, issuing its
//! certificate, and adding one PAdES signature to a 2 MB PDF (then a
//! second over the first). Prints p50 / p99 / max over the runs.

use std::time::{Duration, Instant};

use chrono::Utc;
use sijil::pki::certificate::Subject;
use sijil::pki::pades::{self, KeySigner, Placement};
use sijil::pki::{Authority, seal};

const RUNS: usize = 30;

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg = Authority::init(dir.path(), "bench CA", Utc::now())?;
    let authority = Authority::load(&cfg, "POS Digicert RA", Utc::now())?;
    let pdf = two_megabyte_pdf();
    let mut blocks = seal::blocks();
    let subject = Subject {
        full_name: "Ali bin Abu",
        id_kind: "MyKad",
        nationality: "Malaysia",
        id_digest: "5f2a9c0e11d3b7a4c6e8f0a1b2c3d4e5f6a7b8c9",
    };
    let (mut sealing, mut unsealing, mut issuing, mut first, mut second) =
        (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..RUNS {
        let reference = format!("SJL-2026-{i:06}");
        let t = Instant::now();
        let sealed = seal::make_sealed(b"482915", &reference, &mut blocks, Utc::now())
            .map_err(anyhow::Error::msg)?;
        sealing.push(t.elapsed());
        let t = Instant::now();
        let key = seal::unseal(&sealed, b"482915", &reference, &mut blocks)
            .map_err(anyhow::Error::msg)?
            .ok_or_else(|| anyhow::anyhow!("did not unseal"))?;
        unsealing.push(t.elapsed());
        let spki = seal::public_key(&sealed).map_err(anyhow::Error::msg)?;
        let t = Instant::now();
        let issued = authority.issue(&subject, &spki, Utc::now())?;
        issuing.push(t.elapsed());
        let signer =
            KeySigner::from_pkcs8(&key, vec![issued.der, authority.certificate_der().to_vec()])
                .map_err(anyhow::Error::msg)?;
        let placement = |field: &'static str| Placement {
            field,
            reason: "bench",
            location: "Malaysia",
            contact: "ali@example.com",
            at: Utc::now(),
        };
        let t = Instant::now();
        let once = pades::sign(&pdf, &signer, &placement("Signee1")).map_err(anyhow::Error::msg)?;
        first.push(t.elapsed());
        let t = Instant::now();
        let twice =
            pades::sign(&once, &signer, &placement("Signee2")).map_err(anyhow::Error::msg)?;
        second.push(t.elapsed());
        if i == 0 {
            println!(
                "PDF {:.2} MB; signed once {:.2} MB, twice {:.2} MB",
                mb(pdf.len()),
                mb(once.len()),
                mb(twice.len())
            );
        }
    }
    println!("{RUNS} runs, one core each:");
    println!("| step | p50 | p99 | max |");
    println!("|---|---|---|---|");
    for (name, mut times) in [
        ("seal (key pair + Argon2id + AES-GCM)", sealing),
        ("unseal (Argon2id + AES-GCM)", unsealing),
        ("issue the certificate", issuing),
        ("sign a 2 MB PDF (first signature)", first),
        ("sign it again (second signature)", second),
    ] {
        times.sort();
        let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "| {name} | {} | {} | {} |",
            ms(at(0.5)),
            ms(at(0.99)),
            ms(times[times.len() - 1])
        );
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn mb(n: usize) -> f64 {
    n as f64 / 1_000_000.0
}

/// A one-page PDF of 2 MB: a page whose content stream is 2 MB of text
/// operators (no compression), with a correct xref.
fn two_megabyte_pdf() -> Vec<u8> {
    let mut content = String::new();
    let mut line = 0u32;
    while content.len() < 2_000_000 {
        content.push_str(&format!(
            "BT /F1 9 Tf 40 {} Td (Perjanjian Jual Beli, fasal {line}: penjual dan pembeli bersetuju) Tj ET\n",
            800 - (line % 70) * 11
        ));
        line += 1;
    }
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}
