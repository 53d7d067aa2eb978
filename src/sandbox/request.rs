//! Reading request bodies strictly, with a JSON pointer for every complaint, and the request
//! parts several endpoints share: `fields`, paging, `sorts`, company ids and inclusion filters.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::data::parse_id;
use super::error::ApiError;

/// Largest `limit` a list endpoint accepts.
pub const MAX_LIMIT: u64 = 100;
/// `limit` when the request gives none.
pub const DEFAULT_LIMIT: u64 = 10;
/// Most ids a `company_ids` batch may hold.
pub const MAX_BATCH: usize = 25;

/// A JSON object of the request together with where it sits, so errors can point at it.
#[derive(Clone)]
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    at: String,
}

/// Parses a request body; malformed JSON is a 400, anything but an object a 422.
pub fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed("Request body is empty; send a JSON object"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::malformed(format!("Malformed JSON: {e}")))
}

impl<'a> Obj<'a> {
    pub fn root(value: &'a Value) -> Result<Obj<'a>, ApiError> {
        value
            .as_object()
            .map(|map| Obj { map, at: String::new() })
            .ok_or_else(|| ApiError::invalid("", "Request body must be a JSON object"))
    }

    /// `value`, found at `at` (an element of an array), as an object.
    pub fn at(value: &'a Value, at: String) -> Result<Obj<'a>, ApiError> {
        match value.as_object() {
            Some(map) => Ok(Obj { map, at }),
            None => Err(ApiError::invalid(at, "must be an object")),
        }
    }

    /// Pointer to `key` inside this object.
    pub fn pointer(&self, key: &str) -> String {
        format!("{}/{}", self.at, key)
    }

    /// Rejects keys outside `allowed`: a misspelt filter must not be silently ignored.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(key) => Err(ApiError::invalid(
                self.pointer(key),
                format!("Unknown property '{key}'; expected one of: {}", allowed.join(", ")),
            )),
            None => Ok(()),
        }
    }

    /// The value at `key`; JSON null counts as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn object(&self, key: &str) -> Result<Option<Obj<'a>>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj { map, at: self.pointer(key) })),
            Some(_) => Err(ApiError::invalid(self.pointer(key), format!("'{key}' must be an object"))),
        }
    }

    pub fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(ApiError::invalid(self.pointer(key), format!("'{key}' must be an array"))),
        }
    }

    pub fn string(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(self.pointer(key), format!("'{key}' must be a string"))),
        }
    }

    pub fn integer(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::invalid(self.pointer(key), format!("'{key}' must be an integer"))),
        }
    }

    pub fn number(&self, key: &str) -> Result<Option<f64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| ApiError::invalid(self.pointer(key), format!("'{key}' must be a number"))),
        }
    }

    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid(self.pointer(key), format!("'{key}' must be true or false"))),
        }
    }
}

/// The `fields` list: each must be one of `allowed`; absent means `default`.
pub fn fields(obj: &Obj, allowed: &[&'static str], default: &[&'static str]) -> Result<Vec<&'static str>, ApiError> {
    let Some(items) = obj.array("fields")? else {
        return Ok(default.to_vec());
    };
    if items.is_empty() {
        return Err(ApiError::invalid(obj.pointer("fields"), "'fields' must name at least one field"));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let pointer = format!("{}/{i}", obj.pointer("fields"));
        let name = item.as_str().ok_or_else(|| ApiError::invalid(&pointer, "Field names must be strings"))?;
        let known = allowed
            .iter()
            .find(|f| **f == name)
            .ok_or_else(|| ApiError::invalid(&pointer, format!("Unknown field '{name}'")))?;
        if !out.contains(known) {
            out.push(*known);
        }
    }
    Ok(out)
}

