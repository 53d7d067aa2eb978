//! `hgsql doctor --probe`: a few free calls to HG, and every difference between what HG sent
//! and the shapes hgsql was built against (docs/hg-api.md, docs/hg-api-v2.md): a key missing,
//! a key the contract does not name, a value of another type. HG publishes only part of its
//! response shapes, so the first user with a real key can report the truth in one paste.
//! Nothing charged is asked; the key is never shown.

use serde_json::{Value, json};

use crate::api::http::extract::json_kind;
use crate::api::{ApiVersion, Endpoint, HgClient, HgError, Payload};

/// A domain to match: any company HG knows will do.
const PROBE_DOMAIN: &str = "hginsights.com";

/// One free call and the shape its answer should have: a JSON value whose types are the
/// expected ones (`0` a number, `""` a string, `[x]` a list of `x`, `{…}` those keys).
struct Probe {
    endpoint: Endpoint,
    payload: Payload,
    shown: String,
    expected: Value,
}

/// A difference between what HG sent and the expected shape, at a JSON pointer.
#[derive(Debug, PartialEq, Eq)]
pub enum Difference {
    Missing { at: String, expected: &'static str },
    New { at: String, found: &'static str },
    OtherType { at: String, expected: &'static str, found: &'static str },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Missing { at, expected } => write!(f, "{at}: missing (the contract has a {expected})"),
            Difference::New { at, found } => write!(f, "{at}: a {found} the contract does not name"),
            Difference::OtherType { at, expected, found } => {
                write!(f, "{at}: a {found} where the contract has a {expected}")
            }
        }
    }
}

/// Every difference between `found` and the `expected` shape, under `at`. A list is checked
/// by its first element; an empty one has nothing to check.
pub fn differences(expected: &Value, found: &Value, at: &str) -> Vec<Difference> {
    match (expected, found) {
        (Value::Object(want), Value::Object(got)) => {
            let mut out = Vec::new();
            for (key, shape) in want {
                let here = format!("{at}/{key}");
                match got.get(key) {
                    Some(value) => out.extend(differences(shape, value, &here)),
                    None => out.push(Difference::Missing { at: here, expected: json_kind(shape) }),
                }
            }
            for (key, value) in got {
                if !want.contains_key(key) {
                    out.push(Difference::New { at: format!("{at}/{key}"), found: json_kind(value) });
                }
            }
            out
        }
        (Value::Array(want), Value::Array(got)) => match (want.first(), got.first()) {
            (Some(shape), Some(first)) => differences(shape, first, &format!("{at}/0")),
            _ => Vec::new(),
        },
        (want, got) if json_kind(want) == json_kind(got) => Vec::new(),
        (want, got) => {
            vec![Difference::OtherType { at: at.to_string(), expected: json_kind(want), found: json_kind(got) }]
        }
    }
}

fn probes(version: ApiVersion) -> Vec<Probe> {
    match version {
        ApiVersion::V1 => vec![
            Probe {
                endpoint: Endpoint::PRODUCTS,
                payload: Payload::Query(vec![("limit".into(), "1".into())]),
                shown: "GET /catalog/products?limit=1".into(),
                expected: json!({"count": 0, "data": [{"id": 0, "name": "", "description": "", "vendor_id": 0,
                                                        "vendor_name": "", "product_category_id": ""}]}),
            },
            Probe {
                endpoint: Endpoint::MATCH,
                payload: Payload::Query(vec![
                    ("domain_name".into(), PROBE_DOMAIN.into()),
                    ("limit".into(), "1".into()),
                ]),
                shown: format!("GET /company/match?domain_name={PROBE_DOMAIN}&limit=1"),
                expected: json!({"count": 0, "data": [{"company_id": "", "company_name": "", "domain_name": ""}]}),
            },
            Probe {
                endpoint: Endpoint::SEARCH,
                payload: Payload::Body(json!({"fields": ["company_id", "company_name", "domain_name"], "limit": 1})),
                shown: "POST /company/search (one company)".into(),
                expected: json!({"count": 0, "data": [{"company_id": "", "company_name": "", "domain_name": ""}]}),
            },
        ],
        ApiVersion::V2 => vec![
            Probe {
                endpoint: Endpoint::V2_CREDITS,
                payload: Payload::Query(Vec::new()),
                shown: "GET /credits".into(),
                expected: json!({"credits": {"total": 0, "used": 0, "remaining": 0}}),
            },
            Probe {
                endpoint: Endpoint::V2_MATCH,
                payload: Payload::Body(json!({"companies": [{"domain": PROBE_DOMAIN}], "limit": 1})),
                shown: format!("POST /companies/match {{\"companies\": [{{\"domain\": \"{PROBE_DOMAIN}\"}}]}}"),
                expected: json!({"companies": [{"input": {"domain": ""},
                                                "matches": [{"id": "", "name": "", "domain": "", "country_code": ""}]}]}),
            },
            Probe {
                endpoint: Endpoint::V2_SEARCH,
                payload: Payload::Body(json!({"limit": 1})),
                shown: "POST /companies/search (one company)".into(),
                expected: json!({"companies": [{"id": "", "name": "", "domain": ""}], "count": 0}),
            },
        ],
    }
}

