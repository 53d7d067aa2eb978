//! Request bodies and query parameters, one type per endpoint family, serialised exactly as
//! docs/hg-api.md §3 writes them; where the company ids go is the endpoint's declaration.

use serde::Serialize;
use serde_json::Value;

use super::endpoint::Keys;
use super::ids::CompanyId;

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

/// The `filters` of a company request, without the company part (the client adds it): each
/// declared filter by its wire name, in the order the request was built (the declaration's
/// order, so the same filters are always the same request and the same cache entry).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filters(Vec<(&'static str, Value)>);

impl Filters {
    /// These filters and `name` set to `value` (replacing an earlier value of `name`).
    pub fn with(mut self, name: &'static str, value: impl Serialize) -> Filters {
        let value = serde_json::to_value(value).expect("a filter serialises");
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, old)) => *old = value,
            None => self.0.push((name, value)),
        }
        self
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every filter set, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.0.iter().map(|(n, v)| (*n, v))
    }
}

/// In order, as a flat object (the cache keys of company lookups are this text). A dotted name
/// (`firmographics.country_codes`) nests: its value sits in the object of each part before the
/// last, as search takes its filter groups.
impl Serialize for Filters {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !self.0.iter().any(|(name, _)| name.contains('.')) {
            use serde::ser::SerializeMap;
            let mut map = serializer.serialize_map(Some(self.0.len()))?;
            for (name, value) in &self.0 {
                map.serialize_entry(name, value)?;
            }
            return map.end();
        }
        let mut root = serde_json::Map::new();
        for (name, value) in &self.0 {
            let mut parts: Vec<&str> = name.split('.').collect();
            let last = parts.pop().expect("split yields a part");
            let mut object = &mut root;
            for part in parts {
                let entry = object.entry(part).or_insert_with(|| Value::Object(serde_json::Map::new()));
                object = entry.as_object_mut().expect("a filter group is an object");
            }
            object.insert(last.to_string(), value.clone());
        }
        root.serialize(serializer)
    }
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

fn filters_of(object: &mut serde_json::Map<String, Value>) -> &mut serde_json::Map<String, Value> {
    object.get_mut("filters").and_then(Value::as_object_mut).expect("filters object")
}

