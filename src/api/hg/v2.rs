//! The HG Data API v2 endpoints, declared (docs/hg-api-v2.md §2). Each serves the same table as
//! its v1 counterpart, so it declares the v1 fields: the names v2 sends (`name`, `intensity`)
//! and their older spellings are aliases, read as those fields. A filter keeps the name tables
//! know it by (v1's) and says where v2 takes it. Adding one is a declaration here and its
//! entry in [`ALL`].

use super::endpoint::{
    AnswerShape, Charge, Endpoint, EndpointSpec, FilterForm, IdKind, Keys, MatchParams, Method, Paging,
};
use super::endpoint::{FieldType, WireFilter};
use super::v1;

/// Every v2 endpoint.
pub static ALL: [Endpoint; 13] = [
    Endpoint::V2_MATCH,
    Endpoint::V2_FIRMOGRAPHICS,
    Endpoint::V2_TECHNOGRAPHICS,
    Endpoint::V2_SPEND,
    Endpoint::V2_INTENT,
    Endpoint::V2_SEARCH,
    Endpoint::V2_PRODUCTS,
    Endpoint::V2_VENDORS,
    Endpoint::V2_CATEGORIES,
    Endpoint::V2_FUNCTIONAL_AREAS,
    Endpoint::V2_ENRICH_ESTIMATE,
    Endpoint::V2_FUNCTIONAL_AREAS_ESTIMATE,
    Endpoint::V2_CREDITS,
];

/// The v2 endpoint of a [`name`](Endpoint::name).
pub fn named(name: &str) -> Option<Endpoint> {
    ALL.iter().copied().find(|e| e.name() == name)
}

/// Inputs one match request carries at most (§2.1).
pub const MATCH_BATCH: usize = 10;

/// Companies one enrich request carries at most (§2.2; a 422 on fewer halves the batch).
pub const ENRICH_BATCH: usize = 25;

const MATCH_ALIASES: &[(&str, &str)] = &[
    ("id", "company_id"),
    ("hg_id", "company_id"),
    ("name", "company_name"),
    ("domain", "domain_name"),
    ("url", "domain_name"),
];

const FIRMOGRAPHIC_ALIASES: &[(&str, &str)] = &[
    ("id", "company_id"),
    ("hg_id", "company_id"),
    ("name", "company_name"),
    ("domain", "domain_name"),
    ("url", "domain_name"),
    ("domain_normalized", "domain_name_normalized"),
    ("city", "city_name"),
    ("state", "state_name"),
    ("industry", "industry_name"),
    ("sic_code", "sic_codes"),
];

const INSTALL_ALIASES: &[(&str, &str)] =
    &[("intensity", "product_intensity"), ("product", "product_name"), ("hg_id", "company_id")];

const TECHNOGRAPHIC_FILTERS: &[WireFilter] = &[
    WireFilter::at("products", "technographics.products", FilterForm::AnyOf { key: "ids", kind: IdKind::Int }),
    WireFilter::at("vendors", "technographics.vendors", FilterForm::AnyOf { key: "ids", kind: IdKind::Int }),
    WireFilter::at(
        "product_categories",
        "technographics.product_categories",
        FilterForm::AnyOf { key: "ids", kind: IdKind::Hex },
    ),
    WireFilter::at("country_codes", "technographics.country", FilterForm::AnyOf { key: "codes", kind: IdKind::Text }),
];

const SPEND_FILTERS: &[WireFilter] =
    &[WireFilter::at("category_ids", "spend.categories", FilterForm::AnyOf { key: "ids", kind: IdKind::Hex })];

const fn enrich(
    name: &'static str,
    group: &'static str,
    fields: &'static [(&'static str, FieldType)],
    filters: &'static [WireFilter],
    rows: Option<(&'static str, &'static str)>,
    aliases: &'static [(&'static str, &'static str)],
) -> EndpointSpec {
    EndpointSpec {
        name,
        path: "/companies/enrich",
        method: Method::Post,
        keys: Keys::Enrich { group, max: ENRICH_BATCH },
        paging: if rows.is_some() { Paging::PerCompany } else { Paging::None },
        takes_fields: false,
        fields,
        filters,
        charged: Charge::PerCompany,
        max_rows: None,
        answer: AnswerShape::Companies { group, rows },
        aliases,
    }
}

