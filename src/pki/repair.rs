//! PDFs as small tools write them often have no cross-reference table, or
//! one whose offsets are wrong; every PDF reader rebuilds it silently, and
//! so does this before a first signature can be added: the original bytes
//! are kept, and a fresh xref section (the objects' real offsets, found by
//! scanning) and trailer are appended — an update of the file, as a reader
//! would make on saving it. A page tree of no pages gets one blank A4
//! page, where the signature's field is placed.

use std::fmt::Write;

/// `pdf` as it is when a PDF library can read it and it has a page;
/// otherwise with a rebuilt cross-reference section appended (and, for a
/// page tree of no pages, one blank A4 page for the signature), or `None`
/// when no object or no catalogue is found.
pub fn readable(pdf: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    let loaded = lopdf::Document::load_mem(pdf).ok();
    if loaded.as_ref().is_some_and(|d| !d.get_pages().is_empty()) {
        return Some(std::borrow::Cow::Borrowed(pdf));
    }
    let mut bytes = pdf.to_vec();
    let doc = match loaded {
        Some(doc) => doc,
        None => lopdf::Document::load_mem(&rebuild_xref(pdf)?).ok()?,
    };
    if doc.get_pages().is_empty() {
        let pages = doc
            .catalog()
            .ok()?
            .get(b"Pages")
            .ok()?
            .as_reference()
            .ok()?;
        let page = doc.max_id + 1;
        if !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        let added = format!(
            "{page} 0 obj\n<< /Type /Page /Parent {} {} R /MediaBox [0 0 595 842] /Resources << >> >>\nendobj\n\
             {} {} obj\n<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>\nendobj\n",
            pages.0, pages.1, pages.0, pages.1
        );
        bytes.extend_from_slice(added.as_bytes());
    }
    let rebuilt = rebuild_xref(&bytes)?;
    let check = lopdf::Document::load_mem(&rebuilt).ok()?;
    (!check.get_pages().is_empty()).then_some(std::borrow::Cow::Owned(rebuilt))
}

fn rebuild_xref(pdf: &[u8]) -> Option<Vec<u8>> {
    let re = regex::bytes::Regex::new(r"(?m)(?:^|[\r\n\s])(\d{1,9})\s+(\d{1,5})\s+obj\b").ok()?;
    let mut objects: std::collections::BTreeMap<u32, (usize, u32)> = Default::default();
    for caps in re.captures_iter(pdf) {
        let number = caps.get(1)?;
        let id: u32 = std::str::from_utf8(number.as_bytes()).ok()?.parse().ok()?;
        let generation: u32 = std::str::from_utf8(caps.get(2)?.as_bytes())
            .ok()?
            .parse()
            .ok()?;
        // A later definition of the same object wins, as in an update.
        objects.insert(id, (number.start(), generation));
    }
    let root = catalogue(pdf)?;
    let size = objects.keys().max()? + 1;
    let mut out = pdf.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let xref_at = out.len();
    let mut table = String::from("xref\n");
    let _ = writeln!(table, "0 {size}");
    table.push_str("0000000000 65535 f \n");
    for id in 1..size {
        match objects.get(&id) {
            Some((offset, generation)) => {
                let _ = writeln!(table, "{offset:010} {generation:05} n ");
            }
            None => table.push_str("0000000000 65535 f \n"),
        }
    }
    let _ = write!(
        table,
        "trailer\n<< /Size {size} /Root {root} >>\nstartxref\n{xref_at}\n%%EOF\n"
    );
    out.extend_from_slice(table.as_bytes());
    Some(out)
}

/// `N G R` of the catalogue: the trailer's /Root, else the object whose
/// dictionary says /Type /Catalog.
fn catalogue(pdf: &[u8]) -> Option<String> {
    let root = regex::bytes::Regex::new(r"/Root\s+(\d+)\s+(\d+)\s+R").ok()?;
    if let Some(caps) = root.captures_iter(pdf).last() {
        let n = std::str::from_utf8(caps.get(1)?.as_bytes()).ok()?;
        let g = std::str::from_utf8(caps.get(2)?.as_bytes()).ok()?;
        return Some(format!("{n} {g} R"));
    }
    let typed = regex::bytes::Regex::new(r"(\d+)\s+(\d+)\s+obj\s*<<[^>]*/Type\s*/Catalog").ok()?;
    let caps = typed.captures(pdf)?;
    let n = std::str::from_utf8(caps.get(1)?.as_bytes()).ok()?;
    let g = std::str::from_utf8(caps.get(2)?.as_bytes()).ok()?;
    Some(format!("{n} {g} R"))
}
