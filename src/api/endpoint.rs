//! The HG endpoints as the client knows them: path, method, whether they charge credits, and
//! the type of every field they return. Paths live here and nowhere else, so an endpoint that
//! turns out to sit elsewhere is corrected in one place (CONTRACT.md §3.7).

/// How a field's JSON value is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Text,
    /// A hexadecimal HG id, normalised to 32 characters.
    Id,
    Int,
    Float,
    /// Seconds since the Unix epoch, shown as a UTC timestamp.
    Timestamp,
    /// `YYYY-MM-DD`; an RFC 3339 timestamp keeps its date part.
    Date,
    /// A list of strings.
    TextList,
}

use FieldType::{Date, Float, Id, Int, Text, TextList};

/// An HG Data API v1 endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Match,
    Firmographic,
    Installs,
    Spend,
    Intent,
    Search,
    Products,
    Vendors,
    Categories,
}

/// The field the client stamps on every row it receives: when it came from HG (Unix seconds).
/// It travels with the row into the cache, so a cached row still says when it was fetched.
pub const FETCHED_AT: &str = "_hg_fetched_at";

impl Endpoint {
    pub const ALL: [Endpoint; 9] = [
        Endpoint::Match,
        Endpoint::Firmographic,
        Endpoint::Installs,
        Endpoint::Spend,
        Endpoint::Intent,
        Endpoint::Search,
        Endpoint::Products,
        Endpoint::Vendors,
        Endpoint::Categories,
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
            Endpoint::Products => "/catalog/products",
            Endpoint::Vendors => "/catalog/vendors",
            Endpoint::Categories => "/catalog/product-categories",
        }
    }

    /// Short name used in metrics and messages.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Match => "match",
            Endpoint::Firmographic => "firmographic",
            Endpoint::Installs => "installs",
            Endpoint::Spend => "spend",
            Endpoint::Intent => "intent",
            Endpoint::Search => "search",
            Endpoint::Products => "products",
            Endpoint::Vendors => "vendors",
            Endpoint::Categories => "categories",
        }
    }

    /// The endpoint of a [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Endpoint> {
        Endpoint::ALL.iter().copied().find(|e| e.name() == name)
    }

    pub fn is_get(self) -> bool {
        matches!(self, Endpoint::Match | Endpoint::Products | Endpoint::Vendors | Endpoint::Categories)
    }

    /// Whether HG charges credits for the companies this endpoint returns.
    pub fn charged(self) -> bool {
        matches!(self, Endpoint::Firmographic | Endpoint::Installs | Endpoint::Spend | Endpoint::Intent)
    }

    /// Whether `company_ids` batches of several companies are accepted.
    pub fn batches(self) -> bool {
        matches!(self, Endpoint::Installs | Endpoint::Spend)
    }

    /// Every field the endpoint can return, with its type.
    pub fn fields(self) -> &'static [(&'static str, FieldType)] {
        match self {
            Endpoint::Match => &[("company_id", Id), ("company_name", Text), ("domain_name", Text)],
            Endpoint::Firmographic => FIRMOGRAPHIC,
            Endpoint::Installs => INSTALLS,
            Endpoint::Spend => &[
                ("company_id", Id),
                ("spend", Int),
                ("category_id", Id),
                ("category_name", Text),
                ("category_description", Text),
                ("country_code", Text),
                ("country_name", Text),
            ],
            Endpoint::Intent => &[
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
            ],
            Endpoint::Search => {
                &[("company_id", Id), ("company_name", Text), ("domain_name", Text), ("domain_name_normalized", Text)]
            }
            Endpoint::Products => &[
                ("id", Int),
                ("name", Text),
                ("description", Text),
                ("vendor_id", Int),
                ("vendor_name", Text),
                ("product_category_id", Id),
            ],
            Endpoint::Vendors => &[("id", Int), ("name", Text), ("domain_name", Text)],
            Endpoint::Categories => {
                &[("id", Id), ("name", Text), ("description", Text), ("level", Int), ("parent_id", Id)]
            }
        }
    }

    /// The type of one field, if the endpoint documents it.
    pub fn field_type(self, field: &str) -> Option<FieldType> {
        if field == FETCHED_AT {
            return Some(FieldType::Timestamp);
        }
        self.fields().iter().find(|(name, _)| *name == field).map(|(_, t)| *t)
    }
}

const FIRMOGRAPHIC: &[(&str, FieldType)] = &[
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

const INSTALLS: &[(&str, FieldType)] = &[
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
