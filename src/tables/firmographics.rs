//! `hg.firmographics`: one company's profile (`POST /company/firmographic`, charged).

use super::{COMPANY_KEY, Column, Lookup, Pushdown, TableSpec, field};
use crate::api::Endpoint;

/// The columns, whichever version serves them.
const COLUMNS: &[Column] = &[
    COMPANY_KEY,
    field(Endpoint::FIRMOGRAPHIC, "company_name", "Company name."),
    field(Endpoint::FIRMOGRAPHIC, "domain_name", "Web domain as HG stores it."),
    field(Endpoint::FIRMOGRAPHIC, "domain_name_normalized", "Domain without scheme or www."),
    field(Endpoint::FIRMOGRAPHIC, "company_level", "GLOBAL_HQ, DOMESTIC_HQ or SITE."),
    field(Endpoint::FIRMOGRAPHIC, "city_name", "City."),
    field(Endpoint::FIRMOGRAPHIC, "state_name", "State or province."),
    field(Endpoint::FIRMOGRAPHIC, "postal_code", "Postal code."),
    field(Endpoint::FIRMOGRAPHIC, "country_name", "Country."),
    field(Endpoint::FIRMOGRAPHIC, "country_code", "ISO 3166-1 alpha-2 country code."),
    field(Endpoint::FIRMOGRAPHIC, "continent_name", "Continent."),
    field(Endpoint::FIRMOGRAPHIC, "subcontinent_name", "Subcontinent."),
    field(Endpoint::FIRMOGRAPHIC, "geopolitical_name", "Geopolitical region, e.g. Americas, EMEA, APAC."),
    field(Endpoint::FIRMOGRAPHIC, "industry_id", "HG industry id."),
    field(Endpoint::FIRMOGRAPHIC, "industry_name", "Industry."),
    field(Endpoint::FIRMOGRAPHIC, "naics_code", "NAICS code (text, to keep leading zeros)."),
    field(Endpoint::FIRMOGRAPHIC, "naics_name", "NAICS title."),
    field(Endpoint::FIRMOGRAPHIC, "sic_codes", "SIC codes."),
    field(Endpoint::FIRMOGRAPHIC, "sic_names", "SIC titles."),
    field(Endpoint::FIRMOGRAPHIC, "revenue_total", "Annual revenue in USD."),
    field(Endpoint::FIRMOGRAPHIC, "revenue_band", "Revenue band, e.g. $1B - $5B."),
    field(Endpoint::FIRMOGRAPHIC, "employees_total", "Number of employees."),
    field(Endpoint::FIRMOGRAPHIC, "employees_band", "Employee band, e.g. 1,000 - 4,999."),
    field(Endpoint::FIRMOGRAPHIC, "it_spend", "Estimated annual IT spend in USD."),
    field(Endpoint::FIRMOGRAPHIC, "forbes_2000_rank", "Forbes Global 2000 rank, if ranked."),
    field(Endpoint::FIRMOGRAPHIC, "fortune_500_rank", "Fortune 500 rank, if ranked."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_company_name", "Name of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_domain_name", "Domain of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_domain_name_normalized", "Normalised domain of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_hg_id", "HG id of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_city_name", "City of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_state_name", "State of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_postal_code", "Postal code of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_country_name", "Country of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_country_code", "Country code of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_subcontinent_name", "Subcontinent of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_continent_name", "Continent of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_geopolitical_name", "Geopolitical region of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_employees_band", "Employee band of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_revenue_band", "Revenue band of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_industry_id", "Industry id of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_industry_name", "Industry of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_naics_code", "NAICS code of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_naics_name", "NAICS title of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_sic_codes", "SIC codes of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_sic_names", "SIC titles of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_forbes_2000_rank", "Forbes Global 2000 rank of the global headquarters."),
    field(Endpoint::FIRMOGRAPHIC, "global_hq_fortune_500_rank", "Fortune 500 rank of the global headquarters."),
];

const PUSHDOWN: &[Pushdown] = &[];

/// On v1.
pub static SPEC: TableSpec = TableSpec {
    name: "firmographics",
    endpoint: Endpoint::FIRMOGRAPHIC,
    description: "Company profile: location, industry, size, revenue, IT spend, rankings and global HQ (1 credit per company, once).",
    columns: COLUMNS,
    lookup: Lookup::ByCompany { key: "company_id" },
    pushdown: PUSHDOWN,
};

/// On v2: the same columns from `companies/enrich`.
pub static SPEC_V2: TableSpec = TableSpec {
    endpoint: Endpoint::V2_FIRMOGRAPHICS,
    description: "Company profile: location, industry, size, revenue, IT spend, rankings and global HQ (1 credit per company, once; 25 companies per call).",
    ..SPEC
};
