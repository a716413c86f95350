//! `[limits]`: the size limits on inbound mail.

use super::*;

pub(super) fn check_limits(raw: RawLimits, ctx: &mut Ctx) -> Checked<LimitsConfig> {
    let attachment = int_in(
        raw.attachment_max_mib,
        DEFAULT_ATTACHMENT_MAX_MIB,
        1,
        1024,
        "limits.attachment_max_mib",
        ctx,
    );
    let message = int_in(
        raw.message_max_mib,
        DEFAULT_MESSAGE_MAX_MIB,
        1,
        1024,
        "limits.message_max_mib",
        ctx,
    );
    let (attachment, message) = (attachment?, message?);
    if attachment > message {
        return Err(ctx.error(
            "limits.attachment_max_mib",
            format!("{attachment} MiB is more than limits.message_max_mib ({message} MiB)"),
        ));
    }
    Ok(LimitsConfig {
        attachment_max_bytes: attachment.unsigned_abs() * MIB,
        message_max_bytes: message.unsigned_abs() * MIB,
    })
}
