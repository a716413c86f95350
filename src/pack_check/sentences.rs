//! The words of each problem code: one sentence in Malay and one in
//! English for the INCOMPLETE email, the developer's clerk reading them.

use super::problems::Code;

/// The Malay and the English sentence of each code (see [`super::Problem`]'s `render`
/// for the placeholders).
pub(super) fn sentences(code: Code) -> (&'static str, &'static str) {
    match code {
        Code::FieldMissing => (
            "Maklumat \"{label}\" tiada: sila tambah baris \"{line}: …\".",
            "\"{label}\" is missing: please add the line \"{line}: …\".",
        ),
        Code::EspaRefInvalid => (
            "Rujukan eSPA tidak sah: tulis seperti HDA-2026-000123.",
            "The eSPA Reference is not valid: write it like HDA-2026-000123.",
        ),
        Code::OrderInvalid => (
            "Turutan tandatangan mesti nombor bulat dari 1 hingga 99.",
            "The Signing Order must be a whole number from 1 to 99.",
        ),
        Code::NameInvalid => (
            "Nama Penuh tidak sah: tulis nama penuh seperti dalam dokumen pengenalan, tanpa \
             nombor atau simbol.",
            "The Full Name is not valid: write the full name as in the identity document, \
             without digits or symbols.",
        ),
        Code::IdTypeInvalid => (
            "Jenis Pengenalan mesti salah satu: MyKad, MyPR atau Pasport.",
            "The ID Type must be one of MyKad, MyPR or Passport.",
        ),
        Code::MykadFormat => (
            "No. Pengenalan mesti 12 digit dalam bentuk YYMMDD-PB-###G.",
            "The ID Number must be 12 digits written as YYMMDD-PB-###G.",
        ),
        Code::MykadDate => (
            "Enam digit pertama No. Pengenalan bukan tarikh lahir yang sah.",
            "The first six digits of the ID Number are not a valid date of birth.",
        ),
        Code::MykadPlace => (
            "Kod tempat lahir (digit ke-7 dan ke-8) dalam No. Pengenalan bukan kod yang \
             dikeluarkan oleh JPN.",
            "The place-of-birth code (digits 7 and 8) of the ID Number is not a code JPN \
             issues.",
        ),
        Code::PassportFormat => (
            "No. Pasport tidak sah: mesti 5 hingga 20 huruf dan digit.",
            "The passport number is not valid: it must be 5 to 20 letters and digits.",
        ),
        Code::NationalityInvalid => (
            "Warganegara tidak sah: tulis nama negara, contohnya Malaysia atau Indonesia.",
            "The Nationality is not valid: write the country, e.g. Malaysia or Indonesia.",
        ),
        Code::EmailInvalid => (
            "Alamat emel penandatangan tidak sah.",
            "The signee's email address is not valid.",
        ),
        Code::PhoneInvalid => (
            "Nombor telefon penandatangan tidak sah.",
            "The signee's phone number is not valid.",
        ),
        Code::PhoneNotInternational => (
            "Nombor telefon mesti dalam bentuk antarabangsa dengan kod negara, contohnya \
             +971 50 123 4567.",
            "The phone number must be in international form with its country code, e.g. \
             +971 50 123 4567.",
        ),
        Code::RoleInvalid => (
            "Peranan mesti salah satu: Pembeli, Saksi, Tuan Tanah atau Pemaju.",
            "The Role must be one of Pembeli (buyer), Saksi (witness), Tuan Tanah (landowner) \
             or Pemaju (developer).",
        ),
        Code::ReasonInvalid => (
            "Sebab mesti salah satu: IDSAYA, LUAR_NEGARA, WARGA_ASING atau OKU.",
            "The Reason must be one of IDSAYA, LUAR_NEGARA, WARGA_ASING or OKU.",
        ),
        Code::IdNationalityMismatch => (
            "MyKad hanya untuk warganegara Malaysia, tetapi Warganegara bukan Malaysia.",
            "MyKad is for Malaysian citizens only, but the Nationality is not Malaysia.",
        ),
        Code::PassportMalaysian => (
            "Warganegara Malaysia mesti memohon dengan MyKad, bukan pasport.",
            "A Malaysian citizen must apply with a MyKad, not a passport.",
        ),
        Code::MyprNotPr => (
            "MyPR hanya untuk pemastautin tetap, tetapi Warganegara menyatakan warganegara \
             Malaysia.",
            "MyPR is for permanent residents only, but the Nationality says Malaysian citizen.",
        ),
        Code::ReasonNotMalaysian => (
            "Sebab LUAR_NEGARA hanya untuk warganegara Malaysia yang berada di luar negara.",
            "The reason LUAR_NEGARA is only for Malaysian citizens who are abroad.",
        ),
        Code::ReasonMalaysian => (
            "Sebab WARGA_ASING hanya untuk bukan warganegara Malaysia.",
            "The reason WARGA_ASING is only for people who are not Malaysian citizens.",
        ),
        Code::ReasonMalaysianPhone => (
            "Sebab {a} tidak boleh digunakan dengan nombor telefon Malaysia (+60).",
            "The reason {a} cannot be used with a Malaysian (+60) phone number.",
        ),
        Code::PhoneIdsayaCountry => (
            "Nombor telefon China (+86), Taiwan (+886) atau Jepun (+81) tidak layak bagi sebab \
             {a}: penandatangan boleh membuat eKYC dalam aplikasi iDsaya.",
            "A China (+86), Taiwan (+886) or Japan (+81) phone number is not eligible for the \
             reason {a}: the signee can do eKYC in the iDsaya app.",
        ),
        Code::FormMissing => (
            "Borang Permohonan (PDF) tiada dalam lampiran.",
            "The Application Form (PDF) is not attached.",
        ),
        Code::LoaMissing => (
            "Surat Kebenaran (LOA) daripada pemaju (PDF) tiada dalam lampiran.",
            "The developer's Letter of Authorisation (LOA, PDF) is not attached.",
        ),
        Code::IdDocMissing => (
            "Salinan dokumen pengenalan tiada dalam lampiran (MyKad depan dan belakang, pasport \
             atau MyPR).",
            "The copy of the identity document is not attached (MyKad front and back, passport \
             or MyPR).",
        ),
        Code::IdDocMixed => (
            "Lampirkan satu jenis dokumen pengenalan sahaja (MyKad, pasport atau MyPR), bukan \
             lebih daripada satu.",
            "Attach one kind of identity document only (MyKad, passport or MyPR), not more than \
             one.",
        ),
        Code::IdDocMismatch => (
            "Dokumen pengenalan yang dilampirkan tidak sepadan dengan Jenis Pengenalan{q}.",
            "The identity document attached does not match the ID Type{q}.",
        ),
        Code::MykadFrontMissing => (
            "Salinan MyKad bahagian depan tiada.",
            "The copy of the front of the MyKad is missing.",
        ),
        Code::MykadBackMissing => (
            "Salinan MyKad bahagian belakang tiada.",
            "The copy of the back of the MyKad is missing.",
        ),
        Code::MykadSidesSame => (
            "Salinan MyKad bahagian depan dan belakang{q} ialah fail yang sama: lampirkan \
             imbasan bahagian depan dan imbasan bahagian belakang kad.",
            "The copies of the MyKad front and back{q} are the same file: attach a scan of the \
             front and a scan of the back of the card.",
        ),
        Code::DocumentsSameFile => (
            "Lampiran{q} ialah fail yang sama untuk dua dokumen berlainan: setiap dokumen \
             (borang, dokumen pengenalan, LOA) mesti failnya sendiri.",
            "The attachments{q} are the same file sent as two different documents: each document \
             (form, identity document, LOA) must be its own file.",
        ),
        Code::AttachmentTypeRefused => (
            "Lampiran{q} ditolak: fail arkib dan fail boleh laksana tidak diterima.",
            "The attachment{q} is refused: archives and executable files are not accepted.",
        ),
        Code::AttachmentTypeNotAllowed => (
            "Lampiran{q} bukan fail PDF, JPEG atau PNG.",
            "The attachment{q} is not a PDF, JPEG or PNG file.",
        ),
        Code::AttachmentTypeMismatch => (
            "Kandungan lampiran{q} tidak sepadan dengan jenis failnya.",
            "The content of the attachment{q} does not match its file type.",
        ),
        Code::AttachmentEmpty => ("Lampiran{q} kosong.", "The attachment{q} is empty."),
        Code::AttachmentUnclassified => (
            "Lampiran{q} tidak dapat dikenal pasti: namakan fail sebagai Borang Permohonan, \
             MyKad depan, MyKad belakang, Pasport, MyPR atau LOA.",
            "The attachment{q} could not be identified: name the file Application Form, MyKad \
             front, MyKad back, Passport, MyPR or LOA.",
        ),
        Code::AttachmentNotPdf => (
            "Lampiran{q} mesti fail PDF.",
            "The attachment{q} must be a PDF file.",
        ),
        Code::AttachmentTooLarge => (
            "Lampiran{q} melebihi had saiz fail.",
            "The attachment{q} is over the file size limit.",
        ),
        Code::MessageTooLarge => (
            "Emel ini melebihi had saiz {a} bagi satu emel dan tidak dibaca: hantar lampiran \
             dalam beberapa emel balasan.",
            "This email is over the size limit of {a} for one email, so none of it was read: \
             send the attachments in several replies.",
        ),
        Code::TooManyAttachments => (
            "Emel ini mempunyai lebih daripada {a} lampiran dan hanya {a} yang pertama dibaca: \
             lampirkan dokumen permohonan sahaja, atau hantar yang selebihnya dalam emel balasan.",
            "This email has more than {a} attachments and only the first {a} were read: attach \
             only the documents of the application, or send the rest in a reply.",
        ),
        Code::SigneeUnknown => (
            "Tiada penandatangan dengan turutan ini didaftarkan bagi eSPA{q}.",
            "No signee with this Signing Order is registered for eSPA{q}.",
        ),
        Code::SigneeRoleMismatch => (
            "Peranan tidak sama dengan yang didaftarkan bagi penandatangan ini dalam eSPA: {a}. \
             Betulkan peranan, atau betulkan pendaftaran eSPA dengan membalas emel pengesahannya.",
            "The Role differs from the one registered for this signee in the eSPA: {a}. Correct \
             the Role, or correct the eSPA registration by replying to its acknowledgement.",
        ),
        Code::SigneeEmailMismatch => (
            "Emel tidak sama dengan yang didaftarkan bagi penandatangan ini dalam eSPA: {a}. \
             Betulkan emel, atau betulkan pendaftaran eSPA dengan membalas emel pengesahannya.",
            "The Email differs from the one registered for this signee in the eSPA: {a}. Correct \
             the Email, or correct the eSPA registration by replying to its acknowledgement.",
        ),
        Code::DuplicateCase => (
            "Permohonan bagi penandatangan ini sudah wujud: kes{q}.",
            "An application for this signee already exists: case{q}.",
        ),
    }
}
