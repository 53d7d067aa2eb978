//! One declarative [`TableSpec`] per HG endpoint, in schema `hg`: its columns with descriptions
//! (shown by `\d`), how its rows are found (key columns), and which of the endpoint's filters
//! its columns reach. Column types come from the endpoint's declaration
//! ([`EndpointSpec`](crate::api::EndpointSpec)), checked when the crate is built. Adding a table
//! is a file here and a line in [`all`] (plus the endpoint's declaration in `api/hg/`); `plan/`
//! stays as it is. docs/architecture.md lists exactly what it touches.

pub mod arrow;
mod catalog;
mod companies;
mod firmographics;
mod functional_areas;
pub mod http;
mod installs;
mod intent;
mod search;
mod spend;

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::api::{ApiVersion, Endpoint, WireFilter};

/// The type of a column: the client's type of the field it is read from. Its SQL (Arrow) type
/// keeps meaning: dates stay dates, money and counts are 64-bit integers, lists stay lists, ids
/// are text in their 32-character normal form.
pub use crate::api::FieldType as ColumnType;

/// The Arrow type a column of `kind` has.
pub fn arrow_type(kind: ColumnType) -> DataType {
    match kind {
        ColumnType::Text | ColumnType::Id => DataType::Utf8,
        ColumnType::Int => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Date => DataType::Date32,
        ColumnType::TextList => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
        ColumnType::Bool => DataType::Boolean,
    }
}

/// Where a column's values come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnSource {
    /// The API field of the same name.
    Field,
    /// The API field of another name.
    Renamed(&'static str),
    /// The value the lookup asked with (hg.companies echoes its inputs, so joins on them hold).
    Echo,
    /// The rank of a match, 1 for the best, or a listing row's place in the answer, counted
    /// by the client.
    Rank,
    /// A condition HG applies but does not return (hg.search's `country_code`, …): the value
    /// the WHERE clause pins it to, else NULL. Its conditions must all reach HG.
    Criterion,
    /// When the row's data came from HG (the client's stamp, kept by the cache).
    FetchedAt,
    /// `ok`, or `error` for a lookup that failed under `hg.on_error = 'null'`.
    Status,
    /// What went wrong with the lookup, or NULL.
    Error,
}

/// The columns every HG table ends with: when its data came from HG, and how its lookup went.
pub const META_COLUMNS: [Column; 3] = [
    Column {
        name: crate::api::FETCHED_AT,
        kind: ColumnType::Timestamp,
        source: ColumnSource::FetchedAt,
        description: "When this row's data came from HG (UTC); for a cached answer, when it was fetched.",
    },
    Column {
        name: "_hg_status",
        kind: ColumnType::Text,
        source: ColumnSource::Status,
        description: "'ok', or 'error' when the lookup failed and SET hg.on_error = 'null' kept the row.",
    },
    Column {
        name: "_hg_error",
        kind: ColumnType::Text,
        source: ColumnSource::Error,
        description: "What went wrong with this row's lookup (hg.on_error = 'null'); NULL when it went well.",
    },
];

/// One column of a table.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
    pub source: ColumnSource,
    pub description: &'static str,
}

/// A column read from the field of the same name of `endpoint`, typed as the endpoint declares
/// it; a field the endpoint does not declare fails the build.
pub const fn field(endpoint: Endpoint, name: &'static str, description: &'static str) -> Column {
    let kind = crate::api::type_of(endpoint.spec().fields, name);
    Column { name, kind, source: ColumnSource::Field, description }
}

/// A search criterion column of `kind`: HG filters on it, never returns it.
pub const fn criterion(name: &'static str, kind: ColumnType, description: &'static str) -> Column {
    Column { name, kind, source: ColumnSource::Criterion, description }
}

/// The key of every per-company table: the id it was asked for, echoed.
pub const COMPANY_KEY: Column = Column {
    name: "company_id",
    kind: ColumnType::Id,
    source: ColumnSource::Echo,
    description: "HG id of the company (key: give it by = / IN or a join).",
};

