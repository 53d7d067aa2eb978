//! Request bodies and query parameters, one type per endpoint family, serialised exactly as
//! CONTRACT.md §3 writes them.

use serde::Serialize;
use serde_json::Value;

use super::ids::{CompanyId, HexId};

/// ANY_PRESENT keeps rows with a listed id; NONE_PRESENT drops them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InclusionMethod {
    AnyPresent,
    NonePresent,
}

/// `{"ids": [...], "inclusion_method": ...}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Inclusion<T> {
    pub ids: Vec<T>,
    pub inclusion_method: InclusionMethod,
}

/// `filters` of installs, spend and intent, without the company part (the client adds it).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Filters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub products: Option<Inclusion<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendors: Option<Inclusion<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_categories: Option<Inclusion<HexId>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_attributes: Option<Inclusion<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_codes: Option<Inclusion<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_ids: Option<Vec<HexId>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_ids: Option<Vec<HexId>>,
}

/// One sort key.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sort {
    pub field: String,
    pub direction: SortDirection,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SortDirection {
    Asc,
    Desc,
}

/// What to ask a company endpoint for each company: fields, filters and sorts. The company ids
/// and paging are the client's business.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EnrichRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    pub filters: Filters,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sorts: Vec<Sort>,
}

/// The companies a request is about.
pub enum Companies<'a> {
    One(&'a CompanyId),
    Batch(&'a [CompanyId]),
}

impl EnrichRequest {
    /// The JSON body for `companies`. Firmographic takes its id at the top level; the others
    /// inside `filters`.
    pub fn body(&self, firmographic: bool, companies: Companies) -> Value {
        let mut body = serde_json::to_value(self).expect("request serialises");
        let object = body.as_object_mut().expect("object");
        if firmographic {
            object.remove("filters");
            object.remove("sorts");
            if let Companies::One(id) = companies {
                object.insert("company_id".into(), Value::String(id.to_string()));
            }
            return body;
        }
        let filters = object.get_mut("filters").and_then(Value::as_object_mut).expect("filters object");
        match companies {
            Companies::One(id) => filters.insert("company_id".into(), Value::String(id.to_string())),
            Companies::Batch(ids) => {
                filters.insert("company_ids".into(), ids.iter().map(|i| Value::String(i.to_string())).collect())
            }
        };
        body
    }
}

/// `GET /company/match` parameters. At least one of domain and name must be given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct MatchQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    /// 1–10.
    pub limit: u32,
}

/// A request with no company part: search (a body) or a catalog list (query parameters).
#[derive(Clone, Debug, PartialEq)]
pub enum ListQuery {
    /// `POST /company/search` with these `fields` and `filters`.
    Search { fields: Vec<String>, filters: Option<Value> },
    /// `GET /catalog/...` with an optional `name` substring.
    Catalog { name: Option<String> },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_follow_the_contract() {
        let id = CompanyId::parse("abc").unwrap();
        let request = EnrichRequest {
            fields: Some(vec!["product_id".into()]),
            filters: Filters {
                products: Some(Inclusion { ids: vec![814], inclusion_method: InclusionMethod::AnyPresent }),
                ..Filters::default()
            },
            sorts: vec![Sort { field: "product_intensity".into(), direction: SortDirection::Desc }],
        };
        assert_eq!(
            request.body(false, Companies::Batch(std::slice::from_ref(&id))),
            json!({"fields": ["product_id"],
                   "filters": {"company_ids": ["00000000000000000000000000000ABC"],
                               "products": {"ids": [814], "inclusion_method": "ANY_PRESENT"}},
                   "sorts": [{"field": "product_intensity", "direction": "DESC"}]})
        );
        let firmo = EnrichRequest { fields: Some(vec!["company_name".into()]), ..EnrichRequest::default() };
        assert_eq!(
            firmo.body(true, Companies::One(&id)),
            json!({"company_id": "00000000000000000000000000000ABC", "fields": ["company_name"]})
        );
    }
}