/// The companies a request is about.
pub enum Companies<'a> {
    One(&'a CompanyId),
    Batch(&'a [CompanyId]),
}

impl EnrichRequest {
    /// The JSON body for `companies`, placed as the endpoint's `keys` say: at the top level
    /// (and then without filters or sorts), or inside `filters`, one id or a batch.
    pub fn body(&self, keys: Keys, companies: Companies) -> Value {
        let mut body = serde_json::to_value(self).expect("request serialises");
        let object = body.as_object_mut().expect("object");
        let id = |id: &CompanyId| Value::String(id.to_string());
        match (keys, companies) {
            (Keys::OneInBody { field }, companies) => {
                object.remove("filters");
                object.remove("sorts");
                if let Companies::One(one) = companies {
                    object.insert(field.into(), id(one));
                }
            }
            (Keys::OneInFilters { field: one } | Keys::Batch { one, .. }, Companies::One(company)) => {
                filters_of(object).insert(one.into(), id(company));
            }
            (Keys::Batch { many, .. }, Companies::Batch(ids)) => {
                filters_of(object).insert(many.into(), ids.iter().map(id).collect());
            }
            (Keys::OneInFilters { field }, Companies::Batch(ids)) => {
                if let [one] = ids {
                    filters_of(object).insert(field.into(), id(one));
                }
            }
            (Keys::Enrich { group, .. }, companies) => {
                object.remove("sorts");
                if self.filters.is_empty() {
                    object.remove("filters");
                }
                let ids: Vec<Value> = match companies {
                    Companies::One(one) => vec![id(one)],
                    Companies::Batch(ids) => ids.iter().map(id).collect(),
                };
                object.insert("companies".into(), serde_json::json!({ "ids": ids }));
                object.insert("fields".into(), serde_json::json!([group]));
            }
            (Keys::OneAsObject { field, id: key }, companies) => {
                object.remove("sorts");
                if self.filters.is_empty() {
                    object.remove("filters");
                }
                let one = match companies {
                    Companies::One(one) => Some(one),
                    Companies::Batch([one]) => Some(one),
                    Companies::Batch(_) => None,
                };
                if let Some(one) = one {
                    object.insert(field.into(), serde_json::json!({ key: id(one) }));
                }
            }
            (Keys::None | Keys::Match(_) | Keys::MatchBatch { .. }, _) => {}
        }
        body
    }

    /// The request as `endpoint` takes it: without field names where it takes none (v2 enrich
    /// returns every field of its group), so its answers are cached as whole.
    pub fn fitted(mut self, endpoint: super::endpoint::Endpoint) -> EnrichRequest {
        if !endpoint.spec().takes_fields {
            self.fields = None;
        }
        self
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

/// What a request sends besides the path.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub enum Payload {
    Query(Vec<(String, String)>),
    Body(Value),
}

impl Payload {
    pub(crate) fn paged(&self, limit: usize, offset: usize) -> Payload {
        match self {
            Payload::Query(params) => {
                let mut params: Vec<(String, String)> =
                    params.iter().filter(|(k, _)| k != "limit" && k != "offset").cloned().collect();
                params.push(("limit".into(), limit.to_string()));
                params.push(("offset".into(), offset.to_string()));
                Payload::Query(params)
            }
            Payload::Body(body) => {
                let mut body = body.clone();
                if let Some(object) = body.as_object_mut() {
                    object.insert("limit".into(), limit.into());
                    object.insert("offset".into(), offset.into());
                }
                Payload::Body(body)
            }
        }
    }
}

/// A request with no company part: search (a body) or a catalog list (query parameters).
#[derive(Clone, Debug, PartialEq)]
pub enum ListQuery {
    /// `POST /company/search` with these `filters`, and these `fields` where the endpoint
    /// takes them (v2's search returns its identity fields unasked).
    Search { fields: Option<Vec<String>>, filters: Option<Value> },
    /// `GET /catalog/...` with an optional `name` substring.
    Catalog { name: Option<String> },
}

impl ListQuery {
    /// What the request sends: the catalog's name search in the query, a search its body.
    pub fn payload(&self) -> Payload {
        match self {
            ListQuery::Search { fields, filters } => {
                let mut body = serde_json::json!({});
                if let Some(fields) = fields {
                    body["fields"] = serde_json::json!(fields);
                }
                if let Some(filters) = filters {
                    body["filters"] = filters.clone();
                }
                Payload::Body(body)
            }
            ListQuery::Catalog { name } => {
                Payload::Query(name.iter().map(|n| ("name".to_string(), n.clone())).collect())
            }
        }
    }
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
            filters: Filters::default()
                .with("products", Inclusion { ids: vec![814], inclusion_method: InclusionMethod::AnyPresent }),
            sorts: vec![Sort { field: "product_intensity".into(), direction: SortDirection::Desc }],
        };
        assert_eq!(
            request.body(crate::api::Endpoint::INSTALLS.spec().keys, Companies::Batch(std::slice::from_ref(&id))),
            json!({"fields": ["product_id"],
                   "filters": {"company_ids": ["00000000000000000000000000000ABC"],
                               "products": {"ids": [814], "inclusion_method": "ANY_PRESENT"}},
                   "sorts": [{"field": "product_intensity", "direction": "DESC"}]})
        );
        let firmo = EnrichRequest { fields: Some(vec!["company_name".into()]), ..EnrichRequest::default() };
        assert_eq!(
            firmo.body(crate::api::Endpoint::FIRMOGRAPHIC.spec().keys, Companies::One(&id)),
            json!({"company_id": "00000000000000000000000000000ABC", "fields": ["company_name"]})
        );
    }

    #[test]
    fn v2_enrich_bodies_name_the_group_and_nest_its_filters() {
        let ids = [CompanyId::parse("abc").unwrap(), CompanyId::parse("1").unwrap()];
        let request = EnrichRequest {
            fields: Some(vec!["product_id".into()]),
            filters: Filters::default().with("technographics.products", json!({"ids": [814]})),
            sorts: Vec::new(),
        }
        .fitted(crate::api::Endpoint::V2_TECHNOGRAPHICS);
        assert_eq!(
            request.body(crate::api::Endpoint::V2_TECHNOGRAPHICS.spec().keys, Companies::Batch(&ids)),
            json!({"companies": {"ids": ["00000000000000000000000000000ABC", "00000000000000000000000000000001"]},
                   "fields": ["technographics"],
                   "filters": {"technographics": {"products": {"ids": [814]}}}})
        );
        let firmographics = EnrichRequest::default().fitted(crate::api::Endpoint::V2_FIRMOGRAPHICS);
        assert_eq!(
            firmographics.body(crate::api::Endpoint::V2_FIRMOGRAPHICS.spec().keys, Companies::One(&ids[0])),
            json!({"companies": {"ids": ["00000000000000000000000000000ABC"]}, "fields": ["firmographics"]})
        );
    }

    #[test]
    fn dotted_filter_names_nest_in_groups() {
        let filters = Filters::default()
            .with("firmographics.country_codes", json!([{"ids": ["DE"], "inclusion_method": "ANY_PRESENT"}]))
            .with("installs.products", json!([{"ids": [814], "inclusion_method": "ANY_PRESENT"}]))
            .with("firmographics.employees", json!({"min": 500}))
            .with("company_id", "A");
        assert_eq!(
            serde_json::to_value(&filters).unwrap(),
            json!({"firmographics": {"country_codes": [{"ids": ["DE"], "inclusion_method": "ANY_PRESENT"}],
                                     "employees": {"min": 500}},
                   "installs": {"products": [{"ids": [814], "inclusion_method": "ANY_PRESENT"}]},
                   "company_id": "A"})
        );
    }

    #[test]
    fn paging_replaces_limit_and_offset() {
        let query = Payload::Query(vec![("name".into(), "x".into()), ("limit".into(), "3".into())]);
        assert_eq!(
            query.paged(100, 200),
            Payload::Query(vec![
                ("name".into(), "x".into()),
                ("limit".into(), "100".into()),
                ("offset".into(), "200".into())
            ])
        );
    }
}
