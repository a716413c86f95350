//! Finding and reading messages: UID SEARCH above the cursor, skipping
//! those awaiting a filing, and (with a size limit) one `UID FETCH …
//! RFC822.SIZE` for all of them; then `UID FETCH … BODY.PEEK[]` one at a
//! time, taking the body out of the buffer it was read into, or only
//! `BODY.PEEK[HEADER]` of a message over the limit, which is never read
//! whole (SPEC §8).

use std::time::Duration;

use async_imap::error::Error as ImapError;
use async_imap::imap_proto::{AttributeValue, MailboxDatum, MessageSection, Response, SectionPath};
use tokio::time::Instant;
use tracing::{debug, error, warn};

use super::protocol::{COMMAND_TIMEOUT, Trouble, command_with, completion, within};
use super::{ImapMailbox, Waiting};
use crate::edge::mailbox::{Fetched, HEADER_MAX, Locator};

/// Longest time for fetching one message body (it may be large).
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);

/// A message whose fetch failed this many times is skipped (left in the
/// inbox, logged) so that one bad message cannot wedge the loop.
const MAX_FETCH_ATTEMPTS: u32 = 3;

impl ImapMailbox {
    /// Searches the inbox for UIDs above the cursor that are not awaiting a
    /// filing, and queues them in ascending order. Returns whether the
    /// server announced new mail (EXISTS/RECENT) while answering: mail that
    /// arrived during the SEARCH may be missing from its result, and IDLE
    /// would not announce it again.
    pub(super) async fn refresh_queue(&mut self) -> Result<bool, Trouble> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(Trouble::Broken("not connected".into()));
        };
        let uidvalidity = conn.uidvalidity;
        let first = self.cursor.saturating_add(1);
        let mut found = Vec::new();
        let mut announced = false;
        command_with(
            &mut conn.session,
            &format!("UID SEARCH UID {first}:*"),
            COMMAND_TIMEOUT,
            |resp| match resp {
                Response::MailboxData(MailboxDatum::Search(uids)) => found.extend_from_slice(uids),
                Response::MailboxData(MailboxDatum::Exists(_) | MailboxDatum::Recent(_)) => {
                    announced = true
                }
                _ => {}
            },
        )
        .await?;
        // `n:*` always matches the highest UID, even below n (RFC 3501 6.4.4).
        found.retain(|&uid| uid >= first);
        found.sort_unstable();
        found.dedup();
        self.fetch_failures
            .retain(|uid, _| found.binary_search(uid).is_ok());
        let mut awaiting = Vec::new();
        self.queue.clear();
        for uid in found {
            if self.checkpoint.filing(uidvalidity, uid)?.is_some() {
                awaiting.push(uid);
            } else {
                self.queue.push_back(Waiting { uid, size: None });
            }
        }
        if self.message_max.is_some() {
            self.learn_sizes().await?;
        }
        if !awaiting.is_empty() && Instant::now() >= self.next_filing_retry {
            self.retry_filings(Some(&awaiting)).await?;
        }
        Ok(announced)
    }

    /// The size of every queued message, in one command for the whole
    /// queue, so that one over the limit is never fetched whole. A message
    /// the server gives no size for (gone meanwhile) is fetched as usual.
    async fn learn_sizes(&mut self) -> Result<(), Trouble> {
        let (Some(first), Some(last)) = (self.queue.front(), self.queue.back()) else {
            return Ok(());
        };
        let range = format!("{}:{}", first.uid, last.uid);
        let Some(conn) = self.conn.as_mut() else {
            return Err(Trouble::Broken("not connected".into()));
        };
        let mut sizes = std::collections::HashMap::new();
        command_with(
            &mut conn.session,
            &format!("UID FETCH {range} (UID RFC822.SIZE)"),
            COMMAND_TIMEOUT,
            |resp| {
                if let Some((uid, size)) = size_of(resp) {
                    sizes.insert(uid, size);
                }
            },
        )
        .await?;
        for waiting in &mut self.queue {
            waiting.size = sizes.get(&waiting.uid).copied();
        }
        Ok(())
    }

    /// Whether `waiting` is over the size limit: then only its header is
    /// fetched.
    pub(super) fn over_limit(&self, waiting: Waiting) -> Option<u64> {
        let max = self.message_max?;
        waiting.size.filter(|&size| size > max)
    }

    /// Fetches the body of `waiting` without setting \Seen, or only its
    /// header (at most [`HEADER_MAX`] bytes) when it is over the limit.
    /// `Ok(None)` when the server answered OK but sent no body (the message
    /// is gone, or the server is confused).
    pub(super) async fn fetch(&mut self, waiting: Waiting) -> Result<Option<Vec<u8>>, Trouble> {
        let uid = waiting.uid;
        let header = self.over_limit(waiting).is_some();
        let Some(conn) = self.conn.as_mut() else {
            return Err(Trouble::Broken("not connected".into()));
        };
        let session = &mut conn.session;
        let item = if header {
            format!("BODY.PEEK[HEADER]<0.{HEADER_MAX}>")
        } else {
            "BODY.PEEK[]".to_string()
        };
        let exchange = async {
            let tag = session
                .run_command(&format!("UID FETCH {uid} (UID {item})"))
                .await?;
            let mut body = None;
            loop {
                let Some(resp) = session.read_response().await.map_err(ImapError::Io)? else {
                    return Err(Trouble::Broken("connection closed".into()));
                };
                if let Some(done) = completion(resp.parsed(), &tag) {
                    return done.map(|()| body);
                }
                if body.is_some() {
                    continue;
                }
                // The body is taken out of the buffer async-imap read the
                // response into, rather than copied: a fresh megabyte-sized
                // copy per message cost a tenth of the daemon's CPU.
                body = match body_range(resp.parsed(), resp.borrow_owner(), uid, header) {
                    Some(Body::Within(range)) => {
                        let mut buffer = resp.into_owner();
                        buffer.truncate(range.end);
                        bytes::Buf::advance(&mut buffer, range.start);
                        Some(Vec::from(buffer))
                    }
                    Some(Body::Elsewhere(bytes)) => Some(bytes),
                    None => None,
                };
            }
        };
        within(FETCH_TIMEOUT, exchange).await
    }

    /// Hands out a fetched message (taking it off the queue), or records
    /// why the fetch failed.
    pub(super) fn took(
        &mut self,
        waiting: Waiting,
        fetched: Result<Option<Vec<u8>>, Trouble>,
    ) -> Option<Fetched> {
        let uid = waiting.uid;
        match fetched {
            Ok(Some(raw)) => {
                self.queue.pop_front();
                self.fetch_failures.remove(&uid);
                self.cursor = self.cursor.max(uid);
                let uidvalidity = self.epoch.unwrap_or_default();
                let oversize = self.over_limit(waiting);
                debug!(
                    uid,
                    uidvalidity,
                    bytes = raw.len(),
                    ?oversize,
                    "message fetched"
                );
                return Some(Fetched {
                    locator: Locator::Imap { uidvalidity, uid },
                    raw,
                    oversize,
                });
            }
            Ok(None) => self.fetch_failed(uid, "the server sent no body"),
            Err(Trouble::Refused(m)) => self.fetch_failed(uid, &m),
            Err(e) => {
                self.fetch_failed(uid, &e.to_string());
                self.drop_conn(&e);
            }
        }
        None
    }

    /// Records a failed fetch of `uid`; after [`MAX_FETCH_ATTEMPTS`] the
    /// message is skipped for the rest of this run.
    fn fetch_failed(&mut self, uid: u32, why: &str) {
        let uidvalidity = self.epoch.unwrap_or_default();
        let attempt = {
            let n = self.fetch_failures.entry(uid).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        // Search again: the message may simply be gone.
        self.queue.clear();
        if attempt >= MAX_FETCH_ATTEMPTS {
            error!(uid, uidvalidity, attempt, error = %why, "cannot fetch message; skipping it (it stays in the inbox)");
            self.fetch_failures.remove(&uid);
            self.cursor = self.cursor.max(uid);
        } else {
            warn!(uid, uidvalidity, attempt, error = %why, "fetching message failed");
        }
    }
}