/// Search's identity fields under v1's names (§2.5).
const SEARCH_ALIASES: &[(&str, &str)] = &[("id", "company_id"), ("name", "company_name"), ("domain", "domain_name")];

/// Intent topics: v2's documented names for v1's fields (§2.7).
const INTENT_ALIASES: &[(&str, &str)] = &[
    ("name", "topic_name"),
    ("score", "signal_strength"),
    ("trend", "signal_trend"),
    ("context_type_names", "context_name_array"),
    ("last_seen_at", "datestamp"),
];

const NAME_SEARCH: &[WireFilter] = &[WireFilter::new("name", FilterForm::Substring)];

/// A catalog list: v1's path and shape under the v2 base (§2.7).
const fn catalog(name: &'static str, path: &'static str, fields: &'static [(&'static str, FieldType)]) -> EndpointSpec {
    EndpointSpec {
        name,
        path,
        method: Method::Get,
        keys: Keys::None,
        paging: Paging::LimitOffset,
        takes_fields: false,
        fields,
        filters: NAME_SEARCH,
        charged: Charge::Free,
        max_rows: Some(v1::CATALOG_ROWS),
        answer: AnswerShape::Data { at: None },
        aliases: &[],
    }
}

/// What functional areas return (§2.6), beside the company asked for.
pub const FUNCTIONAL_AREA_FIELDS: &[(&str, FieldType)] = &[
    ("company_id", FieldType::Id),
    ("product_id", FieldType::Int),
    ("product_name", FieldType::Text),
    ("department", FieldType::Text),
    ("role", FieldType::Text),
    ("city_name", FieldType::Text),
    ("state_name", FieldType::Text),
    ("country_code", FieldType::Text),
    ("signal_strength", FieldType::Int),
    ("decision_maker_titles", FieldType::TextList),
    ("influencer_titles", FieldType::TextList),
];

/// An estimate: the same body as `path` without `/estimate`, answered with a ceiling (§2.3).
const fn estimate(name: &'static str, path: &'static str) -> EndpointSpec {
    EndpointSpec {
        name,
        path,
        method: Method::Post,
        keys: Keys::None,
        paging: Paging::None,
        takes_fields: false,
        fields: &[("value", FieldType::Int)],
        filters: &[],
        charged: Charge::Free,
        max_rows: None,
        answer: AnswerShape::Number { at: "credits_estimate" },
        aliases: &[],
    }
}

/// The free estimate of what a request to `endpoint` may cost, where HG offers one.
pub fn estimate_of(endpoint: Endpoint) -> Option<Endpoint> {
    match endpoint.spec().keys {
        Keys::Enrich { .. } => Some(Endpoint::V2_ENRICH_ESTIMATE),
        _ if endpoint == Endpoint::V2_FUNCTIONAL_AREAS => Some(Endpoint::V2_FUNCTIONAL_AREAS_ESTIMATE),
        _ => None,
    }
}

impl Endpoint {
    /// `POST /companies/enrich/estimate` (§2.3): what an enrich would cost at most; free.
    pub const V2_ENRICH_ESTIMATE: Endpoint =
        Endpoint::of(&estimate("v2 enrich estimate", "/companies/enrich/estimate"));

    /// `POST /companies/functional-areas/estimate` (§2.6): free.
    pub const V2_FUNCTIONAL_AREAS_ESTIMATE: Endpoint =
        Endpoint::of(&estimate("v2 functional areas estimate", "/companies/functional-areas/estimate"));

    /// `POST /companies/functional-areas` (§2.6): where a company uses a product, by
    /// department, role and location; one company a request, charged per company and product.
    pub const V2_FUNCTIONAL_AREAS: Endpoint = Endpoint::of(&EndpointSpec {
        name: "v2 functional areas",
        path: "/companies/functional-areas",
        method: Method::Post,
        keys: Keys::OneAsObject { field: "company", id: "id" },
        paging: Paging::LimitOffset,
        takes_fields: false,
        fields: FUNCTIONAL_AREA_FIELDS,
        filters: &[WireFilter::new("products", FilterForm::AnyOf { key: "ids", kind: IdKind::Int })],
        charged: Charge::PerCompanyAnd { field: "product_id", filter: "products" },
        max_rows: None,
        answer: AnswerShape::Data { at: None },
        aliases: &[],
    });

