//! Any text as a reply body: `reply::own_text` and `reply::first_line`, the
//! command read from that line, then the own text's field lines. No panic;
//! the own text is made of the input's lines, never longer than the input,
//! and never a quoted (`>`) line; the first line is one of its lines.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let text = String::from_utf8_lossy(raw);
    let own = sijil::core::reply::own_text(&text);
    assert!(own.len() <= text.len(), "{own:?} longer than {text:?}");
    for line in own.lines() {
        assert!(
            !line.trim_start().starts_with('>'),
            "quoted line kept: {line:?}"
        );
    }
    if let Some(first) = sijil::core::reply::first_line(&text) {
        assert!(!first.is_empty() && !first.starts_with('>'), "{first:?}");
        assert!(first.len() <= text.len(), "{first:?} longer than {text:?}");
        let _ = sijil::core::command::parse(&first);
    }
    let _ = sijil::pack_check::fields::Fields::parse(&own);
});
