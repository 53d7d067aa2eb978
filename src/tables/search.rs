//! `hg.search`: companies that fit a profile (`POST /company/search`, free, at most 25,000).
//!
//! Search returns four fields. Its other columns are criteria: conditions on them in `WHERE`
//! become the search's filters, and they show the value the condition pins (NULL when it
//! names a range or several values). `search_rank` is a row's place in HG's answer.

use super::{ApiFilter, ColumnSource, ColumnType, Lookup, Pushdown, TableSpec, criterion, field};
use crate::api::{Endpoint, type_of, v1};

const FIRMO: &[(&str, ColumnType)] = v1::FIRMOGRAPHIC_FIELDS;
const INSTALLS: &[(&str, ColumnType)] = v1::INSTALLS_FIELDS;

const fn exact(column: &'static str, wire: &'static str) -> Pushdown {
    Pushdown { column, filter: ApiFilter::Wire(wire), exact: true }
}

pub static SPEC: TableSpec = TableSpec {
    name: "search",
    endpoint: Endpoint::SEARCH,
    description: "Companies fitting a profile, largest first (free; at most 25,000 rows). \
                  Filter by country_code, industry_id, employees_total, revenue_total, product_id, \
                  vendor_id and is_global_headquarters.",
    columns: &[
        field(Endpoint::SEARCH, "company_id", "HG id of the company."),
        field(Endpoint::SEARCH, "company_name", "Company name."),
        field(Endpoint::SEARCH, "domain_name", "Web domain as HG stores it."),
        field(Endpoint::SEARCH, "domain_name_normalized", "Domain without scheme or www."),
        super::Column {
            name: "search_rank",
            kind: ColumnType::Int,
            source: ColumnSource::Rank,
            description: "Place in HG's answer, 1 first (HG lists the largest companies first); \
                          ORDER BY search_rank LIMIT n asks only for the pages n rows need.",
        },
        criterion(
            "country_code",
            type_of(FIRMO, "country_code"),
            "Criterion: ISO country code (=, IN, <>, NOT IN); shows the value asked when it is one.",
        ),
        criterion(
            "industry_id",
            type_of(FIRMO, "industry_id"),
            "Criterion: HG industry id (=, IN, <>, NOT IN); shows the value asked when it is one.",
        ),
        criterion(
            "employees_total",
            type_of(FIRMO, "employees_total"),
            "Criterion: employee count range (=, <, <=, >, >=, BETWEEN; ends included); NULL unless pinned by =.",
        ),
        criterion(
            "revenue_total",
            type_of(FIRMO, "revenue_total"),
            "Criterion: revenue range in US dollars (=, <, <=, >, >=, BETWEEN); NULL unless pinned by =.",
        ),
        criterion(
            "product_id",
            type_of(INSTALLS, "product_id"),
            "Criterion: a product the company has installed (= / IN: one of these; <> / NOT IN: none of \
             these). To SQL a row has one product_id, so = 814 AND = 1023 finds nothing: INTERSECT two \
             searches for companies using both.",
        ),
        criterion(
            "vendor_id",
            type_of(INSTALLS, "vendor_id"),
            "Criterion: a vendor whose product the company has installed (=, IN, <>, NOT IN).",
        ),
        criterion(
            "is_global_headquarters",
            ColumnType::Bool,
            "Criterion: the company is its group's global headquarters (col, NOT col, = true/false).",
        ),
    ],
    lookup: Lookup::Listing,
    pushdown: &[
        exact("country_code", "firmographics.country_codes"),
        exact("industry_id", "firmographics.industries"),
        exact("employees_total", "firmographics.employees"),
        exact("revenue_total", "firmographics.revenue"),
        exact("product_id", "installs.products"),
        exact("vendor_id", "installs.vendors"),
        exact("is_global_headquarters", "corporate_hierarchy.is_global_headquarters"),
    ],
};

/// On v2 (`POST /companies/search`): the same criteria; v2 returns the id, the name and the
/// domain, so `domain_name_normalized` is NULL there.
pub static SPEC_V2: TableSpec = TableSpec { endpoint: Endpoint::V2_SEARCH, ..SPEC };
