//! `[[developer]]` and `[[staff]]`: who may send packs and commands, and the
//! mistakes that span them (one address claimed twice, our own sender
//! claimed by a person).

use super::*;

pub(super) fn check_developers(
    raw: Option<Vec<Option<RawDeveloper>>>,
    ctx: &mut Ctx,
) -> Entries<Developer> {
    let mut entries = Entries {
        valid: Vec::new(),
        all_valid: true,
    };
    let raw = match raw {
        Some(raw) => raw,
        None if ctx.refused.contains("developer") => {
            entries.all_valid = false;
            return entries;
        }
        None => Vec::new(),
    };
    if raw.is_empty() {
        ctx.error(
            "developer",
            "no [[developer]]: every application pack would be quarantined; add at least one",
        );
        entries.all_valid = false;
    }
    for (i, dev) in raw.into_iter().enumerate() {
        let n = i + 1;
        let Some(dev) = dev else {
            entries.all_valid = false;
            continue;
        };
        match check_developer(dev, &format!("developer[{n}]"), ctx) {
            Ok(dev) => entries.valid.push((n, dev)),
            Err(Reported) => entries.all_valid = false,
        }
    }
    entries
}

fn check_developer(raw: RawDeveloper, key: &str, ctx: &mut Ctx) -> Checked<Developer> {
    let company = required_text(
        raw.company,
        &format!("{key}.company"),
        "the company name",
        ctx,
    );
    let addresses = check_address_list(raw.addresses, &format!("{key}.addresses"), ctx);
    let domain = match raw.domain {
        Some(domain) => {
            let lower = domain.trim().to_lowercase();
            if let Some(bare) = lower.strip_prefix('@').filter(|d| address::is_domain(d)) {
                Err(ctx.error(
                    format!("{key}.domain"),
                    format!("write the domain without '@': domain = {bare:?}"),
                ))
            } else if address::is_domain(&lower) {
                Ok(Some(lower))
            } else {
                Err(ctx.error(
                    format!("{key}.domain"),
                    format!("{domain:?} is not a domain name"),
                ))
            }
        }
        None => Ok(None),
    };
    // Not when a key of this entry was refused: it may be a misspelt
    // `addresses` or `domain`, already reported.
    let section_refused = ctx
        .refused
        .iter()
        .any(|k| k.starts_with(&format!("{key}.")));
    if let (Ok(addresses), Ok(None)) = (&addresses, &domain)
        && addresses.is_empty()
        && !section_refused
    {
        ctx.error(
            key,
            "give the developer's sender addresses = [...] or a whole domain = \"...\"",
        );
        return Err(Reported);
    }
    Ok(Developer {
        company: company?,
        addresses: addresses?,
        domain: domain?,
    })
}

fn check_address_list(raw: Option<Vec<String>>, key: &str, ctx: &mut Ctx) -> Checked<Vec<String>> {
    let mut ok = true;
    let mut out: Vec<String> = Vec::new();
    for address in raw.unwrap_or_default() {
        let lower = address::bare(&address);
        if !address::is_valid(&lower) {
            ctx.error(key, format!("{address:?} is not an email address"));
            ok = false;
        } else if !out.contains(&lower) {
            out.push(lower);
        }
    }
    if ok { Ok(out) } else { Err(Reported) }
}