/// A company id in a match or search answer, however it is spelled.
fn company_id(answer: &Value) -> Option<String> {
    let entry = &answer["companies"][0];
    let candidate = entry["matches"][0].as_object().or_else(|| entry.as_object())?;
    let id = ["id", "company_id", "hg_id"].iter().find_map(|k| candidate.get(*k)).and_then(Value::as_str)?;
    Some(id.to_string())
}

/// The estimate probe (v2): for a company the match or the search found, what an enrich of
/// every group would cost, without asking for it.
fn estimate_probe(id: &str) -> Probe {
    Probe {
        endpoint: Endpoint::V2_ENRICH_ESTIMATE,
        payload: Payload::Body(
            json!({"companies": {"ids": [id]}, "fields": ["firmographics", "technographics", "spend"]}),
        ),
        shown: "POST /companies/enrich/estimate (one company, every field group)".into(),
        expected: json!({"credits_estimate": 0}),
    }
}

/// Runs the probes and prints what HG sent against what hgsql expects; the number of
/// differences, or the error that stopped it.
pub async fn run(client: &HgClient, line: &dyn Fn(&str, &str)) -> Result<usize, HgError> {
    let version = client.config().version;
    let mut queue = probes(version);
    let mut total = 0;
    let mut index = 0;
    let mut found_id = None;
    while index < queue.len() {
        let answer = client.send_raw(queue[index].endpoint, &queue[index].payload).await?;
        let probe = &queue[index];
        let found = differences(&probe.expected, &answer, "");
        line("probe", &format!("{} (free): {} difference(s)", probe.shown, found.len()));
        for difference in &found {
            println!("    {difference}");
        }
        total += found.len();
        if found_id.is_none() && matches!(probe.endpoint, e if e == Endpoint::V2_MATCH || e == Endpoint::V2_SEARCH) {
            found_id = company_id(&answer);
            if let Some(id) = &found_id {
                queue.push(estimate_probe(id));
            }
        }
        index += 1;
    }
    if version == ApiVersion::V2 && found_id.is_none() {
        line("probe", "neither the match nor the search named a company, so no estimate was asked");
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_missing_new_and_retyped_keys_by_pointer() {
        let expected = json!({"credits": {"total": 0, "used": 0, "remaining": 0}, "list": [{"id": ""}]});
        let found = json!({"credits": {"total": "100", "remaining": 5, "plan": "pro"}, "list": [{"id": "A"}, {}]});
        let got = differences(&expected, &found, "");
        assert_eq!(
            got,
            vec![
                Difference::OtherType { at: "/credits/total".into(), expected: "number", found: "string" },
                Difference::Missing { at: "/credits/used".into(), expected: "number" },
                Difference::New { at: "/credits/plan".into(), found: "string" },
            ]
        );
        assert_eq!(got[1].to_string(), "/credits/used: missing (the contract has a number)");
        assert!(
            differences(&expected, &json!({"credits": {"total": 1, "used": 2, "remaining": 3}, "list": []}), "")
                .is_empty()
        );
    }
}