/// How a table finds its rows: the API cannot be scanned, so most tables need keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Rows per company: `company_id` must be given by `=`/`IN` or by a join.
    ByCompany { key: &'static str },
    /// hg.companies: `match_domain` or `match_name` must be given; `match_country_code` narrows.
    ByMatch { domain: &'static str, name: &'static str, country: &'static str },
    /// A listing that needs no key (search, catalog), bounded by the endpoint's `max_rows`.
    Listing,
}

/// A filter the API can apply, mapped from a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiFilter {
    /// A filter the endpoint declares, by its wire name (`products`, `category_ids`, `name`):
    /// its form says which SQL it takes.
    Wire(&'static str),
    /// hg.companies: `match_rank <= n` → the match limit.
    MatchLimit,
}
/// A column the API filters on.
#[derive(Clone, Copy, Debug)]
pub struct Pushdown {
    pub column: &'static str,
    pub filter: ApiFilter,
    /// Whether the API's answer is exactly what SQL would keep (then DataFusion need not
    /// filter again); otherwise the filter only narrows and DataFusion re-checks.
    pub exact: bool,
}

/// An HG endpoint as a SQL table.
#[derive(Debug)]
pub struct TableSpec {
    /// Name in schema `hg`.
    pub name: &'static str,
    pub endpoint: Endpoint,
    pub description: &'static str,
    pub columns: &'static [Column],
    pub lookup: Lookup,
    pub pushdown: &'static [Pushdown],
}

impl TableSpec {
    /// The Arrow schema: every column nullable, since HG may leave any field empty.
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.all_columns().map(|c| Field::new(c.name, arrow_type(c.kind), true)).collect::<Vec<_>>(),
        ))
    }

    /// The table's columns, then [`META_COLUMNS`]: the schema's order.
    pub fn all_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().chain(META_COLUMNS.iter())
    }

    /// The column at schema position `index`.
    pub fn column_at(&self, index: usize) -> &Column {
        self.columns.get(index).unwrap_or_else(|| &META_COLUMNS[index - self.columns.len()])
    }

    /// Columns in the schema.
    pub fn column_count(&self) -> usize {
        self.columns.len() + META_COLUMNS.len()
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.all_columns().find(|c| c.name == name)
    }

    /// Columns whose values find rows, and the operators that can give them.
    /// The endpoint's declaration of the filter a pushdown reaches (none for the match limit).
    pub fn wire_filter(&self, filter: ApiFilter) -> Option<&'static WireFilter> {
        match filter {
            ApiFilter::Wire(name) => self.endpoint.filter(name),
            ApiFilter::MatchLimit => None,
        }
    }

    /// The SQL that reaches the API through `column` and the parameter it becomes, for `\d`.
    pub fn pushdown_text(&self, column: &str) -> Option<String> {
        let pushdown = self.pushdown.iter().find(|p| p.column == column)?;
        Some(match pushdown.filter {
            ApiFilter::MatchLimit => "<= n, < n: limit=n".to_string(),
            filter => self.wire_filter(filter)?.describe(),
        })
    }

    /// Rows a listing returns at most (the endpoint's bound).
    pub fn max_rows(&self) -> usize {
        self.endpoint.spec().max_rows.unwrap_or(usize::MAX)
    }

    pub fn key_columns(&self) -> Vec<(&'static str, &'static str)> {
        match self.lookup {
            Lookup::ByCompany { key } => vec![(key, "= or IN, or a join (required)")],
            Lookup::ByMatch { domain, name, country } => vec![
                (domain, "= or IN, or a join (this or the name is required)"),
                (name, "= or IN, or a join (this or the domain is required)"),
                (country, "= (optional, narrows)"),
            ],
            Lookup::Listing => Vec::new(),
        }
    }
}

/// The tables on v2, the same names in the same order.
static ALL_V2: [&TableSpec; 10] = [
    &companies::SPEC_V2,
    &firmographics::SPEC_V2,
    &installs::SPEC_V2,
    &spend::SPEC_V2,
    &intent::SPEC_V2,
    &search::SPEC_V2,
    &catalog::PRODUCTS_V2,
    &catalog::VENDORS_V2,
    &catalog::CATEGORIES_V2,
    &functional_areas::SPEC,
];

/// The tables on v1, `hg.functional_areas` included (v2 only: a query of it says so).
static ALL: [&TableSpec; 10] = [
    &companies::SPEC,
    &firmographics::SPEC,
    &installs::SPEC,
    &spend::SPEC,
    &intent::SPEC,
    &search::SPEC,
    &catalog::PRODUCTS,
    &catalog::VENDORS,
    &catalog::CATEGORIES,
    &functional_areas::SPEC,
];

/// Every `hg.*` table, as v1 declares it (names, columns and types are the same on v2).
pub fn all() -> &'static [&'static TableSpec] {
    &ALL
}

/// Every `hg.*` table as `version` serves it.
pub fn for_version(version: ApiVersion) -> &'static [&'static TableSpec] {
    match version {
        ApiVersion::V1 => &ALL,
        ApiVersion::V2 => &ALL_V2,
    }
}

