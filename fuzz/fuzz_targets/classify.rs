//! Any bytes as an inbound message: `inbound::parse` then the SPEC §2
//! classification, on the embedded default configuration. Neither may
//! panic, and what parsing promises must hold: the size is the input's,
//! every attachment's digest is of its bytes, every attachment name is safe
//! to show (no path, no control or bidirectional-override character).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sijil::core::classify::Classifier;
use sijil::config::Config;

static CONFIG: LazyLock<Config> = LazyLock::new(Config::embedded_default);
static CLASSIFIER: LazyLock<Classifier> = LazyLock::new(|| Classifier::new(&CONFIG));

fuzz_target!(|raw: &[u8]| {
    let msg = sijil::edge::inbound::parse(raw);
    assert_eq!(msg.size, raw.len() as u64);
    assert!(!msg.key.is_empty());
    for a in &msg.attachments {
        assert_eq!(a.sha256, sijil::edge::inbound::sha256_hex(&a.bytes));
        assert!(!a.name.is_empty());
        assert!(
            !a.name.contains(['/', '\\']),
            "a path in a display name: {:?}",
            a.name
        );
        assert!(
            !a.name.chars().any(|c| c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
            "a control or bidi character in a display name: {:?}",
            a.name
        );
    }
    let _ = CLASSIFIER.classify(&msg, &CONFIG);
});
