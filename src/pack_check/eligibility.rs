//! Who may take the manual route: the reason given must fit the
//! nationality and the phone number, and the ID Type the nationality.

use super::fields::Field;
use super::phone::Phone;
use super::readers::Nationality;
use super::{Code, IdType, Problem, Reason};

/// LUAR_NEGARA and WARGA_ASING are for people iDsaya cannot serve: not on a
/// Malaysian number, and not on a number of a country iDsaya serves.
pub(super) fn check_reason(
    reason: Reason,
    nat: Option<&Nationality>,
    phone: Option<&Phone>,
    problems: &mut Vec<Problem>,
) {
    let about = || Some(reason.as_str().to_string());
    match reason {
        Reason::Idsaya | Reason::Oku => return,
        Reason::LuarNegara if nat.is_some_and(|n| !n.malaysian) => {
            problems.push(Problem::new(Code::ReasonNotMalaysian, about()));
        }
        Reason::WargaAsing if nat.is_some_and(|n| n.malaysian) => {
            problems.push(Problem::new(Code::ReasonMalaysian, about()));
        }
        Reason::LuarNegara | Reason::WargaAsing => {}
    }
    if let Some(phone) = phone {
        if phone.is_malaysian() {
            problems.push(Problem::new(Code::ReasonMalaysianPhone, about()));
        } else if phone.is_idsaya_served() {
            problems.push(Problem::new(Code::PhoneIdsayaCountry, about()));
        }
    }
}

/// The ID Type against the nationality: a MyKad is a citizen's, a passport
/// applicant is not one, and a MyPR holder is a permanent resident.
pub(super) fn check_identity(id_type: IdType, nat: &Nationality, problems: &mut Vec<Problem>) {
    let code = match id_type {
        IdType::MyKad if !nat.malaysian => Some(Code::IdNationalityMismatch),
        IdType::Passport if nat.malaysian => Some(Code::PassportMalaysian),
        IdType::MyPr if nat.malaysian => Some(Code::MyprNotPr),
        _ => None,
    };
    if let Some(code) = code {
        problems.push(Problem::field(code, Field::Nationality));
    }
}
