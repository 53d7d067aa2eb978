//! The HG Data API v1 endpoints, declared (docs/hg-api.md §3). Paths, key forms, fields and
//! filters live here and nowhere else, so an endpoint that turns out to differ is corrected in
//! one place. Adding one is a declaration here and its entry in [`ALL`].

use super::endpoint::FieldType::{self, Date, Float, Id, Int, Text, TextList};
use super::endpoint::IdKind;
use super::endpoint::{
    AnswerShape, Charge, Endpoint, EndpointSpec, FilterForm, Keys, MatchParams, Method, Paging, WireFilter,
};

/// Every v1 endpoint.
pub static ALL: [Endpoint; 9] = [
    Endpoint::MATCH,
    Endpoint::FIRMOGRAPHIC,
    Endpoint::INSTALLS,
    Endpoint::SPEND,
    Endpoint::INTENT,
    Endpoint::SEARCH,
    Endpoint::PRODUCTS,
    Endpoint::VENDORS,
    Endpoint::CATEGORIES,
];

/// The v1 endpoint of a [`name`](Endpoint::name).
pub fn named(name: &str) -> Option<Endpoint> {
    ALL.iter().copied().find(|e| e.name() == name)
}

/// Every v1 answer is `{"count": n, "data": [...]}`.
const DATA: AnswerShape = AnswerShape::Data { at: None };

/// Catalog lists are small; this bounds a listing all the same.
pub(super) const CATALOG_ROWS: usize = 100_000;

/// Companies per `company_ids` request at most (docs/hg-api.md §3.3; the client's batch size
/// setting may ask for fewer).
const BATCH_MAX: usize = 25;

const COMPANY_BATCH: Keys = Keys::Batch { one: "company_id", many: "company_ids", max: BATCH_MAX };

/// What search filters on (§3.6): each group nests under its name in `filters`.
pub(super) const SEARCH_FILTERS: &[WireFilter] = &[
    WireFilter::new("firmographics.country_codes", FilterForm::InclusionList(IdKind::Text)),
    WireFilter::new("firmographics.industries", FilterForm::InclusionList(IdKind::Int)),
    WireFilter::new("firmographics.employees", FilterForm::Range),
    WireFilter::new("firmographics.revenue", FilterForm::Range),
    WireFilter::new("installs.products", FilterForm::InclusionList(IdKind::Int)),
    WireFilter::new("installs.vendors", FilterForm::InclusionList(IdKind::Int)),
    WireFilter::new("corporate_hierarchy.is_global_headquarters", FilterForm::Flag),
];

const NAME_SEARCH: &[WireFilter] = &[WireFilter::new("name", FilterForm::Substring)];

impl Endpoint {
    /// `GET /company/match` (§3.1): HG ids for a domain and/or a name; free.
    pub const MATCH: Endpoint = Endpoint::of(&EndpointSpec {
        name: "match",
        path: "/company/match",
        method: Method::Get,
        keys: Keys::Match(MatchParams {
            domain: "domain_name",
            name: "company_name",
            country: "country_code",
            limit: "limit",
            max_limit: 10,
        }),
        paging: Paging::None,
        takes_fields: false,
        fields: MATCH_FIELDS,
        filters: &[],
        charged: Charge::Free,
        max_rows: None,
        answer: DATA,
        aliases: &[],
    });

    /// `POST /company/firmographic` (§3.2): one company's profile; charged.
    pub const FIRMOGRAPHIC: Endpoint = Endpoint::of(&EndpointSpec {
        name: "firmographic",
        path: "/company/firmographic",
        method: Method::Post,
        keys: Keys::OneInBody { field: "company_id" },
        paging: Paging::None,
        takes_fields: true,
        fields: FIRMOGRAPHIC_FIELDS,
        filters: &[],
        charged: Charge::PerCompany,
        max_rows: None,
        answer: DATA,
        aliases: &[],
    });