/// `limit` and `offset`: limit 1..=`max_limit` (default 10), offset ≥ 0.
pub fn paging(obj: &Obj, max_limit: u64) -> Result<(usize, usize), ApiError> {
    let limit = match obj.integer("limit")? {
        None => DEFAULT_LIMIT.min(max_limit),
        Some(l) if l >= 1 && l as u64 <= max_limit => l as u64,
        Some(l) => {
            return Err(ApiError::invalid(
                obj.pointer("limit"),
                format!("'limit' must be between 1 and {max_limit}, got {l}"),
            ));
        }
    };
    let offset = match obj.integer("offset")? {
        None => 0,
        Some(o) if o >= 0 => o as u64,
        Some(o) => {
            return Err(ApiError::invalid(obj.pointer("offset"), format!("'offset' must be 0 or more, got {o}")));
        }
    };
    Ok((limit as usize, offset as usize))
}

/// One requested sort key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sort {
    pub field: &'static str,
    pub descending: bool,
}

pub fn sorts(obj: &Obj, allowed: &[&'static str]) -> Result<Vec<Sort>, ApiError> {
    let Some(items) = obj.array("sorts")? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{}/{i}", obj.pointer("sorts"));
        let map = item.as_object().ok_or_else(|| ApiError::invalid(&at, "Each sort must be an object"))?;
        let sort = Obj { map, at: at.clone() };
        sort.only(&["field", "direction"])?;
        let name =
            sort.string("field")?.ok_or_else(|| ApiError::invalid(sort.pointer("field"), "A sort needs a 'field'"))?;
        let field = allowed.iter().find(|f| **f == name).ok_or_else(|| {
            ApiError::invalid(
                sort.pointer("field"),
                format!("Cannot sort by '{name}'; sortable fields: {}", allowed.join(", ")),
            )
        })?;
        let descending = match sort.string("direction")? {
            None | Some("ASC") => false,
            Some("DESC") => true,
            Some(other) => {
                return Err(ApiError::invalid(
                    sort.pointer("direction"),
                    format!("'direction' must be ASC or DESC, got '{other}'"),
                ));
            }
        };
        out.push(Sort { field, descending });
    }
    Ok(out)
}

/// Reads a company id string, in any accepted form.
pub fn company_id(value: &Value, pointer: &str) -> Result<u128, ApiError> {
    let raw = value.as_str().ok_or_else(|| ApiError::invalid(pointer, "A company id must be a string"))?;
    parse_id(raw.trim()).ok_or_else(|| {
        ApiError::invalid(pointer, format!("'{raw}' is not an HG company id (hexadecimal, up to 32 digits)"))
    })
}

/// `company_id` or `company_ids` inside `filters`: exactly one must be present; the batch form
/// only where `batch` allows it, and at most 25 ids. Duplicates are dropped, order kept.
pub fn company_selector(filters: &Obj, batch: bool) -> Result<Vec<u128>, ApiError> {
    let single = filters.get("company_id");
    let many = filters.get("company_ids");
    match (single, many) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            filters.pointer("company_ids"),
            "Provide either 'company_id' or 'company_ids', not both",
        )),
        (None, None) if batch => {
            Err(ApiError::invalid(filters.pointer("company_id"), "Provide either 'company_id' or 'company_ids'"))
        }
        (None, None) => Err(ApiError::invalid(filters.pointer("company_id"), "'company_id' is required")),
        (Some(id), None) => Ok(vec![company_id(id, &filters.pointer("company_id"))?]),
        (None, Some(_)) if !batch => Err(ApiError::invalid(
            filters.pointer("company_ids"),
            "This endpoint takes one 'company_id'; 'company_ids' is not supported",
        )),
        (None, Some(ids)) => {
            let pointer = filters.pointer("company_ids");
            let ids = ids.as_array().ok_or_else(|| ApiError::invalid(&pointer, "'company_ids' must be an array"))?;
            if ids.is_empty() {
                return Err(ApiError::invalid(&pointer, "'company_ids' must hold at least one id"));
            }
            if ids.len() > MAX_BATCH {
                return Err(ApiError::invalid(
                    &pointer,
                    format!("'company_ids' holds {} ids; at most {MAX_BATCH} are allowed", ids.len()),
                ));
            }
            let mut out: Vec<u128> = Vec::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                let id = company_id(id, &format!("{pointer}/{i}"))?;
                if !out.contains(&id) {
                    out.push(id);
                }
            }
            Ok(out)
        }
    }
}

