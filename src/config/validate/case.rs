//! `[case]`: how case references are written.

use super::*;

pub(super) fn check_case(raw: RawCase, ctx: &mut Ctx) -> Checked<CaseConfig> {
    let prefix = raw
        .reference_prefix
        .unwrap_or_else(|| DEFAULT_REFERENCE_PREFIX.into());
    if (2..=6).contains(&prefix.len()) && prefix.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(CaseConfig {
            reference_prefix: prefix,
        })
    } else {
        Err(ctx.error(
            "case.reference_prefix",
            format!("{prefix:?} must be 2 to 6 uppercase letters A–Z, like \"SJL\""),
        ))
    }
}
