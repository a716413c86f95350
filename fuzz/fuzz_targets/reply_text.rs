//! Any text as a reply body: `quote::own_text`, the reply-command reader's
//! text part, then its field lines. No panic; the own text is made of the
//! input's lines, never longer than the input, and never a quoted (`>`) line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let text = String::from_utf8_lossy(raw);
    let own = sijil::core::quote::own_text(&text);
    assert!(own.len() <= text.len(), "{own:?} longer than {text:?}");
    for line in own.lines() {
        assert!(
            !line.trim_start().starts_with('>'),
            "quoted line kept: {line:?}"
        );
    }
    let _ = sijil::pack_check::fields::Fields::parse(&own);
});
