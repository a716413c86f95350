//! The field rules: every field line read into its normal form, or a
//! problem naming the field; then the rules between fields.

use chrono::NaiveDate;

use super::eligibility::{check_identity, check_reason};
use super::fields::{Field, Fields};
use super::mykad::{self, MyKadError};
use super::phone::{self, PhoneError};
use super::readers::{email, espa_ref, full_name, nationality, order, passport_number};
use super::{Application, Code, IdType, Problem, Reason, SigneeRole};

/// The value of `field`, or a FIELD_MISSING problem.
fn required<'f>(fields: &'f Fields, field: Field, problems: &mut Vec<Problem>) -> Option<&'f str> {
    match fields.get(field).map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => Some(v),
        None => {
            problems.push(Problem::field(Code::FieldMissing, field));
            None
        }
    }
}

/// Reads `field` with `read`, or records `code` when it does not read.
fn read<'f, T>(
    fields: &'f Fields,
    field: Field,
    code: Code,
    problems: &mut Vec<Problem>,
    parse: impl FnOnce(&'f str) -> Option<T>,
) -> Option<T> {
    let value = required(fields, field, problems)?;
    let parsed = parse(value);
    if parsed.is_none() {
        problems.push(Problem::field(code, field));
    }
    parsed
}

/// Every field rule and the rules between fields. Returns the application
/// when every field read (the caller drops it if any problem was found) and
/// the ID Type, which the attachment rules need.
pub(super) fn check_fields(
    fields: &Fields,
    today: NaiveDate,
    problems: &mut Vec<Problem>,
) -> (Option<Application>, Option<IdType>) {
    let espa = read(
        fields,
        Field::EspaRef,
        Code::EspaRefInvalid,
        problems,
        espa_ref,
    );
    let order = read(fields, Field::Order, Code::OrderInvalid, problems, order);
    let name = read(
        fields,
        Field::FullName,
        Code::NameInvalid,
        problems,
        full_name,
    );
    let id_type = read(
        fields,
        Field::IdType,
        Code::IdTypeInvalid,
        problems,
        IdType::parse,
    );
    let id_number = required(fields, Field::IdNumber, problems)
        .and_then(|raw| id_number(raw, id_type, today, problems));
    let nat = read(
        fields,
        Field::Nationality,
        Code::NationalityInvalid,
        problems,
        nationality,
    );
    let email = read(fields, Field::Email, Code::EmailInvalid, problems, email);
    let phone = required(fields, Field::Phone, problems).and_then(|raw| {
        phone::normalise(raw)
            .map_err(|e| {
                let code = match e {
                    PhoneError::NotInternational => Code::PhoneNotInternational,
                    PhoneError::Empty | PhoneError::BadCharacters | PhoneError::Invalid => {
                        Code::PhoneInvalid
                    }
                };
                problems.push(Problem::field(code, Field::Phone));
            })
            .ok()
    });
    let role = read(
        fields,
        Field::Role,
        Code::RoleInvalid,
        problems,
        SigneeRole::parse,
    );
    let reason = read(
        fields,
        Field::Reason,
        Code::ReasonInvalid,
        problems,
        Reason::parse,
    );

    if let (Some(id_type), Some(nat)) = (id_type, &nat) {
        check_identity(id_type, nat, problems);
    }
    if let Some(reason) = reason {
        check_reason(reason, nat.as_ref(), phone.as_ref(), problems);
    }

    let application = (|| {
        let nat = nat?;
        let id_type = id_type?;
        Some(Application {
            espa_ref: espa?,
            order: order?,
            full_name: name?,
            id_type,
            id_number: id_number?,
            permanent_resident: nat.permanent_resident || id_type == IdType::MyPr,
            malaysian: nat.malaysian,
            nationality: nat.name,
            email: email?,
            phone: phone?.e164,
            role: role?,
            reason: reason?,
        })
    })();
    (application, id_type)
}

/// The ID number read as the ID Type says; with no valid ID Type there is
/// nothing to check it against (ID_TYPE_INVALID is already recorded).
fn id_number(
    raw: &str,
    id_type: Option<IdType>,
    today: NaiveDate,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let result = match id_type? {
        IdType::MyKad | IdType::MyPr => {
            mykad::check(raw, today)
                .map(|k| k.normalised)
                .map_err(|e| match e {
                    MyKadError::Format => Code::MykadFormat,
                    MyKadError::Date => Code::MykadDate,
                    MyKadError::Place => Code::MykadPlace,
                })
        }
        IdType::Passport => passport_number(raw).ok_or(Code::PassportFormat),
    };
    result
        .map_err(|code| problems.push(Problem::field(code, Field::IdNumber)))
        .ok()
}
