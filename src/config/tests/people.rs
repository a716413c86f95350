//! Developers and staff: addresses as written and as compared, the lookups
//! by address and domain, roles by name.

use super::*;

#[test]
fn lookups_by_address_and_domain() {
    let text = contract_config("8080")
        + "\n[[developer]]\ncompany = \"Domain Co\"\ndomain = \"Domain.Example.MY\"\n\
           \n[[developer]]\ncompany = \"Exact Co\"\naddresses = [\"Boss@domain.example.my\"]\n";
    let config = parse(&text, None, &no_env).unwrap();
    assert_eq!(
        config.developers[1].domain.as_deref(),
        Some("domain.example.my")
    );
    assert_eq!(config.developers[2].addresses, ["boss@domain.example.my"]);
    let company = |addr: &str| config.developer_for(addr).map(|d| d.company.as_str());
    assert_eq!(
        company("SUBMIT@SERIINDAH.MY"),
        Some("Seri Indah Development Sdn Bhd")
    );
    assert_eq!(
        company(" Submit <submit@seriindah.my> "),
        Some("Seri Indah Development Sdn Bhd")
    );
    assert_eq!(company("other@seriindah.my"), None);
    assert_eq!(company("anyone@domain.example.my"), Some("Domain Co"));
    // A listed address wins over a domain.
    assert_eq!(company("boss@DOMAIN.example.my"), Some("Exact Co"));
    assert_eq!(company("x@sub.domain.example.my"), None);
    assert_eq!(company("not an address"), None);
    assert_eq!(
        config
            .staff_for("Aina@RA.example.my")
            .map(|s| s.name.as_str()),
        Some("Verifier")
    );
    assert!(config.staff_for("submit@seriindah.my").is_none());
    let roles: Vec<StaffRole> = config.staff.iter().flat_map(|s| s.roles.clone()).collect();
    assert_eq!(
        roles,
        [StaffRole::Verifier, StaffRole::Officer, StaffRole::Qc]
    );
}

#[test]
fn addresses_parse_and_print() {
    let a = Address::parse("POS Digicert RA <kpkt.retail@example.my>").unwrap();
    assert_eq!(a.name.as_deref(), Some("POS Digicert RA"));
    assert_eq!(a.email, "kpkt.retail@example.my");
    assert_eq!(a.to_string(), "POS Digicert RA <kpkt.retail@example.my>");
    let bare = Address::parse(" noreply@hims.example.my ").unwrap();
    assert_eq!(
        bare,
        Address {
            name: None,
            email: "noreply@hims.example.my".into()
        }
    );
    assert_eq!(bare.to_string(), "noreply@hims.example.my");
    let quoted = Address::parse(r#""Seri Indah, Sdn. Bhd." <a@b.my>"#).unwrap();
    assert_eq!(quoted.name.as_deref(), Some("Seri Indah, Sdn. Bhd."));
    assert_eq!(quoted.to_string(), r#""Seri Indah, Sdn. Bhd." <a@b.my>"#);
    let tricky = Address {
        name: Some(r#"A "B" \ C"#.into()),
        email: "a@b.my".into(),
    };
    assert_eq!(tricky.to_string(), r#""A \"B\" \\ C" <a@b.my>"#);
    assert_eq!(Address::parse(&tricky.to_string()).unwrap(), tricky);
    assert_eq!(Address::parse("<a@b.my>").unwrap().name, None);
    assert_eq!(
        Address::parse("Pemaju Ümran <a@b.my>").unwrap().to_string(),
        "Pemaju Ümran <a@b.my>"
    );
    for bad in [
        "",
        "a",
        "a@",
        "@b.my",
        "a@b..my",
        "a b@c.my",
        "Name <a@b.my",
        "a@-b.my",
    ] {
        assert!(Address::parse(bad).is_err(), "{bad:?} accepted");
    }
    assert!(Address::parse("kpkt.retail@localhost").is_ok());
}

#[test]
fn roles_and_tls_modes_by_name() {
    for role in StaffRole::ALL {
        assert_eq!(role.as_str().parse::<StaffRole>(), Ok(role));
    }
    assert!("boss".parse::<StaffRole>().is_err());
    let roles: Vec<StaffRole> = toml::from_str::<toml::Table>("r = [\"qc\", \"admin\"]")
        .unwrap()
        .remove("r")
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(roles, [StaffRole::Qc, StaffRole::Admin]);
    for mode in [TlsMode::Tls, TlsMode::StartTls, TlsMode::None] {
        assert_eq!(mode.as_str().parse::<TlsMode>(), Ok(mode));
    }
}

#[test]
fn staff_roles_deduplicated_and_base_url_trimmed() {
    let text = contract_config("8080")
        .replace("roles = [\"qc\"]", "roles = [\"qc\", \"QC\", \"admin\"]")
        .replace(
            "base_url = \"http://127.0.0.1:18089\"",
            "base_url = \"https://x.my/sijil/\"",
        );
    let config = parse(&text, None, &no_env).unwrap();
    assert_eq!(config.staff[2].roles, [StaffRole::Qc, StaffRole::Admin]);
    assert_eq!(config.web.base_url, "https://x.my/sijil");
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    for (url, warned) in [
        ("http://[::1]:8080/", false),
        ("http://localhost", false),
        ("http://sign.example.my:8080", true),
    ] {
        let text = contract_config("8080")
            .replace("http://127.0.0.1:18089", url)
            .replace("roles = [\"qc\"]", "roles = [\"qc\", \"admin\"]");
        let config = parse(&text, None, &no_env).unwrap();
        assert_eq!(
            config.warnings().iter().any(|w| w.key == "web.base_url"),
            warned,
            "{url}"
        );
    }
}
