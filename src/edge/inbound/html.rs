//! HTML bodies turned into the text lines a person reading them sees.

use html2text::render::TextDecorator;

/// The most tags of an HTML body turned into text. html5ever's tree
/// builder looks through the stack of open elements for most new tags, so
/// nested markup costs the square of its tag count (50 000 nested `<div>`s
/// take 12 s of one core), and every element costs memory. A message a
/// person writes, even Outlook's, stays far below this.
const MAX_HTML_TAGS: usize = 5_000;

/// HTML-only mail (SPEC §2): turn it into plain text lines, wide enough that
/// no `Label: value` line is wrapped. Beyond [`MAX_HTML_TAGS`] tags the rest
/// is dropped: the text above, where the field lines are, is kept.
///
/// The text is what a person reading the email sees: mail clients make
/// links of addresses and numbers (`mailto:`, `tel:`), and a link shows as
/// its text alone, with no brackets around it and no target after it, so
/// `Emel / Email: <a href="mailto:…">ali@…</a>` reads `Emel / Email: ali@…`.
/// Table cells keep html2text's `│` between them, which the field parser
/// reads as a label/value row. A `<blockquote>` — where Gmail, Apple Mail
/// and Thunderbird put the message a reply answers — reads as `> ` lines,
/// as in their plain text parts, so the reply reader can tell it apart.
pub fn html_to_text(html: &str) -> String {
    let html = match html.match_indices('<').nth(MAX_HTML_TAGS) {
        Some((cut, _)) => {
            tracing::warn!(
                bytes = html.len(),
                kept = cut,
                max_tags = MAX_HTML_TAGS,
                "HTML body cut short"
            );
            &html[..cut]
        }
        None => html,
    };
    html2text::config::with_decorator(MailDecorator)
        .string_from_read(html.as_bytes(), 10_000)
        .unwrap_or_default()
}

/// html2text's trivial decorator (no markup, links as their text alone),
/// but quotes keep their `> `.
#[derive(Clone, Copy, Debug)]
struct MailDecorator;

impl TextDecorator for MailDecorator {
    type Annotation = ();

    fn decorate_link_start(&mut self, _url: &str) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_link_end(&mut self) -> String {
        String::new()
    }
    fn decorate_em_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_em_end(&self) -> String {
        String::new()
    }
    fn decorate_strong_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strong_end(&self) -> String {
        String::new()
    }
    fn decorate_strikeout_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strikeout_end(&self) -> String {
        String::new()
    }
    fn decorate_code_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_code_end(&self) -> String {
        String::new()
    }
    fn decorate_preformat_first(&self) {}
    fn decorate_preformat_cont(&self) {}
    fn decorate_image(&mut self, _src: &str, title: &str) -> (String, ()) {
        (title.to_string(), ())
    }
    fn header_prefix(&self, _level: usize) -> String {
        String::new()
    }
    fn quote_prefix(&self) -> String {
        "> ".to_string()
    }
    fn unordered_item_prefix(&self) -> String {
        String::new()
    }
    fn ordered_item_prefix(&self, _i: i64) -> String {
        String::new()
    }
    fn make_subblock_decorator(&self) -> Self {
        *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_with_endless_tags_is_cut_after_the_top() {
        let html = format!(
            "<p>Emel / Email: ali@example.com</p>{}<p>Telefon / Phone: +60123456789</p>{}",
            "<div>".repeat(MAX_HTML_TAGS),
            "</div>".repeat(MAX_HTML_TAGS)
        );
        let text = html_to_text(&html);
        assert!(text.contains("Email: ali@example.com"), "{text:?}");
        assert!(!text.contains("+60123456789"), "{text:?}");
    }

    #[test]
    fn links_show_their_text_and_quotes_their_marks() {
        let text = html_to_text(
            "<p><b>Emel / Email:</b>&nbsp;<a href=\"mailto:ali@example.com\">ali@example.com</a></p>\
             <blockquote><p>Telefon / Phone: +60123456789</p>\
             <blockquote><p>VERIFIED</p></blockquote></blockquote>",
        );
        assert_eq!(
            text,
            "Emel / Email:\u{a0}ali@example.com\n\n> Telefon / Phone: +60123456789\n> \n> > VERIFIED\n"
        );
    }
}