impl TableSpec {
    /// Whether `version` serves this table as declared: when not, a scan fails before any call.
    pub fn served_by(&self, version: ApiVersion) -> bool {
        let endpoints: &[Endpoint] = match version {
            ApiVersion::V1 => &crate::api::v1::ALL,
            ApiVersion::V2 => &crate::api::v2::ALL,
        };
        endpoints.contains(&self.endpoint)
    }
}

/// The table named `name` in schema `hg`.
pub fn find(name: &str) -> Option<&'static TableSpec> {
    all().iter().copied().find(|t| t.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_well_formed() {
        for version in [ApiVersion::V1, ApiVersion::V2] {
            let names: Vec<&str> = for_version(version).iter().map(|t| t.name).collect();
            let v1: Vec<&str> = all().iter().map(|t| t.name).collect();
            assert_eq!(names, v1, "{version} has the same tables");
        }
        // Every declaration once (a table one version alone serves is in both lists).
        let mut declared: Vec<&TableSpec> = Vec::new();
        for table in all().iter().chain(for_version(ApiVersion::V2)) {
            if !declared.iter().any(|d| std::ptr::eq(*d, *table)) {
                declared.push(table);
            }
        }
        let mut names = std::collections::HashSet::new();
        for table in declared {
            let endpoint = table.endpoint.name();
            assert!(names.insert((table.name, endpoint)), "{} declared twice on {endpoint}", table.name);
            assert!(!table.description.is_empty());
            let mut columns = std::collections::HashSet::new();
            for column in table.columns {
                assert!(columns.insert(column.name), "{}.{} declared twice", table.name, column.name);
                assert!(!column.description.is_empty(), "{}.{} needs a description", table.name, column.name);
                // A column read from the API must be a field the endpoint returns, typed alike.
                let api_name = match column.source {
                    ColumnSource::Field => Some(column.name),
                    ColumnSource::Renamed(f) => Some(f),
                    _ => None,
                };
                if let Some(api_name) = api_name {
                    let api_type = table.endpoint.field_type(api_name);
                    assert!(
                        api_type.is_some(),
                        "{}.{}: {:?} has no field {api_name}",
                        table.name,
                        column.name,
                        table.endpoint
                    );
                    assert_eq!(
                        api_type,
                        Some(column.kind),
                        "{}.{}: its type differs from the API's",
                        table.name,
                        column.name
                    );
                }
            }
            for column in table.columns.iter().filter(|c| c.source == ColumnSource::Criterion) {
                let pushdown = table.pushdown.iter().find(|p| p.column == column.name);
                assert!(
                    pushdown.is_some_and(|p| p.exact),
                    "{}.{}: a criterion needs an exact pushdown (DataFusion cannot check it)",
                    table.name,
                    column.name
                );
            }
            for (key, _) in table.key_columns() {
                assert!(table.column(key).is_some(), "{}: key {key} is not a column", table.name);
            }
            for pushdown in table.pushdown {
                assert!(table.column(pushdown.column).is_some(), "{}: {} is not a column", table.name, pushdown.column);
                if let ApiFilter::Wire(name) = pushdown.filter {
                    assert!(
                        table.wire_filter(pushdown.filter).is_some(),
                        "{}: {:?} has no filter {name}",
                        table.name,
                        table.endpoint
                    );
                }
            }
        }
        assert_eq!(all().len(), 10);
    }

    #[test]
    fn types_keep_meaning() {
        let installs = find("installs").unwrap().schema();
        assert_eq!(installs.field_with_name("product_last_verified_date").unwrap().data_type(), &DataType::Date32);
        assert_eq!(installs.field_with_name("product_intensity").unwrap().data_type(), &DataType::Int64);
        assert!(matches!(installs.field_with_name("product_attributes").unwrap().data_type(), DataType::List(_)));
        assert_eq!(installs.field_with_name("company_id").unwrap().data_type(), &DataType::Utf8);
        let firmographics = find("FIRMOGRAPHICS").unwrap();
        assert_eq!(firmographics.schema().field_with_name("revenue_total").unwrap().data_type(), &DataType::Int64);
        assert_eq!(firmographics.key_columns()[0].0, "company_id");
        let companies = find("companies").unwrap();
        assert_eq!(companies.key_columns().len(), 3);
        assert_eq!(companies.column("match_domain").unwrap().source, ColumnSource::Echo);
    }
}
