//! The JSON body template of a `POST`/`PUT`/`PATCH` HTTP table: JSON as written, where a string
//! that is exactly `"{col}"` becomes the key's value typed as its column (a number stays a
//! number), `"{col*}"` the batch's values as a JSON array, and `{col}` inside a longer string
//! is replaced by the value as text. `{{col}}` is read as `{col}`, as Clay writes it.

use serde_json::Value;

use super::extract::Kind;

/// A parsed body template.
#[derive(Clone, Debug, PartialEq)]
pub struct BodyTemplate {
    json: Value,
    keys: Vec<String>,
    batch_keys: Vec<String>,
}

/// Why a body template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error(
        "option 'body' is not JSON ({message}); write it as JSON with placeholders inside strings, e.g. '{{\"domain\": \"{{domain}}\"}}'"
    )]
    NotJson { message: String },
}

impl BodyTemplate {
    pub fn parse(text: &str) -> Result<BodyTemplate, BodyError> {
        let json: Value = serde_json::from_str(text).map_err(|e| BodyError::NotJson { message: e.to_string() })?;
        let mut template = BodyTemplate { json, keys: Vec::new(), batch_keys: Vec::new() };
        let mut found = Vec::new();
        collect(&template.json, &mut found);
        for (column, batch) in found {
            if !template.keys.contains(&column) {
                template.keys.push(column.clone());
            }
            if batch && !template.batch_keys.contains(&column) {
                template.batch_keys.push(column);
            }
        }
        Ok(template)
    }

    /// The key columns the body names, in order, lower-cased.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The key columns that take a batch (`"{col*}"`).
    pub fn batch_keys(&self) -> &[String] {
        &self.batch_keys
    }

    /// The body for one request: `values(column)` gives the values of a key (one, or the
    /// batch's), `kind(column)` its column's type.
    pub fn render(&self, values: &dyn Fn(&str) -> Vec<String>, kind: &dyn Fn(&str) -> Kind) -> Value {
        fill(&self.json, values, kind)
    }
}

/// A placeholder standing alone: `{col}`, `{{col}}`, `{col*}`.
fn whole(text: &str) -> Option<(String, bool)> {
    let inner = text.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")).or_else(|| {
        text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).filter(|t| !t.contains('{') && !t.contains('}'))
    })?;
    let (name, batch) = match inner.strip_suffix('*') {
        Some(name) => (name, true),
        None => (inner, false),
    };
    name_ok(name).then(|| (name.to_ascii_lowercase(), batch))
}

fn name_ok(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Placeholders inside a longer string, as (start, end, column, batch).
fn embedded(text: &str) -> Vec<(usize, usize, String, bool)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' {
            let double = bytes.get(i + 1) == Some(&b'{');
            let open = if double { 2 } else { 1 };
            let close = if double { "}}" } else { "}" };
            if let Some(end) = text[i + open..].find(close) {
                let inner = &text[i + open..i + open + end];
                let (name, batch) = match inner.strip_suffix('*') {
                    Some(name) => (name, true),
                    None => (inner, false),
                };
                if name_ok(name) {
                    let stop = i + open + end + close.len();
                    out.push((i, stop, name.to_ascii_lowercase(), batch));
                    i = stop;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

fn collect(value: &Value, out: &mut Vec<(String, bool)>) {
    match value {
        Value::String(text) => match whole(text) {
            Some(found) => out.push(found),
            None => out.extend(embedded(text).into_iter().map(|(_, _, c, b)| (c, b))),
        },
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// A key's text as the JSON its column's type makes it: numbers and booleans typed, the rest
/// strings (a value that does not read as its type stays a string: the API says what it thinks).
fn typed(text: &str, kind: Kind) -> Value {
    let parsed = match kind {
        Kind::Int => text.parse::<i64>().ok().map(Value::from),
        Kind::Float => text.parse::<f64>().ok().and_then(|f| serde_json::Number::from_f64(f).map(Value::Number)),
        Kind::Bool => text.parse::<bool>().ok().map(Value::Bool),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_string()))
}

fn fill(value: &Value, values: &dyn Fn(&str) -> Vec<String>, kind: &dyn Fn(&str) -> Kind) -> Value {
    match value {
        Value::String(text) => {
            if let Some((column, batch)) = whole(text) {
                let given = values(&column);
                let kind = kind(&column);
                return if batch {
                    Value::Array(given.iter().map(|v| typed(v, kind)).collect())
                } else {
                    given.first().map_or(Value::Null, |v| typed(v, kind))
                };
            }
            let mut out = String::with_capacity(text.len());
            let mut at = 0;
            for (start, end, column, _) in embedded(text) {
                out.push_str(&text[at..start]);
                out.push_str(&values(&column).join(","));
                at = end;
            }
            out.push_str(&text[at..]);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, values, kind)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), fill(v, values, kind))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_placeholders_are_typed_and_embedded_ones_interpolated() {
        let t = BodyTemplate::parse(
            r#"{"domain": "{domain}", "n": "{{Size}}", "ids": "{id*}", "q": "site:{domain} x", "k": 1}"#,
        )
        .unwrap();
        let mut keys = t.keys().to_vec();
        keys.sort();
        assert_eq!(keys, ["domain", "id", "size"], "each key once, lower-cased");
        assert_eq!(t.batch_keys(), ["id"]);
        let body = t.render(
            &|c| match c {
                "domain" => vec!["a\"b.com".into()],
                "size" => vec!["42".into()],
                _ => vec!["1".into(), "x".into()],
            },
            &|c| if c == "domain" { Kind::Text } else { Kind::Int },
        );
        assert_eq!(body, json!({"domain": "a\"b.com", "n": 42, "ids": [1, "x"], "q": "site:a\"b.com x", "k": 1}));
    }

    #[test]
    fn a_body_that_is_not_json_is_named() {
        let error = BodyTemplate::parse("{domain: {domain}}").unwrap_err().to_string();
        assert!(error.contains("'body'") && error.contains("JSON"), "{error}");
    }
}
