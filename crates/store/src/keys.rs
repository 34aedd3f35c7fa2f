//! Storage keys: which strings may name a file under an artifact store's root.
//!
//! A key is relative and `/`-separated; every component is a non-empty name that
//! [`quarry_core::sanitize_file_name`] leaves unchanged (ids are such names). That rules out
//! `.` and `..`, hidden names (so the store's own `.tmp` is out of reach), absolute paths,
//! backslashes, NUL and every other control character.

use quarry_core::{Error, ObjectKey, Result, sanitize_file_name};

/// Longest key accepted.
const MAX_KEY_LEN: usize = 1_024;
/// Longest component accepted (the usual file system limit).
const MAX_COMPONENT_LEN: usize = 255;

fn invalid() -> Error {
    // The key is not echoed: it is untrusted and may hold control characters.
    Error::invalid("invalid artifact storage key")
}

/// Whether `c` may be one component of a key: the alphabet [`sanitize_file_name`] keeps
/// (letters, digits, `.`, `-`, `_`), not starting with `.`, at most 255 bytes. The length is
/// checked here rather than through `sanitize_file_name`, whose 200-byte cap on names would
/// refuse `{artifact id}-{name}` components built from a name of maximal length.
fn valid_component(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= MAX_COMPONENT_LEN
        && !c.starts_with('.')
        && c.chars()
            .all(|ch| ch.is_alphanumeric() || matches!(ch, '.' | '-' | '_'))
}

/// Checks `key` and splits it into its components.
pub(crate) fn components(key: &str) -> Result<Vec<String>> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(invalid());
    }
    key.split('/')
        .map(|c| valid_component(c).then(|| c.to_owned()).ok_or_else(invalid))
        .collect()
}

/// The key of `object`, checked: its file name must already be sanitised.
pub(crate) fn object_key(object: &ObjectKey) -> Result<(String, Vec<String>)> {
    if sanitize_file_name(&object.file_name).as_deref() != Some(object.file_name.as_str()) {
        return Err(Error::invalid(
            "artifact file name must be sanitised (see sanitize_file_name)",
        ));
    }
    let key = object.to_path();
    let parts = components(&key)?;
    Ok((key, parts))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn names_of_maximal_length_make_valid_keys() {
        let name = sanitize_file_name(&format!("{}.csv", "n".repeat(400))).unwrap();
        assert_eq!(name.len(), 200);
        let object = ObjectKey {
            tenant_id: quarry_core::TenantId::owner(),
            session_id: quarry_core::SessionId::generate(),
            run_id: quarry_core::RunId::generate(),
            artifact_id: quarry_core::ArtifactId::generate(),
            file_name: name,
        };
        assert!(object_key(&object).is_ok());
    }

    #[test]
    fn ordinary_keys_pass() {
        let parts = components("default/20260112_215333_b5537c/0123abcd/a1b2c3-top_products.csv");
        assert_eq!(parts.map(|p| p.len()).ok(), Some(4));
        assert!(components("t/s/r/a-Q1_report.v2.pdf").is_ok());
        assert!(components("t/s/r/a-données.csv").is_ok());
    }

    #[test]
    fn traversal_and_odd_keys_fail() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a/./b",
            "a//b",
            "a/b/",
            "/",
            "a\0b",
            "a/b\0",
            ".tmp/x",
            "a/.hidden",
            "a\\..\\b",
            "a b",
            "C:/x",
            "a/b\n",
            &"x".repeat(300),
            &"a/".repeat(600),
        ] {
            assert!(components(bad).is_err(), "{bad:?}");
        }
    }
}