/// The kind of ids an inclusion filter holds.
#[derive(Clone, Copy)]
pub enum IdKind {
    Integer,
    /// 128-bit hex ids (categories, topics), compared by value.
    Hex,
    /// ISO country codes or region names, compared case-insensitively.
    Code,
}

/// An id read from a filter.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterId {
    Int(i64),
    Hex(u128),
    Code(String),
}

/// `{"ids": [...], "inclusion_method": "ANY_PRESENT" | "NONE_PRESENT"}`.
#[derive(Clone, Debug)]
pub struct Inclusion {
    pub ids: Vec<FilterId>,
    /// `true` for NONE_PRESENT.
    pub exclude: bool,
    pub product_count: Option<(Option<i64>, Option<i64>)>,
}

impl Inclusion {
    /// Whether a row carrying any of `values` passes this filter.
    pub fn admits(&self, values: &[FilterId]) -> bool {
        let any = values.iter().any(|v| self.ids.contains(v));
        any != self.exclude
    }
}

pub fn inclusion(value: &Value, pointer: &str, kind: IdKind, allow_product_count: bool) -> Result<Inclusion, ApiError> {
    let map = value.as_object().ok_or_else(|| {
        ApiError::invalid(pointer, "An inclusion filter must be an object with 'ids' and 'inclusion_method'")
    })?;
    let obj = Obj { map, at: pointer.to_string() };
    if allow_product_count {
        obj.only(&["ids", "inclusion_method", "product_count"])?;
    } else {
        obj.only(&["ids", "inclusion_method"])?;
    }
    let ids = obj.array("ids")?.ok_or_else(|| ApiError::invalid(obj.pointer("ids"), "'ids' is required"))?;
    if ids.is_empty() {
        return Err(ApiError::invalid(obj.pointer("ids"), "'ids' must hold at least one id"));
    }
    let ids = filter_ids(ids, &obj.pointer("ids"), kind)?;
    let exclude = match obj.string("inclusion_method")? {
        Some("ANY_PRESENT") => false,
        Some("NONE_PRESENT") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                obj.pointer("inclusion_method"),
                format!("'inclusion_method' must be ANY_PRESENT or NONE_PRESENT, got '{other}'"),
            ));
        }
        None => return Err(ApiError::invalid(obj.pointer("inclusion_method"), "'inclusion_method' is required")),
    };
    let product_count = match obj.object("product_count")? {
        None => None,
        Some(range) => {
            range.only(&["min", "max"])?;
            Some((range.integer("min")?, range.integer("max")?))
        }
    };
    Ok(Inclusion { ids, exclude, product_count })
}

/// A plain list of ids (spend's `category_ids`, intent's `topic_ids`).
pub fn filter_ids(items: &[Value], pointer: &str, kind: IdKind) -> Result<Vec<FilterId>, ApiError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{pointer}/{i}");
            match kind {
                IdKind::Integer => {
                    item.as_i64().map(FilterId::Int).ok_or_else(|| ApiError::invalid(&at, "Expected an integer id"))
                }
                IdKind::Hex => item
                    .as_str()
                    .and_then(|s| parse_id(s.trim()))
                    .map(FilterId::Hex)
                    .ok_or_else(|| ApiError::invalid(&at, "Expected a hexadecimal id of up to 32 digits")),
                IdKind::Code => item
                    .as_str()
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| FilterId::Code(s.trim().to_uppercase()))
                    .ok_or_else(|| ApiError::invalid(&at, "Expected a code string")),
            }
        })
        .collect()
}

/// A sortable value of one field of one row.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
pub enum SortValue {
    Int(i64),
    Text(String),
    Null,
}