    /// `POST /company/installs` (§3.3): products a company uses; charged, batched.
    pub const INSTALLS: Endpoint = Endpoint::of(&EndpointSpec {
        name: "installs",
        path: "/company/installs",
        method: Method::Post,
        keys: COMPANY_BATCH,
        paging: Paging::LimitOffset,
        takes_fields: true,
        fields: INSTALLS_FIELDS,
        filters: &[
            WireFilter::new("products", FilterForm::Inclusion(IdKind::Int)),
            WireFilter::new("vendors", FilterForm::Inclusion(IdKind::Int)),
            WireFilter::new("product_categories", FilterForm::Inclusion(IdKind::Hex)),
            WireFilter::new("product_attributes", FilterForm::Inclusion(IdKind::Int)),
            WireFilter::new("country_codes", FilterForm::Inclusion(IdKind::Text)),
        ],
        charged: Charge::PerCompany,
        max_rows: None,
        answer: DATA,
        aliases: &[],
    });

    /// `POST /company/spend` (§3.4): IT spend by category; charged, batched.
    pub const SPEND: Endpoint = Endpoint::of(&EndpointSpec {
        name: "spend",
        path: "/company/spend",
        method: Method::Post,
        keys: COMPANY_BATCH,
        paging: Paging::LimitOffset,
        takes_fields: true,
        fields: SPEND_FIELDS,
        filters: &[WireFilter::new("category_ids", FilterForm::List(IdKind::Hex))],
        charged: Charge::PerCompany,
        max_rows: None,
        answer: DATA,
        aliases: &[],
    });

    /// `POST /company/intent` (§3.5): research topics; charged, one company per request.
    pub const INTENT: Endpoint = Endpoint::of(&EndpointSpec {
        name: "intent",
        path: "/company/intent",
        method: Method::Post,
        keys: Keys::OneInFilters { field: "company_id" },
        paging: Paging::LimitOffset,
        takes_fields: true,
        fields: INTENT_FIELDS,
        filters: &[WireFilter::new("topic_ids", FilterForm::List(IdKind::Hex))],
        charged: Charge::PerCompany,
        max_rows: None,
        answer: DATA,
        aliases: &[],
    });

    /// `POST /company/search` (§3.6): companies fitting a profile; free, 25,000 at most.
    pub const SEARCH: Endpoint = Endpoint::of(&EndpointSpec {
        name: "search",
        path: "/company/search",
        method: Method::Post,
        keys: Keys::None,
        paging: Paging::LimitOffset,
        takes_fields: true,
        fields: SEARCH_FIELDS,
        filters: SEARCH_FILTERS,
        charged: Charge::Free,
        max_rows: Some(25_000),
        answer: DATA,
        aliases: &[],
    });

    /// `GET /catalog/products` (§3.7); free.
    pub const PRODUCTS: Endpoint = Endpoint::of(&EndpointSpec {
        name: "products",
        path: "/catalog/products",
        method: Method::Get,
        keys: Keys::None,
        paging: Paging::LimitOffset,
        takes_fields: false,
        fields: PRODUCTS_FIELDS,
        filters: NAME_SEARCH,
        charged: Charge::Free,
        max_rows: Some(CATALOG_ROWS),
        answer: DATA,
        aliases: &[],
    });

    /// `GET /catalog/vendors` (§3.7); free.
    pub const VENDORS: Endpoint = Endpoint::of(&EndpointSpec {
        name: "vendors",
        path: "/catalog/vendors",
        method: Method::Get,
        keys: Keys::None,
        paging: Paging::LimitOffset,
        takes_fields: false,
        fields: VENDORS_FIELDS,
        filters: NAME_SEARCH,
        charged: Charge::Free,
        max_rows: Some(CATALOG_ROWS),
        answer: DATA,
        aliases: &[],
    });

    /// `GET /catalog/product-categories` (§3.7); free.
    pub const CATEGORIES: Endpoint = Endpoint::of(&EndpointSpec {
        name: "categories",
        path: "/catalog/product-categories",
        method: Method::Get,
        keys: Keys::None,
        paging: Paging::LimitOffset,
        takes_fields: false,
        fields: CATEGORIES_FIELDS,
        filters: NAME_SEARCH,
        charged: Charge::Free,
        max_rows: Some(CATALOG_ROWS),
        answer: DATA,
        aliases: &[],
    });
}

pub const MATCH_FIELDS: &[(&str, FieldType)] = &[("company_id", Id), ("company_name", Text), ("domain_name", Text)];