/// The UID and RFC822.SIZE of a FETCH response that has both.
fn size_of(resp: &Response<'_>) -> Option<(u32, u64)> {
    let Response::Fetch(_, attrs) = resp else {
        return None;
    };
    let uid = attrs.iter().find_map(|a| match a {
        AttributeValue::Uid(u) => Some(*u),
        _ => None,
    })?;
    let size = attrs.iter().find_map(|a| match a {
        AttributeValue::Rfc822Size(s) => Some(u64::from(*s)),
        _ => None,
    })?;
    Some((uid, size))
}

/// Where the full message (or, with `header`, its header) of a FETCH
/// response about `uid` is, if that is what `resp` (read into `buffer`) is;
/// responses about other messages (or lacking the UID) are ignored.
fn body_range(resp: &Response<'_>, buffer: &[u8], uid: u32, header: bool) -> Option<Body> {
    let Response::Fetch(_, attrs) = resp else {
        return None;
    };
    let mut this_uid = None;
    let mut body = None;
    for attr in attrs {
        match attr {
            AttributeValue::Uid(u) => this_uid = Some(*u),
            AttributeValue::BodySection {
                section: None,
                data: Some(data),
                ..
            }
            | AttributeValue::Rfc822(Some(data))
                if !header =>
            {
                body = Some(data)
            }
            AttributeValue::BodySection {
                section: Some(SectionPath::Full(MessageSection::Header)),
                data: Some(data),
                ..
            }
            | AttributeValue::Rfc822Header(Some(data))
                if header =>
            {
                body = Some(data)
            }
            _ => {}
        }
    }
    if this_uid != Some(uid) {
        return None;
    }
    let body: &[u8] = body?;
    // Below the buffer, the offset wraps around to something far too large.
    let start = (body.as_ptr() as usize).wrapping_sub(buffer.as_ptr() as usize);
    Some(match start.checked_add(body.len()) {
        Some(end) if end <= buffer.len() => Body::Within(start..end),
        _ => Body::Elsewhere(body.to_vec()),
    })
}