/// Orders rows by the requested sorts, then by `default`, then by `tie_break`. Nulls sort last
/// in both directions.
pub fn order<T>(
    rows: &mut [T],
    requested: &[Sort],
    default: &[Sort],
    key: impl Fn(&T, &str) -> SortValue,
    tie_break: impl Fn(&T, &T) -> Ordering,
) {
    rows.sort_by(|a, b| {
        for sort in requested.iter().chain(default) {
            let (x, y) = (key(a, sort.field), key(b, sort.field));
            let ordering = match (&x, &y) {
                (SortValue::Null, SortValue::Null) => Ordering::Equal,
                (SortValue::Null, _) => Ordering::Greater,
                (_, SortValue::Null) => Ordering::Less,
                _ => {
                    let o = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
                    if sort.descending { o.reverse() } else { o }
                }
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        tie_break(a, b)
    });
}

/// The rows of one page.
pub fn page<T>(rows: &[T], limit: usize, offset: usize) -> &[T] {
    let start = offset.min(rows.len());
    let end = start.saturating_add(limit).min(rows.len());
    &rows[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(r: Result<impl std::fmt::Debug, ApiError>) -> (u16, String) {
        let e = r.expect_err("expected an error");
        (e.status.as_u16(), e.pointer.unwrap_or_default())
    }

    #[test]
    fn unknown_fields_point_at_their_index() {
        let body = json!({"fields": ["product_id", "nope"]});
        let obj = Obj::root(&body).unwrap();
        assert_eq!(err(fields(&obj, &["product_id"], &["product_id"])), (422, "/fields/1".into()));
    }

    #[test]
    fn paging_bounds() {
        for (body, pointer) in [
            (json!({"limit": 0}), "/limit"),
            (json!({"limit": 101}), "/limit"),
            (json!({"offset": -1}), "/offset"),
            (json!({"limit": "5"}), "/limit"),
        ] {
            assert_eq!(err(paging(&Obj::root(&body).unwrap(), MAX_LIMIT)), (422, pointer.into()), "{body}");
        }
        let body = json!({});
        assert_eq!(paging(&Obj::root(&body).unwrap(), MAX_LIMIT).unwrap(), (10, 0));
    }

    #[test]
    fn selector_rules() {
        let both = json!({"company_id": "A", "company_ids": ["B"]});
        assert_eq!(err(company_selector(&Obj::root(&both).unwrap(), true)), (422, "/company_ids".into()));
        let neither = json!({});
        assert_eq!(err(company_selector(&Obj::root(&neither).unwrap(), true)), (422, "/company_id".into()));
        let many = json!({"company_ids": (0..26).map(|i| format!("{i:X}")).collect::<Vec<_>>()});
        assert_eq!(err(company_selector(&Obj::root(&many).unwrap(), true)), (422, "/company_ids".into()));
        let dupes = json!({"company_ids": ["0A", "a", "B"]});
        assert_eq!(company_selector(&Obj::root(&dupes).unwrap(), true).unwrap(), vec![10, 11]);
        let batch = json!({"company_ids": ["A"]});
        assert_eq!(err(company_selector(&Obj::root(&batch).unwrap(), false)), (422, "/company_ids".into()));
    }

    #[test]
    fn inclusion_methods() {
        let any = inclusion(&json!({"ids": [1, 2], "inclusion_method": "ANY_PRESENT"}), "/p", IdKind::Integer, false)
            .unwrap();
        assert!(any.admits(&[FilterId::Int(2)]));
        assert!(!any.admits(&[FilterId::Int(3)]));
        let none =
            inclusion(&json!({"ids": [1], "inclusion_method": "NONE_PRESENT"}), "/p", IdKind::Integer, false).unwrap();
        assert!(!none.admits(&[FilterId::Int(1)]));
        assert!(none.admits(&[FilterId::Int(3)]));
        let bad = inclusion(&json!({"ids": [1], "inclusion_method": "ALL_PRESENT"}), "/p", IdKind::Integer, false);
        assert_eq!(err(bad), (422, "/p/inclusion_method".into()));
    }

    #[test]
    fn nulls_sort_last_both_ways() {
        let mut rows = vec![Some(2), None, Some(1)];
        let key = |r: &Option<i64>, _: &str| r.map_or(SortValue::Null, SortValue::Int);
        order(&mut rows, &[Sort { field: "x", descending: true }], &[], key, |_, _| Ordering::Equal);
        assert_eq!(rows, vec![Some(2), Some(1), None]);
        order(&mut rows, &[Sort { field: "x", descending: false }], &[], key, |_, _| Ordering::Equal);
        assert_eq!(rows, vec![Some(1), Some(2), None]);
    }
}