    /// `POST /companies/search` (§2.5): v1's filter tree, identity only; free, 25,000 at most.
    pub const V2_SEARCH: Endpoint = Endpoint::of(&EndpointSpec {
        name: "v2 search",
        path: "/companies/search",
        method: Method::Post,
        keys: Keys::None,
        paging: Paging::LimitOffset,
        takes_fields: false,
        fields: v1::SEARCH_FIELDS,
        filters: v1::SEARCH_FILTERS,
        charged: Charge::Free,
        max_rows: Some(25_000),
        answer: AnswerShape::List { list: "companies", count: "count" },
        aliases: SEARCH_ALIASES,
    });

    /// `POST /intent/enrich` (§2.7): one company's research topics; charged once per company.
    pub const V2_INTENT: Endpoint = Endpoint::of(&EndpointSpec {
        name: "v2 intent",
        path: "/intent/enrich",
        method: Method::Post,
        keys: Keys::OneAsObject { field: "company", id: "id" },
        paging: Paging::LimitOffset,
        takes_fields: false,
        fields: v1::INTENT_FIELDS,
        filters: &[],
        charged: Charge::PerCompany,
        max_rows: None,
        answer: AnswerShape::Data { at: Some("topics") },
        aliases: INTENT_ALIASES,
    });

    /// `GET /catalog/products` under the v2 base; free.
    pub const V2_PRODUCTS: Endpoint = Endpoint::of(&catalog("v2 products", "/catalog/products", v1::PRODUCTS_FIELDS));
    /// `GET /catalog/vendors` under the v2 base; free.
    pub const V2_VENDORS: Endpoint = Endpoint::of(&catalog("v2 vendors", "/catalog/vendors", v1::VENDORS_FIELDS));
    /// `GET /catalog/product-categories` under the v2 base; free.
    pub const V2_CATEGORIES: Endpoint =
        Endpoint::of(&catalog("v2 categories", "/catalog/product-categories", v1::CATEGORIES_FIELDS));

    /// `POST /companies/match` (§2.1): HG ids for up to 10 inputs a request; free.
    pub const V2_MATCH: Endpoint = Endpoint::of(&EndpointSpec {
        name: "v2 match",
        path: "/companies/match",
        method: Method::Post,
        keys: Keys::MatchBatch {
            params: MatchParams { domain: "domain", name: "name", country: "country", limit: "limit", max_limit: 10 },
            max: MATCH_BATCH,
        },
        paging: Paging::None,
        takes_fields: false,
        fields: v1::MATCH_FIELDS,
        filters: &[],
        charged: Charge::Free,
        max_rows: None,
        answer: AnswerShape::Matches,
        aliases: MATCH_ALIASES,
    });

    /// `GET /credits` (§2.4): the key's balance; free, but answers 402 at a zero balance.
    pub const V2_CREDITS: Endpoint = Endpoint::of(&EndpointSpec {
        name: "v2 credits",
        path: "/credits",
        method: Method::Get,
        keys: Keys::None,
        paging: Paging::None,
        takes_fields: false,
        fields: &[("total", FieldType::Int), ("used", FieldType::Int), ("remaining", FieldType::Int)],
        filters: &[],
        charged: Charge::Free,
        max_rows: None,
        answer: AnswerShape::Balance { at: "credits" },
        aliases: &[],
    });

    /// `POST /companies/enrich` with `firmographics` (§2.2): profiles, 25 companies a request.
    pub const V2_FIRMOGRAPHICS: Endpoint = Endpoint::of(&enrich(
        "v2 firmographics",
        "firmographics",
        v1::FIRMOGRAPHIC_FIELDS,
        &[],
        None,
        FIRMOGRAPHIC_ALIASES,
    ));

    /// `POST /companies/enrich` with `technographics` (§2.2): installs, paged per company.
    pub const V2_TECHNOGRAPHICS: Endpoint = Endpoint::of(&enrich(
        "v2 technographics",
        "technographics",
        v1::INSTALLS_FIELDS,
        TECHNOGRAPHIC_FILTERS,
        Some(("installs", "installs_count")),
        INSTALL_ALIASES,
    ));

    /// `POST /companies/enrich` with `spend` (§2.2): IT spend by category, paged per company.
    pub const V2_SPEND: Endpoint =
        Endpoint::of(&enrich("v2 spend", "spend", v1::SPEND_FIELDS, SPEND_FILTERS, Some(("all", "all_count")), &[]));
}
