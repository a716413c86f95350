//! Text that keeps its lines: the signee's own message forwarded to staff.
//!
//! Every other string of the context is one line of data (see
//! `single_line_strings` in the parent), so a hostile value cannot break
//! the text part's layout. A message someone wrote is several lines, and
//! flattening it would make it unreadable; instead the `lines` helper
//! (`{{#each (lines message.text)}}> {{this}}{{/each}}`) hands a template
//! its lines, each itself one line, so the template quotes them one by one
//! and the writer's text can never pose as the email's own.

use handlebars::{Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, ScopedJson};
use serde_json::Value;

/// The context paths whose strings keep their line breaks.
pub(super) const MULTI_LINE: [&str; 1] = ["/message/text"];

/// Registers the `lines` helper on `registry`.
pub(super) fn register(registry: &mut Handlebars<'_>) {
    registry.register_helper("lines", Box::new(LinesHelper));
}

/// `(lines value)`: the lines of a string, an empty list for anything else.
struct LinesHelper;

impl HelperDef for LinesHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let text = h.param(0).and_then(|p| p.value().as_str()).unwrap_or("");
        Ok(ScopedJson::Derived(Value::Array(
            split(text).into_iter().map(Value::String).collect(),
        )))
    }
}

/// A text as its lines: CRLF, CR and LF all end a line, any other control
/// character is a space, trailing spaces and the blank lines at either end
/// go.
pub(super) fn split(text: &str) -> Vec<String> {
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines: Vec<String> = unified
        .split('\n')
        .map(|line| {
            line.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    let leading = lines.iter().take_while(|l| l.is_empty()).count();
    lines.drain(..leading);
    lines
}

/// The same text with its line breaks kept as `\n` and every other control
/// character a space: what a multi-line string is in the template context.
pub(super) fn multi_line(text: &str) -> String {
    split(text).join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_breaks_and_nothing_else() {
        assert_eq!(
            split("\r\n\nSalam,\r\nsaya\tAli \x1b[31m\rterima kasih\n\n\n"),
            ["Salam,", "saya Ali  [31m", "terima kasih"]
        );
        assert!(split("").is_empty());
        assert_eq!(multi_line("a\r\n\r\nb"), "a\n\nb");
    }
}