pub(super) fn check_staff(raw: Option<Vec<Option<RawStaff>>>, ctx: &mut Ctx) -> Entries<Staff> {
    let mut entries = Entries {
        valid: Vec::new(),
        all_valid: true,
    };
    let raw = match raw {
        Some(raw) => raw,
        None if ctx.refused.contains("staff") => {
            entries.all_valid = false;
            return entries;
        }
        None => Vec::new(),
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, staff) in raw.into_iter().enumerate() {
        let n = i + 1;
        let Some(staff) = staff else {
            entries.all_valid = false;
            continue;
        };
        let key = format!("staff[{n}]");
        let name = required_text(staff.name, &format!("{key}.name"), "the person's name", ctx);
        let address = match staff.address {
            Some(address) => {
                let lower = address::bare(&address);
                if !address::is_valid(&lower) {
                    Err(ctx.error(
                        format!("{key}.address"),
                        format!("{address:?} is not an email address"),
                    ))
                } else if let Some(first) = seen.insert(lower.clone(), n) {
                    Err(ctx.error(
                        format!("{key}.address"),
                        format!("{lower} is already staff[{first}]: give each person one entry with all their roles"),
                    ))
                } else {
                    Ok(lower)
                }
            }
            None => Err(ctx.missing(
                &format!("{key}.address"),
                "the staff member's email address",
            )),
        };
        let roles = check_roles(staff.roles, &format!("{key}.roles"), ctx);
        match (name, address, roles) {
            (Ok(name), Ok(address), Ok(roles)) => entries.valid.push((
                n,
                Staff {
                    name,
                    address,
                    roles,
                },
            )),
            _ => entries.all_valid = false,
        }
    }
    if entries.all_valid
        && !entries
            .valid
            .iter()
            .any(|(_, s)| s.has(StaffRole::Verifier))
    {
        ctx.error(
            "staff",
            "no [[staff]] with role \"verifier\": nobody would be told of a new case",
        );
        entries.all_valid = false;
    }
    entries
}

fn check_roles(raw: Option<Vec<String>>, key: &str, ctx: &mut Ctx) -> Checked<Vec<StaffRole>> {
    let Some(raw) = raw else {
        return Err(ctx.missing(
            key,
            "roles = [...] with one or more of \"verifier\", \"officer\", \"qc\", \"admin\"",
        ));
    };
    if raw.is_empty() {
        return Err(ctx.error(
            key,
            "empty: give one or more of \"verifier\", \"officer\", \"qc\", \"admin\"",
        ));
    }
    let mut ok = true;
    let mut roles = Vec::new();
    for text in raw {
        match text.trim().to_lowercase().parse::<StaffRole>() {
            Ok(role) if !roles.contains(&role) => roles.push(role),
            Ok(_) => {}
            Err(_) => {
                ctx.error(
                    key,
                    format!(
                        "unknown role {text:?}: expected \"verifier\", \"officer\", \"qc\" or \"admin\""
                    ),
                );
                ok = false;
            }
        }
    }
    if ok { Ok(roles) } else { Err(Reported) }
}

/// Mistakes that span sections: one address claimed twice, or our own
/// sender address claimed by a person (the daemon would answer itself).
pub(super) fn cross_check(
    developers: &Entries<Developer>,
    staff: &Entries<Staff>,
    outbound: Option<&Outbound>,
    ctx: &mut Ctx,
) {
    let mut address_owner: HashMap<&str, String> = HashMap::new();
    let mut domain_owner: HashMap<&str, String> = HashMap::new();
    for (n, dev) in &developers.valid {
        let who = format!("developer[{n}] ({})", dev.company);
        for address in &dev.addresses {
            if let Some(first) = address_owner.insert(address, who.clone()) {
                ctx.error(
                    format!("developer[{n}].addresses"),
                    format!("{address} is also listed by {first}"),
                );
            }
        }
        if let Some(domain) = &dev.domain
            && let Some(first) = domain_owner.insert(domain, who.clone())
        {
            ctx.error(
                format!("developer[{n}].domain"),
                format!("{domain} is also the domain of {first}"),
            );
        }
    }
    let developer_of = |address: &str| {
        address_owner.get(address).cloned().or_else(|| {
            let domain = address.rsplit_once('@')?.1;
            domain_owner.get(domain).cloned()
        })
    };
    for (n, person) in &staff.valid {
        if let Some(dev) = developer_of(&person.address) {
            ctx.error(
                format!("staff[{n}].address"),
                format!(
                    "{} also belongs to {dev}: staff commands and developer mail would be confused",
                    person.address
                ),
            );
        }
    }
    let Some(outbound) = outbound else { return };
    for (key, from) in [
        ("outbound.from_ra", &outbound.from_ra),
        ("outbound.from_hims", &outbound.from_hims),
    ] {
        let email = from.email.to_lowercase();
        let owner = developer_of(&email).or_else(|| {
            staff
                .valid
                .iter()
                .find(|(_, s)| s.address == email)
                .map(|(n, s)| format!("staff[{n}] ({})", s.name))
        });
        if let Some(owner) = owner {
            ctx.error(
                key,
                format!("{email} also belongs to {owner}: the daemon would answer its own mail"),
            );
        }
    }
}
