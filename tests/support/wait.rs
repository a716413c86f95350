//! Waiting for a condition: poll it every 20 ms until it holds, and fail the test with what was
//! awaited once the deadline passes. One flavour for async tests (it yields to the runtime between
//! polls), one for plain `#[test]`s.

use std::time::{Duration, Instant};

/// How often a condition is checked.
const POLL: Duration = Duration::from_millis(20);

/// Waits until `done()` holds, up to `limit`; panics with `what` on timeout.
pub async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Deadline::new(what, limit);
    while !done() {
        deadline.check();
        tokio::time::sleep(POLL).await;
    }
}

/// [`until`] for tests without an async runtime (blocks the thread between polls).
pub fn until_sync(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Deadline::new(what, limit);
    while !done() {
        deadline.check();
        std::thread::sleep(POLL);
    }
}

struct Deadline<'a> {
    what: &'a str,
    limit: Duration,
    at: Instant,
}

impl Deadline<'_> {
    fn new(what: &str, limit: Duration) -> Deadline<'_> {
        Deadline {
            what,
            limit,
            at: Instant::now() + limit,
        }
    }

    fn check(&self) {
        assert!(
            Instant::now() < self.at,
            "timed out after {:?}: {}",
            self.limit,
            self.what
        );
    }
}
