//! One module per HG endpoint. Each turns a request into a [`Listing`] over the [`DataSet`];
//! authentication, rate limits, faults and credits are the server's business, not theirs.

mod catalog;
pub(crate) mod company_match;
pub(crate) mod firmographic;
pub(crate) mod installs;
pub(crate) mod intent;
pub(crate) mod search;
pub(crate) mod spend;

use serde_json::{Map, Value};

pub use firmographic::FIELDS as FIRMOGRAPHIC_FIELDS;
pub use installs::FIELDS as INSTALL_FIELDS;
pub use intent::FIELDS as INTENT_FIELDS;
pub use spend::FIELDS as SPEND_FIELDS;

use super::data::DataSet;
use super::error::ApiError;
use super::request::parse_body;

/// The endpoints of HG Data API v1 the sandbox serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Match,
    Firmographic,
    Installs,
    Spend,
    Intent,
    Search,
    CatalogProducts,
    CatalogVendors,
    CatalogCategories,
}

impl Endpoint {
    pub const ALL: [Endpoint; 9] = [
        Endpoint::Match,
        Endpoint::Firmographic,
        Endpoint::Installs,
        Endpoint::Spend,
        Endpoint::Intent,
        Endpoint::Search,
        Endpoint::CatalogProducts,
        Endpoint::CatalogVendors,
        Endpoint::CatalogCategories,
    ];

    /// Path below the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Match => "/company/match",
            Endpoint::Firmographic => "/company/firmographic",
            Endpoint::Installs => "/company/installs",
            Endpoint::Spend => "/company/spend",
            Endpoint::Intent => "/company/intent",
            Endpoint::Search => "/company/search",
            Endpoint::CatalogProducts => "/catalog/products",
            Endpoint::CatalogVendors => "/catalog/vendors",
            Endpoint::CatalogCategories => "/catalog/product-categories",
        }
    }

    pub fn from_path(path: &str) -> Option<Endpoint> {
        let path = path.trim_end_matches('/');
        Endpoint::ALL.into_iter().find(|e| e.path() == path)
    }

    /// Stable name used in `/__sandbox/stats` and by `--deny`.
    pub fn name(self) -> &'static str {
        &self.path()[1..]
    }

    pub fn is_get(self) -> bool {
        matches!(
            self,
            Endpoint::Match | Endpoint::CatalogProducts | Endpoint::CatalogVendors | Endpoint::CatalogCategories
        )
    }

    /// Enrich endpoints charge a credit per company returned for the first time.
    pub fn charged(self) -> bool {
        matches!(self, Endpoint::Firmographic | Endpoint::Installs | Endpoint::Spend | Endpoint::Intent)
    }

    /// The entitlement ("field group") a key needs for this endpoint.
    pub fn field_group(self) -> &'static str {
        match self {
            Endpoint::Match => "company_match",
            Endpoint::Firmographic => "firmographics",
            Endpoint::Installs => "technographics",
            Endpoint::Spend => "spend",
            Endpoint::Intent => "intent",
            Endpoint::Search => "company_search",
            Endpoint::CatalogProducts | Endpoint::CatalogVendors | Endpoint::CatalogCategories => "catalog",
        }
    }

    /// Reads an endpoint named on the command line (`--deny installs`): its short name, its
    /// field group, or `catalog` for all three catalog lists.
    pub fn parse_list(name: &str) -> Option<Vec<Endpoint>> {
        let name = name.trim().to_lowercase();
        let name = name.trim_start_matches("company/");
        if name == "catalog" {
            return Some(vec![Endpoint::CatalogProducts, Endpoint::CatalogVendors, Endpoint::CatalogCategories]);
        }
        Endpoint::ALL
            .into_iter()
            .find(|e| {
                e.name() == name
                    || e.name().ends_with(&format!("/{name}"))
                    || e.field_group() == name
                    || name == "firmographics" && *e == Endpoint::Firmographic
            })
            .map(|e| vec![e])
    }
}

/// What an endpoint answers with: the list envelope plus the companies it returned data for.
#[derive(Debug, Default)]
pub struct Listing {
    /// Total rows matching the request, not the page length.
    pub count: usize,
    pub data: Vec<Value>,
    /// Distinct companies whose data is on this page: what a charged endpoint bills.
    pub companies: Vec<u128>,
}

impl Listing {
    pub fn body(&self) -> Value {
        serde_json::json!({"count": self.count, "data": self.data})
    }
}

/// A request's input: query parameters for GET endpoints, the raw body for POST ones.
pub enum Input<'a> {
    Query(&'a [(String, String)]),
    Body(&'a [u8]),
}

/// Runs one endpoint on the data set.
pub fn handle(data: &DataSet, endpoint: Endpoint, input: Input) -> Result<Listing, ApiError> {
    match (endpoint, input) {
        (Endpoint::Match, Input::Query(q)) => company_match::handle(data, q),
        (Endpoint::CatalogProducts, Input::Query(q)) => catalog::products(data, q),
        (Endpoint::CatalogVendors, Input::Query(q)) => catalog::vendors(data, q),
        (Endpoint::CatalogCategories, Input::Query(q)) => catalog::categories(data, q),
        (endpoint, Input::Body(body)) => {
            let body = parse_body(body)?;
            match endpoint {
                Endpoint::Firmographic => firmographic::handle(data, &body),
                Endpoint::Installs => installs::handle(data, &body),
                Endpoint::Spend => spend::handle(data, &body),
                Endpoint::Intent => intent::handle(data, &body),
                Endpoint::Search => search::handle(data, &body),
                _ => Err(ApiError::internal()),
            }
        }
        _ => Err(ApiError::internal()),
    }
}

/// Query parameters as a map, refusing unknown and repeated ones: a repeated `limit` usually
/// means an unencoded `&` in a value.
pub fn query_params(query: &[(String, String)], allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    for (key, value) in query {
        if !allowed.contains(&key.as_str()) {
            return Err(ApiError::invalid_parameter(
                key,
                format!("Unknown query parameter '{key}'; expected one of: {}", allowed.join(", ")),
            ));
        }
        if out.insert(key.clone(), Value::String(value.clone())).is_some() {
            return Err(ApiError::invalid_parameter(key, format!("Query parameter '{key}' is given more than once")));
        }
    }
    Ok(out)
}

/// An integer query parameter within `range`, or its default.
pub fn query_int(
    params: &Map<String, Value>,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
    default: i64,
) -> Result<i64, ApiError> {
    match params.get(name).and_then(Value::as_str) {
        None => Ok(default),
        Some(raw) => raw.trim().parse::<i64>().ok().filter(|v| range.contains(v)).ok_or_else(|| {
            ApiError::invalid_parameter(
                name,
                format!("'{name}' must be an integer from {} to {}, got '{raw}'", range.start(), range.end()),
            )
        }),
    }
}

/// Builds one JSON row from the requested fields.
pub fn row(fields: &[&str], mut value: impl FnMut(&str) -> Value) -> Value {
    let mut map = Map::with_capacity(fields.len());
    for field in fields {
        map.insert((*field).to_string(), value(field));
    }
    Value::Object(map)
}

/// `Some(x)` as JSON, `None` as null.
pub fn opt<T: Into<Value>>(v: Option<T>) -> Value {
    v.map_or(Value::Null, Into::into)
}
