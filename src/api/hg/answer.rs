//! Reading an answer into rows, by the shape its endpoint declares ([`AnswerShape`]). v1 has
//! one shape; v2's are chosen, not published (docs/hg-api-v2.md), so each reader takes what
//! the contract marks *tolerate*: the list under another key, ids only inside the group, stub
//! entries, a flat list of match candidates.

use serde_json::{Map, Value};

use super::endpoint::{AnswerShape, Endpoint};
use super::ids::CompanyId;
use super::row::{FieldValue, Row};

/// One page of an answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    /// The API's `count`: all rows matching, when it says.
    pub count: Option<u64>,
    pub rows: Vec<Row>,
    /// v2 enrich: every company the answer has data for (stubs left out), with its total rows
    /// in the group when the answer says. Each row carries its company's `company_id`.
    pub companies: Vec<(CompanyId, Option<u64>)>,
    /// v2 match: the answer's entries, each with what ties it to an input.
    pub matches: Vec<MatchEntry>,
}

/// One entry of a v2 match answer: candidates, best first, and whatever says which input they
/// are for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MatchEntry {
    /// The input as the answer echoes it: (domain, name, country).
    pub echo: Option<[Option<String>; 3]>,
    /// An index into the request's inputs, when the answer gives one.
    pub index: Option<usize>,
    /// A candidate of a flat list (no entry per input): tied to an input by its own domain.
    pub flat: bool,
    pub rows: Vec<Row>,
}

/// The page `value` holds, as `endpoint` declares its answers.
pub fn page(endpoint: Endpoint, value: Value) -> Result<Page, String> {
    match endpoint.spec().answer {
        AnswerShape::Data { at } => {
            let value = match at {
                Some(key) => value.get(key).cloned().ok_or_else(|| format!("the answer has no '{key}'"))?,
                None => value,
            };
            let rows = rows_of(endpoint, value.get("data"), "data")?;
            Ok(Page { count: value.get("count").and_then(Value::as_u64), rows, ..Page::default() })
        }
        AnswerShape::List { list, count } => {
            let found = value.get(list).or_else(|| value.get("data"));
            let rows = rows_of(endpoint, found, list)?;
            Ok(Page { count: value.get(count).and_then(Value::as_u64), rows, ..Page::default() })
        }
        AnswerShape::Matches => matches(endpoint, &value),
        AnswerShape::Companies { group, rows } => companies(endpoint, &value, group, rows),
        AnswerShape::Number { at } => {
            let number =
                value.get(at).filter(|v| v.is_number()).ok_or_else(|| format!("the answer has no number '{at}'"))?;
            let object: Map<String, Value> = [("value".to_string(), number.clone())].into_iter().collect();
            Ok(Page { count: Some(1), rows: vec![Row::decode(endpoint, &object)], ..Page::default() })
        }
        AnswerShape::Balance { at } => {
            let row = match value.get(at) {
                Some(Value::Object(object)) => Row::decode(endpoint, object),
                Some(number @ Value::Number(_)) => {
                    let object: Map<String, Value> = [("remaining".to_string(), number.clone())].into_iter().collect();
                    Row::decode(endpoint, &object)
                }
                _ => return Err(format!("the answer has no '{at}'")),
            };
            Ok(Page { count: Some(1), rows: vec![row], ..Page::default() })
        }
    }
}

fn rows_of(endpoint: Endpoint, list: Option<&Value>, name: &str) -> Result<Vec<Row>, String> {
    let list = list.and_then(Value::as_array).ok_or_else(|| format!("the answer has no '{name}' list"))?;
    list.iter()
        .map(|item| {
            item.as_object()
                .map(|o| Row::decode(endpoint, o))
                .ok_or_else(|| format!("a '{name}' item is not an object"))
        })
        .collect()
}

/// The first of `keys` that `object` has, as text.
fn text_at(object: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| object.get(*k)).and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    })
}

/// The list of entries: under `companies`, else `data`, else the answer itself.
fn entries(value: &Value) -> Result<&Vec<Value>, String> {
    value
        .get("companies")
        .or_else(|| value.get("data"))
        .or_else(|| value.get("results"))
        .unwrap_or(value)
        .as_array()
        .ok_or_else(|| "the answer has no 'companies' list".to_string())
}

fn matches(endpoint: Endpoint, value: &Value) -> Result<Page, String> {
    let mut page = Page::default();
    for (position, entry) in entries(value)?.iter().enumerate() {
        let entry = entry.as_object().ok_or_else(|| format!("match entry {position} is not an object"))?;
        let candidates = ["matches", "candidates", "results"].iter().find_map(|k| entry.get(*k));
        let Some(candidates) = candidates else {
            // A flat list: the entry is a candidate itself.
            let row = Row::decode(endpoint, entry);
            page.matches.push(MatchEntry { flat: true, rows: vec![row], ..MatchEntry::default() });
            continue;
        };
        let rows = match candidates {
            Value::Null => Vec::new(),
            list => rows_of(endpoint, Some(list), "matches")?,
        };
        let echo =
            ["input", "query", "request"].iter().find_map(|k| entry.get(*k)).and_then(Value::as_object).map(|input| {
                [
                    text_at(input, &["domain", "domain_name", "url"]),
                    text_at(input, &["name", "company_name"]),
                    text_at(input, &["country", "country_code"]),
                ]
            });
        let index = ["index", "input_index"].iter().find_map(|k| entry.get(*k)).and_then(Value::as_u64);
        page.matches.push(MatchEntry { echo, index: index.map(|i| i as usize), flat: false, rows });
    }
    page.count = Some(page.matches.len() as u64);
    Ok(page)
}

