//! Any bytes as an inbound message, all the way through the core: parse,
//! classify, `core::handle` against an in-memory view holding one
//! incomplete case (so that a reply on its thread is a supplement), then
//! every decided email rendered. No panic; a decision keeps only
//! attachments that exist, a quarantined message is never answered, and
//! every email renders (a rendering failure would leave the message in the
//! inbox, retried for ever).
#![no_main]

use std::sync::LazyLock;

use chrono::{DateTime, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use sijil::config::Config;
use sijil::core::case::{Case, Event};
use sijil::core::classify::Classifier;
use sijil::core::email::FromAddress;
use sijil::core::{Input, MemView, SentEmail, View, ViewResult, handle};
use sijil::core::Folder;
use sijil::edge::render::{self, Renderer};

/// The cases the core sees; a fuzz input never changes them. Every
/// delivery report is taken to be about an email of the first case, so
/// that reports reach the core's handling of them.
struct World0(MemView);

impl View for World0 {
    fn case(&self, reference: &str) -> ViewResult<Option<Case>> {
        self.0.case(reference)
    }
    fn open_for_order(&self, espa: &str, order: u32) -> ViewResult<Option<Case>> {
        self.0.open_for_order(espa, order)
    }
    fn open_for_id(&self, espa: &str, id_number: &str) -> ViewResult<Option<Case>> {
        self.0.open_for_id(espa, id_number)
    }
    fn next_sequence(&self, year: i32) -> ViewResult<u64> {
        self.0.next_sequence(year)
    }
    fn sent_email(&self, _message_id: &str) -> ViewResult<Option<SentEmail>> {
        Ok(self.0.cases.first().map(|c| SentEmail {
            case_ref: c.reference.clone(),
            to: Vec::new(),
            at: None,
        }))
    }
    fn replies_this_hour(&self, a: &str, r: &str, now: DateTime<Utc>) -> ViewResult<u32> {
        self.0.replies_this_hour(a, r, now)
    }
    fn for_each_case(&self, f: &mut dyn FnMut(&Case)) -> ViewResult<()> {
        self.0.for_each_case(f)
    }
    fn history(&self, reference: &str) -> ViewResult<Vec<Event>> {
        self.0.history(reference)
    }
    fn case_for_pin_link(&self, token_sha256: &str) -> ViewResult<Option<Case>> {
        self.0.case_for_pin_link(token_sha256)
    }
    fn espa(&self, reference: &str) -> ViewResult<Option<sijil::core::espa::Espa>> {
        self.0.espa(reference)
    }
}

struct World {
    config: Config,
    classifier: Classifier,
    cases: World0,
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
    let seed = sijil::edge::inbound::parse(include_bytes!("../../examples/pack-without-loa.eml"));
    let class = classifier.classify(&seed, &config);
    let input = Input::Message {
        msg: &seed,
        class: &class,
    };
    let mut view = MemView::default();
    let opened = handle(input, &view, &config, now).unwrap_or_else(|e| panic!("{e}"));
    view.apply(&opened, &[], now);
    let cases = World0(view);
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
    let msg = sijil::edge::inbound::parse(raw);
    let class = w.classifier.classify(&msg, &w.config);
    let input = Input::Message {
        msg: &msg,
        class: &class,
    };
    let d = handle(input, &w.cases, &w.config, w.now).unwrap_or_else(|e| panic!("{e}"));
    for &i in &d.keep_attachments {
        assert!(
            i < msg.attachments.len(),
            "keeps attachment {i} of {}",
            msg.attachments.len()
        );
    }
    if d.filing == Some(Folder::Quarantine) {
        assert!(
            d.emails.is_empty(),
            "quarantined, yet answered: {:?}",
            d.reason
        );
    }
    for (i, email) in d.emails.iter().enumerate() {
        let from = match email.from {
            FromAddress::Ra => &w.config.outbound.from_ra,
            FromAddress::Hims => &w.config.outbound.from_hims,
        };
        let seed = format!("{}\n{i}", msg.key);
        let id = render::message_id_for("ra.example.my", &[7; 32], seed.as_bytes());
        if let Err(e) = w.renderer.render(email, from, &id, w.now) {
            panic!("{} does not render: {e:#}", email.template.name());
        }
    }
});
