//! An inbound message as the core sees it: the facts the mailbox edge
//! (`crate::edge::inbound`) reads out of the raw bytes, nothing more.

/// One attachment, with its bytes and their digest.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// Safe for display: no path, no control or bidi characters.
    pub name: String,
    /// The declared MIME type, e.g. `application/pdf`.
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// Lower-case hex SHA-256 of `bytes`: the key of the document index.
    pub sha256: String,
}

/// Header signals that a message was written by a machine (SPEC §2 rule 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoSignals {
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub list_id: bool,
    pub x_autoreply: bool,
    /// `multipart/report` (a delivery or disposition report).
    pub report: bool,
}

/// The facts of one inbound message.
#[derive(Debug, Clone, Default)]
pub struct Inbound {
    /// Identity for exactly-once: the Message-ID, else a digest of the bytes.
    pub key: String,
    pub message_id: Option<String>,
    /// The `From` address, lower-cased; `None` when absent or unreadable.
    pub from: Option<String>,
    pub from_name: Option<String>,
    /// The envelope sender when the server recorded it (`Return-Path`);
    /// `Some("")` for the null sender `<>`.
    pub return_path: Option<String>,
    pub subject: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub auto: AutoSignals,
    /// The text body (an HTML-only body converted to text).
    pub text: String,
    pub attachments: Vec<Attachment>,
    /// Attachments past the most that are read
    /// ([`crate::pack_check::MAX_ATTACHMENTS`]): neither kept nor checked.
    pub attachments_unread: usize,
    /// Size of the whole raw message in bytes.
    pub size: u64,
    /// Over the size limit, so only its header was read (SPEC §8): no text,
    /// no attachments, `size` is the real size.
    pub oversize: bool,
    /// `Authentication-Results` headers, newest first.
    pub authentication_results: Vec<String>,
    /// mail-parser could not read it as a message at all.
    pub malformed: bool,
    /// Present when the message is a delivery report.
    pub report: Option<DeliveryReport>,
}

/// What a delivery report says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The Message-ID of the email that could not be delivered.
    pub original_message_id: Option<String>,
    /// Recipients with `Action: failed`, with their status code (`5.1.1`).
    pub failed: Vec<Failure>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub recipient: String,
    pub status: String,
}