pub const SPEND_FIELDS: &[(&str, FieldType)] = &[
    ("company_id", Id),
    ("spend", Int),
    ("category_id", Id),
    ("category_name", Text),
    ("category_description", Text),
    ("country_code", Text),
    ("country_name", Text),
];

pub const INTENT_FIELDS: &[(&str, FieldType)] = &[
    ("topic_id", Id),
    ("topic_name", Text),
    ("url", Text),
    ("signal_strength", Int),
    ("signal_trend", Float),
    ("location_strength", Int),
    ("buyers_journey_name", Text),
    ("context_name_array", TextList),
    ("state_name", Text),
    ("country_name", Text),
    ("region_name", Text),
    ("datestamp", Date),
];

pub const SEARCH_FIELDS: &[(&str, FieldType)] =
    &[("company_id", Id), ("company_name", Text), ("domain_name", Text), ("domain_name_normalized", Text)];

pub const PRODUCTS_FIELDS: &[(&str, FieldType)] = &[
    ("id", Int),
    ("name", Text),
    ("description", Text),
    ("vendor_id", Int),
    ("vendor_name", Text),
    ("product_category_id", Id),
];

pub const VENDORS_FIELDS: &[(&str, FieldType)] = &[("id", Int), ("name", Text), ("domain_name", Text)];

pub const CATEGORIES_FIELDS: &[(&str, FieldType)] =
    &[("id", Id), ("name", Text), ("description", Text), ("level", Int), ("parent_id", Id)];

pub const FIRMOGRAPHIC_FIELDS: &[(&str, FieldType)] = &[
    ("company_id", Id),
    ("company_name", Text),
    ("domain_name", Text),
    ("domain_name_normalized", Text),
    ("company_level", Text),
    ("city_name", Text),
    ("state_name", Text),
    ("postal_code", Text),
    ("country_name", Text),
    ("country_code", Text),
    ("continent_name", Text),
    ("subcontinent_name", Text),
    ("geopolitical_name", Text),
    ("industry_id", Int),
    ("industry_name", Text),
    ("naics_code", Text),
    ("naics_name", Text),
    ("sic_codes", TextList),
    ("sic_names", TextList),
    ("revenue_total", Int),
    ("revenue_band", Text),
    ("employees_total", Int),
    ("employees_band", Text),
    ("it_spend", Int),
    ("forbes_2000_rank", Int),
    ("fortune_500_rank", Int),
    ("global_hq_company_name", Text),
    ("global_hq_domain_name", Text),
    ("global_hq_domain_name_normalized", Text),
    ("global_hq_hg_id", Id),
    ("global_hq_city_name", Text),
    ("global_hq_state_name", Text),
    ("global_hq_postal_code", Text),
    ("global_hq_country_name", Text),
    ("global_hq_country_code", Text),
    ("global_hq_subcontinent_name", Text),
    ("global_hq_continent_name", Text),
    ("global_hq_geopolitical_name", Text),
    ("global_hq_employees_band", Text),
    ("global_hq_revenue_band", Text),
    ("global_hq_industry_id", Int),
    ("global_hq_industry_name", Text),
    ("global_hq_naics_code", Text),
    ("global_hq_naics_name", Text),
    ("global_hq_sic_codes", TextList),
    ("global_hq_sic_names", TextList),
    ("global_hq_forbes_2000_rank", Int),
    ("global_hq_fortune_500_rank", Int),
];

pub const INSTALLS_FIELDS: &[(&str, FieldType)] = &[
    // Not selectable, but present on every row of a `company_ids` batch.
    ("company_id", Id),
    ("product_id", Int),
    ("product_name", Text),
    ("product_description", Text),
    ("vendor_id", Int),
    ("vendor_name", Text),
    ("vendor_domain_name", Text),
    ("product_category_id", Id),
    ("product_category_level1_name", Text),
    ("product_category_level2_name", Text),
    ("product_category_level3_name", Text),
    ("product_category_level4_name", Text),
    ("product_category_level5_name", Text),
    ("product_attributes", TextList),
    ("product_first_verified_date", Date),
    ("product_last_verified_date", Date),
    ("product_intensity", Int),
    ("product_locations", TextList),
    ("country_code", Text),
];
