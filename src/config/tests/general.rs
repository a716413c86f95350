//! `[general] timezone`: the default, valid zones, the mistakes explained,
//! and times as people read them.

use super::*;
use chrono::{TimeZone, Utc};

fn with_general(general: &str) -> String {
    format!("[general]\n{general}\n{}", contract_config("8080"))
}

#[test]
fn the_zone_defaults_to_kuala_lumpur_and_takes_iana_names() {
    let config = parse(&contract_config("8080"), None, &no_env).unwrap();
    assert_eq!(config.general.timezone, chrono_tz::Asia::Kuala_Lumpur);
    let config = parse(&with_general("timezone = \"UTC\""), None, &no_env).unwrap();
    assert_eq!(config.general.timezone, chrono_tz::UTC);
    let config = parse(&with_general("timezone = \"Europe/London\""), None, &no_env).unwrap();
    assert_eq!(config.general.timezone, chrono_tz::Europe::London);
}

#[test]
fn an_unknown_zone_is_explained_with_the_name_meant() {
    for (written, meant) in [
        ("Asia/Kuala_Lumpr", "Asia/Kuala_Lumpur"),
        ("asia/kuala_lumpur", "Asia/Kuala_Lumpur"),
        ("Kuala Lumpur", "Asia/Kuala_Lumpur"),
        ("europe/london", "Europe/London"),
    ] {
        let errors = errors_of(&with_general(&format!("timezone = \"{written}\"")));
        assert_error(&errors, "general.timezone", "is not a time zone");
        assert_error(
            &errors,
            "general.timezone",
            &format!("did you mean \"{meant}\""),
        );
    }
    let errors = errors_of(&with_general("timezone = \"MYT\""));
    assert_error(
        &errors,
        "general.timezone",
        "\"Asia/Kuala_Lumpur\" or \"UTC\"",
    );
    let errors = errors_of(&with_general("timezone = 8"));
    assert_error(&errors, "general.timezone", "string");
    let errors = errors_of(&with_general("zone = \"UTC\""));
    assert_error(&errors, "general.zone", "unknown key");
}

#[test]
fn times_are_shown_in_the_zone_with_the_zone() {
    let at = Utc.with_ymd_and_hms(2026, 12, 3, 5, 14, 9).unwrap();
    let kl = GeneralConfig::default();
    assert_eq!(kl.local_time(at), "2026-12-03 13:14 +08:00");
    assert_eq!(kl.local_time_seconds(at), "2026-12-03 13:14:09 +08:00");
    let utc = GeneralConfig {
        timezone: chrono_tz::UTC,
    };
    assert_eq!(utc.local_time(at), "2026-12-03 05:14 UTC");
    let london = GeneralConfig {
        timezone: chrono_tz::Europe::London,
    };
    let summer = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
    assert_eq!(london.local_time(summer), "2026-07-01 13:00 BST");
}
