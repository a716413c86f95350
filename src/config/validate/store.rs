//! `[store]`: the database, the documents beside it, and how long ID
//! copies and untouched cases are kept.

use super::*;

pub(super) fn check_store(raw: Option<RawStore>, ctx: &mut Ctx) -> Checked<StoreConfig> {
    let Some(raw) = raw else {
        return Err(ctx.missing(
            "store",
            "a [store] section with path, e.g. path = \"var/sijil.db\"",
        ));
    };
    let path = required_path(
        raw.path,
        "store.path",
        "the database directory, e.g. \"var/sijil.db\"",
        ctx,
    );
    let documents = match (raw.documents_path, &path) {
        (Some(documents), _) if documents.as_os_str().is_empty() => {
            Err(ctx.error("store.documents_path", "must not be empty"))
        }
        (Some(documents), Ok(path)) if documents == *path || documents.starts_with(path) => {
            Err(ctx.error(
                "store.documents_path",
                "must be outside the database directory store.path",
            ))
        }
        (Some(documents), _) => Ok(documents),
        (None, Ok(path)) => {
            let mut beside = path.clone().into_os_string();
            beside.push(".documents");
            Ok(PathBuf::from(beside))
        }
        (None, Err(_)) => Err(Reported),
    };
    let purge = int_in(
        raw.purge_after_days,
        DEFAULT_PURGE_AFTER_DAYS,
        1,
        3650,
        "store.purge_after_days",
        ctx,
    );
    let abandon = int_in(
        raw.abandon_after_days,
        DEFAULT_ABANDON_AFTER_DAYS,
        1,
        3650,
        "store.abandon_after_days",
        ctx,
    );
    let remember = int_in(
        raw.remember_messages_days,
        DEFAULT_REMEMBER_MESSAGES_DAYS,
        1,
        3650,
        "store.remember_messages_days",
        ctx,
    );
    Ok(StoreConfig {
        path: path?,
        documents: documents?,
        purge_after_days: purge? as u32,
        abandon_after_days: abandon? as u32,
        remember_messages_days: remember? as u32,
    })
}
