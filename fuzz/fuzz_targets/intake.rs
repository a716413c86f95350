//! Any bytes as an inbound message, all the way through the core: parse,
//! classify, `intake::decide` against an in-memory view holding one
//! incomplete case (so that a reply on its thread is a supplement), then
//! every decided email rendered. No panic; a decision keeps only
//! attachments that exist, a quarantined message is never answered, and
//! every email renders (a rendering failure would leave the message in the
//! inbox, retried for ever).
#![no_main]

use std::sync::LazyLock;

use chrono::{DateTime, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use sijil::case::Case;
use sijil::classify::Classifier;
use sijil::config::Config;
use sijil::email::Sender;
use sijil::intake::{self, Cases};
use sijil::mailbox::Folder;
use sijil::render::{self, Renderer};

/// The cases the core sees; a fuzz input never changes them.
struct Mem(Vec<Case>);

impl Cases for Mem {
    fn get(&self, reference: &str) -> Option<Case> {
        self.0.iter().find(|c| c.reference == reference).cloned()
    }
    fn open_for_order(&self, espa: &str, order: u32) -> Option<Case> {
        self.0
            .iter()
            .find(|c| !c.state.is_closed() && c.espa_order() == Some((espa.to_string(), order)))
            .cloned()
    }
    fn open_for_id(&self, espa: &str, id_number: &str) -> Option<Case> {
        self.0
            .iter()
            .find(|c| {
                !c.state.is_closed()
                    && c.application
                        .as_ref()
                        .is_some_and(|a| a.espa_ref == espa && a.id_number == id_number)
            })
            .cloned()
    }
    fn next_sequence(&self, _year: i32) -> u64 {
        self.0.len() as u64 + 1
    }
    fn case_for_email(&self, _message_id: &str) -> Option<Case> {
        self.0.first().cloned()
    }
    fn replies_this_hour(&self, _address: &str, _reference: &str, _now: DateTime<Utc>) -> u32 {
        0
    }
}

struct World {
    config: Config,
    classifier: Classifier,
    cases: Mem,
    renderer: Renderer,
    now: DateTime<Utc>,
}

/// The embedded default with one case, SJL-2026-000001, opened incomplete
/// by the example pack without its LOA.
static WORLD: LazyLock<World> = LazyLock::new(|| {
    let config = Config::embedded_default();
    let classifier = Classifier::new(&config);
    let now = Utc
        .with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
        .single()
        .unwrap_or_default();
    let seed = sijil::inbound::parse(include_bytes!("../../examples/pack-without-loa.eml"));
    let class = classifier.classify(&seed, &config);
    let opened = intake::decide(&seed, &class, &Mem(Vec::new()), &config, now);
    let cases = Mem(opened.case.into_iter().collect());
    let renderer = Renderer::new().unwrap_or_else(|e| panic!("templates: {e:#}"));
    World {
        config,
        classifier,
        cases,
        renderer,
        now,
    }
});

fuzz_target!(|raw: &[u8]| {
    let w = &*WORLD;
    let msg = sijil::inbound::parse(raw);
    let class = w.classifier.classify(&msg, &w.config);
    let d = intake::decide(&msg, &class, &w.cases, &w.config, w.now);
    for &i in &d.keep_attachments {
        assert!(
            i < msg.attachments.len(),
            "keeps attachment {i} of {}",
            msg.attachments.len()
        );
    }
    if d.folder == Folder::Quarantine {
        assert!(
            d.emails.is_empty(),
            "quarantined, yet answered: {:?}",
            d.reason
        );
    }
    for (i, email) in d.emails.iter().enumerate() {
        let from = match email.sender {
            Sender::Ra => &w.config.outbound.from_ra,
            Sender::Hims => &w.config.outbound.from_hims,
        };
        let seed = format!("{}\n{i}", msg.key);
        let id = render::message_id_for("ra.example.my", seed.as_bytes());
        if let Err(e) = w.renderer.render(email, from, &id, w.now) {
            panic!("{} does not render: {e:#}", email.template.name());
        }
    }
});