fn companies(
    endpoint: Endpoint,
    value: &Value,
    group: &str,
    rows: Option<(&'static str, &'static str)>,
) -> Result<Page, String> {
    let mut page = Page::default();
    for (position, entry) in entries(value)?.iter().enumerate() {
        let entry = entry.as_object().ok_or_else(|| format!("company entry {position} is not an object"))?;
        let data = entry.get(group).filter(|d| !d.is_null());
        // The id beside the groups, else inside one (HG may give it only as `firmographics.id`).
        let inside = |group: Option<&Value>| {
            group.and_then(Value::as_object).and_then(|d| text_at(d, &["id", "company_id", "hg_id"]))
        };
        let id = text_at(entry, &["company_id", "id", "hg_id"])
            .or_else(|| inside(data))
            .or_else(|| inside(entry.get("firmographics")));
        let Some(id) = id.and_then(|id| CompanyId::parse(&id).ok()) else {
            return Err(format!("company entry {position} names no company id"));
        };
        // A stub (the group null or absent): HG has nothing for this company.
        let Some(data) = data else { continue };
        let stamp = |mut row: Row| {
            row.fields.insert("company_id".into(), FieldValue::Text(id.to_string()));
            row
        };
        let total = match rows {
            None => {
                let object =
                    data.as_object().ok_or_else(|| format!("'{group}' of entry {position} is not an object"))?;
                page.rows.push(stamp(Row::decode(endpoint, object)));
                None
            }
            Some((list, count)) => {
                let (items, total) = match data {
                    Value::Array(_) => (Some(data), None),
                    _ => (data.get(list), data.get(count).and_then(Value::as_u64)),
                };
                let decoded = match items {
                    None | Some(Value::Null) => Vec::new(),
                    items => rows_of(endpoint, items, list)?,
                };
                page.rows.extend(decoded.into_iter().map(stamp));
                total
            }
        };
        page.companies.push((id, total));
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn enrich_answers_are_read_by_id_whatever_their_order_or_spelling() {
        let answer = json!({"companies": [
            {"company_id": "b", "technographics": {"installs": [{"product_id": 7, "intensity": 3, "product": "X"}], "installs_count": 9}},
            {"company_id": "c", "technographics": null},
            {"firmographics": {"id": "a"}, "technographics": [{"product_id": 8}]},
        ]});
        let page = page(Endpoint::V2_TECHNOGRAPHICS, answer).unwrap();
        let ids: Vec<(String, Option<u64>)> = page.companies.iter().map(|(id, n)| (id.to_string(), *n)).collect();
        assert_eq!(
            ids,
            [
                ("0000000000000000000000000000000B".to_string(), Some(9)),
                ("0000000000000000000000000000000A".to_string(), None)
            ],
            "the stub C is not found; A's id is read inside its data"
        );
        let first = &page.rows[0];
        assert_eq!(first.get("product_intensity"), Some(&FieldValue::Int(3)), "v2's name read as v1's field");
        assert_eq!(first.get("product_name").and_then(FieldValue::as_str), Some("X"), "and the older one");
        assert_eq!(first.company_id(), Some("0000000000000000000000000000000B"));
        assert_eq!(page.rows[1].company_id(), Some("0000000000000000000000000000000A"));
    }

    #[test]
    fn match_entries_keep_what_ties_them_to_inputs() {
        let answer = json!({"companies": [
            {"input": {"domain": "acme.com"}, "matches": [{"id": "1", "name": "Acme", "url": "acme.com"}]},
            {"index": 1, "matches": []},
        ]});
        let page = page(Endpoint::V2_MATCH, answer).unwrap();
        assert_eq!(page.matches.len(), 2);
        assert_eq!(page.matches[0].echo, Some([Some("acme.com".into()), None, None]));
        let row = &page.matches[0].rows[0];
        assert_eq!(row.company_id(), Some("00000000000000000000000000000001"));
        assert_eq!(row.get("company_name").and_then(FieldValue::as_str), Some("Acme"));
        assert_eq!(row.get("domain_name").and_then(FieldValue::as_str), Some("acme.com"));
        assert_eq!((page.matches[1].index, page.matches[1].rows.len()), (Some(1), 0));
        let flat =
            super::page(Endpoint::V2_MATCH, json!({"companies": [{"company_id": "2", "domain": "b.com"}]})).unwrap();
        assert!(flat.matches[0].flat);
    }
}
