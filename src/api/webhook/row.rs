//! One row on its way to a webhook: the JSON object sent, the key the ledger files it under, and
//! the hash of its content. The hash is taken over the object with its keys sorted (here, not
//! by relying on how serde_json orders a map), so the same values are the same row however the
//! query orders its columns.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::api::hex;

/// A row to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutRow {
    /// The ledger's key: the key columns' values as a JSON array (`["acme.com"]`), or, without
    /// key columns, the content hash.
    pub key: String,
    /// The JSON object, as sent.
    pub payload: String,
    /// SHA-256 of the object with sorted keys.
    pub hash: String,
}

/// Why a row cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("key column '{0}' is NULL, so the ledger cannot tell this row from others; filter such rows out")]
    NullKey(String),
    #[error("a row is not a JSON object")]
    NotAnObject,
}

impl OutRow {
    /// The row whose JSON object is `payload`, filed under the values of `key` (columns).
    pub fn new(payload: String, key: &[String]) -> Result<OutRow, RowError> {
        let value: Value = serde_json::from_str(&payload).map_err(|_| RowError::NotAnObject)?;
        let Value::Object(object) = &value else { return Err(RowError::NotAnObject) };
        let hash = hex(&Sha256::digest(canonical(&value).as_bytes()));
        let key = if key.is_empty() {
            hash.clone()
        } else {
            let mut values = Vec::with_capacity(key.len());
            for column in key {
                match object.get(column) {
                    None | Some(Value::Null) => return Err(RowError::NullKey(column.clone())),
                    Some(value) => values.push(value.clone()),
                }
            }
            Value::Array(values).to_string()
        };
        Ok(OutRow { key, payload, hash })
    }
}

/// `value` as text with every object's keys sorted, whatever order it was read in.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by_key(|(k, _)| *k);
            let parts: Vec<String> =
                entries.iter().map(|(k, v)| format!("{}:{}", Value::String((*k).clone()), canonical(v))).collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_ignores_column_order_and_the_key_is_the_key_columns() {
        let key = vec!["domain".to_string()];
        let a = OutRow::new(r#"{"domain":"acme.com","employees":12}"#.into(), &key).unwrap();
        let b = OutRow::new(r#"{"employees":12,"domain":"acme.com"}"#.into(), &key).unwrap();
        let c = OutRow::new(r#"{"domain":"acme.com","employees":13}"#.into(), &key).unwrap();
        assert_eq!((a.hash == b.hash, a.hash == c.hash), (true, false));
        assert_eq!((a.key.as_str(), c.key.as_str()), (r#"["acme.com"]"#, r#"["acme.com"]"#));
        assert_eq!(a.payload, r#"{"domain":"acme.com","employees":12}"#, "sent as written");
        let whole = OutRow::new(r#"{"domain":"acme.com"}"#.into(), &[]).unwrap();
        assert_eq!(whole.key, whole.hash, "without key columns the whole row is the key");
        assert_eq!(OutRow::new(r#"{"employees":1}"#.into(), &key), Err(RowError::NullKey("domain".into())));
        assert_eq!(OutRow::new(r#"{"domain":null}"#.into(), &key), Err(RowError::NullKey("domain".into())));
    }
}
