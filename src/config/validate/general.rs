//! `[general]`: what applies to the whole daemon (the operator's time zone).

use super::*;

pub(super) fn check_general(raw: RawGeneral, ctx: &mut Ctx) -> Checked<GeneralConfig> {
    let Some(name) = raw.timezone else {
        return Ok(GeneralConfig::default());
    };
    let name = name.trim();
    match name.parse::<chrono_tz::Tz>() {
        Ok(timezone) => Ok(GeneralConfig { timezone }),
        Err(_) => {
            let hint = nearest_zone(name)
                .map(|z| format!(" (did you mean \"{z}\"?)"))
                .unwrap_or_default();
            Err(ctx.error(
                "general.timezone",
                format!(
                    "{name:?} is not a time zone{hint}: give an IANA name such as \
                     \"Asia/Kuala_Lumpur\" or \"UTC\" (the names are case-sensitive)"
                ),
            ))
        }
    }
}

/// The zone an operator probably meant: the same name in another case or
/// with spaces for underscores, the same city without its region, else the
/// closest spelling (at most two letters off).
fn nearest_zone(written: &str) -> Option<&'static str> {
    let wanted = written.replace(' ', "_").to_ascii_lowercase();
    let names = || chrono_tz::TZ_VARIANTS.iter().map(|z| z.name());
    names()
        .find(|n| n.to_ascii_lowercase() == wanted)
        .or_else(|| {
            names().find(|n| {
                n.rsplit('/')
                    .next()
                    .is_some_and(|city| city.to_ascii_lowercase() == wanted)
            })
        })
        .or_else(|| {
            names()
                .map(|n| (edit_distance(&n.to_ascii_lowercase(), &wanted), n))
                .filter(|(d, _)| *d <= 2)
                .min_by_key(|(d, _)| *d)
                .map(|(_, n)| n)
        })
}

/// Levenshtein distance over bytes (zone names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}
