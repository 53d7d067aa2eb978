//! HG Data API v2 as the sandbox serves it (docs/hg-api-v2.md): the same data set as v1 behind
//! other paths and other shapes. Match takes up to 10 inputs a request, enrich up to 25
//! companies and several field groups at once; the estimates, the balance, search and the
//! catalog are free; intent and functional areas take one company a request. Like
//! the v1 endpoints, these only turn a request into an answer; the server does the rest.

mod enrich;
mod functional;
mod intent;
mod matching;
mod search;

use serde_json::Value;

use super::data::DataSet;
use super::endpoints::{self, Endpoint as V1Endpoint, Input};
use super::error::ApiError;
use super::request::parse_body;

pub use enrich::{GROUPS, Group};

/// Every v2 path starts with this.
pub const BASE_PATH: &str = "/data-api/v2";

/// The v2 endpoints the sandbox serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Match,
    Enrich,
    EnrichEstimate,
    Credits,
    Search,
    FunctionalAreas,
    FunctionalAreasEstimate,
    Intent,
    CatalogProducts,
    CatalogVendors,
    CatalogCategories,
}

impl Endpoint {
    pub const ALL: [Endpoint; 11] = [
        Endpoint::Match,
        Endpoint::Enrich,
        Endpoint::EnrichEstimate,
        Endpoint::Credits,
        Endpoint::Search,
        Endpoint::FunctionalAreas,
        Endpoint::FunctionalAreasEstimate,
        Endpoint::Intent,
        Endpoint::CatalogProducts,
        Endpoint::CatalogVendors,
        Endpoint::CatalogCategories,
    ];

    /// Path below the v2 base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Match => "/companies/match",
            Endpoint::Enrich => "/companies/enrich",
            Endpoint::EnrichEstimate => "/companies/enrich/estimate",
            Endpoint::Credits => "/credits",
            Endpoint::Search => "/companies/search",
            Endpoint::FunctionalAreas => "/companies/functional-areas",
            Endpoint::FunctionalAreasEstimate => "/companies/functional-areas/estimate",
            Endpoint::Intent => "/intent/enrich",
            Endpoint::CatalogProducts => "/catalog/products",
            Endpoint::CatalogVendors => "/catalog/vendors",
            Endpoint::CatalogCategories => "/catalog/product-categories",
        }
    }

    pub fn from_path(path: &str) -> Option<Endpoint> {
        let path = path.trim_end_matches('/');
        Endpoint::ALL.into_iter().find(|e| e.path() == path)
    }

    /// Name in `/__sandbox/stats`: `v2/` and the path.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Match => "v2/companies/match",
            Endpoint::Enrich => "v2/companies/enrich",
            Endpoint::EnrichEstimate => "v2/companies/enrich/estimate",
            Endpoint::Credits => "v2/credits",
            Endpoint::Search => "v2/companies/search",
            Endpoint::FunctionalAreas => "v2/companies/functional-areas",
            Endpoint::FunctionalAreasEstimate => "v2/companies/functional-areas/estimate",
            Endpoint::Intent => "v2/intent/enrich",
            Endpoint::CatalogProducts => "v2/catalog/products",
            Endpoint::CatalogVendors => "v2/catalog/vendors",
            Endpoint::CatalogCategories => "v2/catalog/product-categories",
        }
    }

    pub fn is_get(self) -> bool {
        matches!(
            self,
            Endpoint::Credits | Endpoint::CatalogProducts | Endpoint::CatalogVendors | Endpoint::CatalogCategories
        )
    }

    /// The v1 endpoint that sells or lists the same data: what `--deny` names.
    pub fn v1(self) -> Option<V1Endpoint> {
        match self {
            Endpoint::Match => Some(V1Endpoint::Match),
            Endpoint::Search => Some(V1Endpoint::Search),
            Endpoint::Intent => Some(V1Endpoint::Intent),
            Endpoint::CatalogProducts => Some(V1Endpoint::CatalogProducts),
            Endpoint::CatalogVendors => Some(V1Endpoint::CatalogVendors),
            Endpoint::CatalogCategories => Some(V1Endpoint::CatalogCategories),
            _ => None,
        }
    }
}

/// How the sandbox's v2 bends where the real API may (each a switch, so the client's
/// tolerance is tested).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quirks {
    /// Most companies one enrich request may carry (HG documents 25).
    pub max_batch: usize,
    /// Enrich answers in an order of its own, not the input's.
    pub shuffled: bool,
    /// An unknown company gets an entry with null groups instead of none.
    pub stubs: bool,
    /// Older field spellings: `url`, `city`, `state`, `industry`, `sic_code`; `product`,
    /// `product_intensity`.
    pub old_spellings: bool,
    /// No `x-credits-remaining` header (HG documents `GET /credits` as the way to read it).
    pub no_credit_header: bool,
}

impl Default for Quirks {
    fn default() -> Quirks {
        Quirks { max_batch: 25, shuffled: false, stubs: false, old_spellings: false, no_credit_header: false }
    }
}

/// What a v2 request came to: the answer, and for enrich the companies that returned data per
/// field group (what the ledger charges, once a contract year).
#[derive(Debug, Default)]
pub struct Answer {
    pub body: Value,
    pub returned: Vec<(Group, Vec<u128>)>,
    /// The groups the request asked for: a key denied one is refused, even for an estimate.
    pub asked: Vec<Group>,
    /// Companies the request carried (for the stats).
    pub companies: usize,
}

/// Runs one v2 endpoint on the data set (not `/credits`, which is the ledger's). `not_charged`
/// says, for the estimate, whether a company has yet to be charged in a field group.
pub fn handle(
    data: &DataSet,
    endpoint: Endpoint,
    input: Input,
    quirks: Quirks,
    not_charged: &dyn Fn(Group, u128) -> bool,
) -> Result<Answer, ApiError> {
    let catalog =
        matches!(endpoint, Endpoint::CatalogProducts | Endpoint::CatalogVendors | Endpoint::CatalogCategories);
    if let Some(v1) = endpoint.v1().filter(|_| catalog) {
        // The catalog: v1's paths and shapes under the v2 base (docs/hg-api-v2.md §2.7).
        let listing = endpoints::handle(data, v1, input)?;
        return Ok(Answer { body: listing.body(), ..Answer::default() });
    }
    let Input::Body(body) = input else { return Err(ApiError::internal()) };
    let body = parse_body(body)?;
    match endpoint {
        Endpoint::Match => matching::handle(data, &body),
        Endpoint::Enrich => enrich::handle(data, &body, quirks),
        Endpoint::EnrichEstimate => enrich::estimate(data, &body, quirks, not_charged),
        Endpoint::Search => search::handle(data, &body),
        Endpoint::Intent => intent::handle(data, &body),
        Endpoint::FunctionalAreas => functional::handle(data, &body),
        Endpoint::FunctionalAreasEstimate => functional::estimate(data, &body, not_charged),
        _ => Err(ApiError::internal()),
    }
}
