//! Taking a gone key out of the audit fields stored beside it, inside the statements that
//! drop the key: SQL function `forget_unkey(json, key)`, backed by [`crate::keys::redact`],
//! so every form of the key an audit field holds — `BOB@EXAMPLE.ORG`, `0044…`, `%2B44…` —
//! is masked, not just exact copies (which is all SQL's `replace` could do).

use std::borrow::Cow;

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use serde_json::{Map, Value};

use crate::keys::redact;

/// Make `forget_unkey` available on `conn` (every connection that writes the ledger).
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "forget_unkey",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text = ctx.get_raw(0).as_str_or_null()?;
            let key = ctx.get_raw(1).as_str_or_null()?;
            Ok(match (text, key) {
                (Some(text), Some(key)) => unkey(text, key),
                _ => None,
            })
        },
    )
}

/// The stored JSON object `json` (names and values) with every form of `key` masked in its
/// values; `None` when no value holds the key (the stored text is then left as it is).
pub fn unkey(json: &str, key: &str) -> Option<String> {
    // Most audit fields never mention their key: one scan of the raw text says so, unless
    // a JSON escape could hide a form of it.
    if matches!(redact(json, key), Cow::Borrowed(_)) && !json.contains('\\') {
        return None;
    }
    let Ok(mut map) = serde_json::from_str::<Map<String, Value>>(json) else {
        // Not a JSON object (never written so): mask the text as it is.
        return match redact(json, key) {
            Cow::Owned(masked) => Some(masked),
            Cow::Borrowed(_) => None,
        };
    };
    let mut changed = false;
    for value in map.values_mut() {
        if let Value::String(text) = value
            && let Cow::Owned(masked) = redact(text, key)
        {
            *text = masked;
            changed = true;
        }
    }
    changed.then(|| Value::Object(map).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_fields_lose_every_form_of_their_key() {
        let key = "bob.0@example.org";
        let masked = crate::keys::mask(key);
        let case = |json: &str, want: Option<String>| assert_eq!(unkey(json, key), want, "{json}");
        case(r#"{"exparam1":"REQ-1"}"#, None);
        case(
            r#"{"exparam1":"from BOB.0@EXAMPLE.ORG","exparam2":"REQ-1"}"#,
            Some(format!(
                r#"{{"exparam1":"from {masked}","exparam2":"REQ-1"}}"#
            )),
        );
        case(
            r#"{"exparam1":"bob.0\u0040example.org"}"#,
            Some(format!(r#"{{"exparam1":"{masked}"}}"#)),
        );
        case("bob.0%40example.org", Some(masked.clone()));
        case("not json", None);
    }

    #[test]
    fn the_sql_function_masks_and_leaves_null_alone() -> rusqlite::Result<()> {
        let conn = Connection::open_in_memory()?;
        register(&conn)?;
        let got: Option<String> = conn.query_row(
            "SELECT forget_unkey(?1, ?2)",
            [r#"{"exparam1":"00447922200000"}"#, "+447922200000"],
            |r| r.get(0),
        )?;
        assert_eq!(got.as_deref(), Some(r#"{"exparam1":"+44********00"}"#));
        let got: Option<String> =
            conn.query_row("SELECT forget_unkey(NULL, 'x')", [], |r| r.get(0))?;
        assert_eq!(got, None);
        Ok(())
    }
}
