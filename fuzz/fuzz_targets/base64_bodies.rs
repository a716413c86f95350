//! Any bytes as an inbound message, read both ways: with every base64 run
//! cut out and decoded apart (the fast path of `inbound::parse`, here with
//! no minimum size so that short fuzz inputs reach it) and by mail-parser
//! alone. Whenever the fast path applies, the two readings must be equal.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let (fast, whole) = sijil::edge::inbound::both_ways(raw, 1);
    if let Some(fast) = fast {
        assert_eq!(format!("{fast:?}"), format!("{whole:?}"));
    }
});