/// Where the message body of a FETCH answer is.
enum Body {
    /// This range of the buffer the answer was read into (the usual case:
    /// the parser borrows the literal).
    Within(std::ops::Range<usize>),
    /// Somewhere else, copied.
    Elsewhere(Vec<u8>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_imap::imap_proto::Response;

    #[test]
    fn body_is_taken_only_from_the_right_uid() {
        let range = |raw: &[u8], uid| {
            let (_, resp) = Response::parse(raw).unwrap();
            match body_range(&resp, raw, uid, false) {
                Some(Body::Within(r)) => Some(raw[r].to_vec()),
                Some(Body::Elsewhere(_)) => panic!("the literal is borrowed from the buffer"),
                None => None,
            }
        };
        let raw = b"* 3 FETCH (UID 7 BODY[] {5}\r\nhello)\r\n";
        assert_eq!(range(raw, 7).as_deref(), Some(&b"hello"[..]));
        assert_eq!(range(raw, 8), None);
        assert_eq!(
            range(b"* 3 FETCH (BODY[] {5}\r\nhello)\r\n", 7),
            None,
            "no UID: not trusted"
        );
        assert_eq!(range(b"* 3 FETCH (UID 7 BODY[] NIL)\r\n", 7), None);
        // A body the parser did not borrow from this buffer is copied.
        let (_, resp) = Response::parse(raw).unwrap();
        let other = raw.to_vec();
        assert!(matches!(
            body_range(&resp, &other, 7, false),
            Some(Body::Elsewhere(b)) if b == b"hello"
        ));
    }

    #[test]
    fn a_header_is_taken_only_when_asked_for() {
        let raw = b"* 3 FETCH (UID 7 BODY[HEADER]<0> {9}\r\nSubject: )\r\n";
        let (_, resp) = Response::parse(raw).unwrap();
        match body_range(&resp, raw, 7, true) {
            Some(Body::Within(r)) => assert_eq!(&raw[r], b"Subject: "),
            _ => panic!("the header is found"),
        }
        assert!(
            body_range(&resp, raw, 7, false).is_none(),
            "not a whole body"
        );
        let whole = b"* 3 FETCH (UID 7 BODY[] {5}\r\nhello)\r\n";
        let (_, resp) = Response::parse(whole).unwrap();
        assert!(body_range(&resp, whole, 7, true).is_none(), "not a header");
    }

    #[test]
    fn sizes_are_read_with_their_uid() {
        let (_, resp) = Response::parse(b"* 3 FETCH (UID 7 RFC822.SIZE 123456)\r\n").unwrap();
        assert_eq!(size_of(&resp), Some((7, 123_456)));
        let (_, resp) = Response::parse(b"* 3 FETCH (RFC822.SIZE 123456)\r\n").unwrap();
        assert_eq!(size_of(&resp), None, "no UID: not trusted");
        let (_, resp) = Response::parse(b"* 3 FETCH (UID 7)\r\n").unwrap();
        assert_eq!(size_of(&resp), None);
    }
}
