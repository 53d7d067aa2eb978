//! What a scan asks HG, worked out from the table's declaration and the pushed predicates: the
//! fields of the projected columns, the endpoint's filters in their wire form, and the message
//! for a query that gives a table no keys. Pure functions: no I/O, no DataFusion plan.

use serde_json::Value;

use std::collections::BTreeSet;

use datafusion::common::ScalarValue;

use super::pushdown::{self, Bounds, ColumnValues, Pushed};
use crate::api::{EnrichRequest, FilterForm, Filters, HexId, IdKind, Inclusion, InclusionMethod};
use crate::tables::{ApiFilter, ColumnSource, Lookup, TableSpec};

/// Fields to ask HG for: those of the projected columns (all when `None`), or one cheap field
/// when only echoed columns (or none, for `count(*)`) are wanted.
pub fn api_fields(spec: &TableSpec, projection: Option<&[usize]>) -> Vec<String> {
    let all: Vec<usize> = (0..spec.column_count()).collect();
    let indices = projection.unwrap_or(&all);
    let mut fields: Vec<String> = indices
        .iter()
        .filter_map(|&i| match spec.column_at(i).source {
            ColumnSource::Field => Some(spec.column_at(i).name.to_string()),
            ColumnSource::Renamed(field) => Some(field.to_string()),
            ColumnSource::Echo
            | ColumnSource::Criterion
            | ColumnSource::Rank
            | ColumnSource::FetchedAt
            | ColumnSource::Status
            | ColumnSource::Error => None,
        })
        .collect();
    if fields.is_empty()
        && let Some(first) = spec.columns.iter().find(|c| c.source == ColumnSource::Field)
    {
        fields.push(first.name.to_string());
    }
    fields
}

/// What a company lookup of `spec` asks for each company: `fields` (where the endpoint takes
/// them) and the endpoint's filters for the pushed predicates.
pub fn company_request(spec: &TableSpec, pushed: &Pushed, fields: Option<Vec<String>>) -> EnrichRequest {
    EnrichRequest { fields, filters: api_filters(spec, pushed), sorts: Vec::new() }.fitted(spec.endpoint)
}

/// The endpoint's filters for the pushed predicates, in the order the endpoint declares them
/// (so the same predicates are always the same request and the same cache entry).
///
/// An inclusion object or a list is a superset of what SQL keeps (DataFusion checks the
/// predicate again), so when it has several predicates, the first that can be sent is; a value
/// that cannot be sent (not an id) sends nothing for that predicate. The forms of search are
/// exact: each predicate on an inclusion list is one element, the bounds of a range intersect,
/// and a flag takes its one value; see [`contradicts`] for predicates no row can pass.
pub fn api_filters(spec: &TableSpec, pushed: &Pushed) -> Filters {
    criteria(spec, pushed).0
}

/// Whether the pushed predicates on exact filters admit no row (`flag AND NOT flag`, an empty
/// range, `IN` values none of which can be sent): then nothing need be asked.
pub fn contradicts(spec: &TableSpec, pushed: &Pushed) -> bool {
    criteria(spec, pushed).1
}

fn criteria(spec: &TableSpec, pushed: &Pushed) -> (Filters, bool) {
    let mut chosen: Vec<(&'static str, Value)> = Vec::new();
    let mut never = false;
    for (filter, values) in &pushed.filters {
        let Some(wire) = spec.wire_filter(*filter) else { continue };
        let method = if values.negated { InclusionMethod::NonePresent } else { InclusionMethod::AnyPresent };
        if let FilterForm::InclusionList(kind) = wire.form {
            let ids = sendable_ids(values, kind);
            if ids.is_empty() {
                // `IN` nothing sendable admits no row; `NOT IN` it excludes none.
                never |= !values.negated;
                continue;
            }
            let element = serde_json::to_value(Inclusion { ids, inclusion_method: method }).expect("serialises");
            match chosen.iter_mut().find(|(name, _)| *name == wire.name) {
                Some((_, Value::Array(elements))) => elements.push(element),
                _ => chosen.push((wire.name, Value::Array(vec![element]))),
            }
            continue;
        }
        if chosen.iter().any(|(name, _)| *name == wire.name) {
            continue;
        }
        let value = match wire.form {
            FilterForm::Inclusion(kind) => ids(values, kind)
                .map(|ids| serde_json::to_value(Inclusion { ids, inclusion_method: method }).expect("serialises")),
            FilterForm::List(kind) if !values.negated => ids(values, kind).map(Value::Array),
            FilterForm::AnyOf { key, kind } if !values.negated => {
                ids(values, kind).map(|ids| serde_json::json!({ key: ids }))
            }
            _ => None,
        };
        if let Some(value) = value {
            chosen.push((wire.name, value));
        }
    }
    for (_, value) in chosen.iter_mut() {
        // Elements in one order whatever the order of the predicates: one request, one entry.
        if let Value::Array(elements) = value
            && elements.first().is_some_and(Value::is_object)
        {
            elements.sort_by_cached_key(|e| e.to_string());
            elements.dedup();
        }
    }
    for (filter, bounds) in merged_ranges(pushed) {
        let Some(wire) = spec.wire_filter(filter) else { continue };
        never |= bounds.is_empty();
        let mut range = serde_json::Map::new();
        if let Some(min) = bounds.min {
            range.insert("min".into(), min.into());
        }
        if let Some(max) = bounds.max {
            range.insert("max".into(), max.into());
        }
        chosen.push((wire.name, Value::Object(range)));
    }
    for (filter, value) in merged_flags(pushed) {
        let Some(wire) = spec.wire_filter(filter) else { continue };
        match value {
            Some(value) => chosen.push((wire.name, Value::Bool(value))),
            None => never = true,
        }
    }
    let mut filters = Filters::default();
    for wire in spec.endpoint.spec().filters {
        if let Some((_, value)) = chosen.iter().find(|(name, _)| *name == wire.name) {
            filters = filters.with(wire.path, value);
        }
    }
    (filters, never)
}

/// The bounds of each range filter: every predicate's, intersected.
fn merged_ranges(pushed: &Pushed) -> Vec<(ApiFilter, Bounds)> {
    let mut out: Vec<(ApiFilter, Bounds)> = Vec::new();
    for (filter, bounds) in &pushed.ranges {
        match out.iter_mut().find(|(f, _)| f == filter) {
            Some((_, merged)) => *merged = merged.intersect(*bounds),
            None => out.push((*filter, *bounds)),
        }
    }
    out
}

/// The value of each flag filter, or `None` where predicates ask for both.
fn merged_flags(pushed: &Pushed) -> Vec<(ApiFilter, Option<bool>)> {
    let mut out: Vec<(ApiFilter, Option<bool>)> = Vec::new();
    for (filter, value) in &pushed.flags {
        match out.iter_mut().find(|(f, _)| f == filter) {
            Some((_, merged)) => *merged = merged.filter(|v| v == value),
            None => out.push((*filter, Some(*value))),
        }
    }
    out
}

/// The value each criterion column is pinned to by the pushed predicates, as text: one value
/// every positive predicate names and no negated one does, a range of one number, a flag. A
/// criterion not pinned shows NULL (HG does not say which of several values a company has).
pub fn pinned(spec: &TableSpec, pushed: &Pushed) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for pushdown in spec.pushdown {
        let Some(column) = spec.column(pushdown.column) else { continue };
        if column.source != ColumnSource::Criterion {
            continue;
        }
        let on_column = |f: &ApiFilter| *f == pushdown.filter;
        let mut named: BTreeSet<String> = BTreeSet::new();
        let mut excluded: BTreeSet<String> = BTreeSet::new();
        for (_, values) in pushed.filters.iter().filter(|(f, _)| on_column(f)) {
            let texts = values.values.iter().filter_map(pushdown::text);
            if values.negated { excluded.extend(texts) } else { named.extend(texts) }
        }
        let value = if let [one] = named.iter().collect::<Vec<_>>()[..] {
            (!excluded.contains(one)).then(|| one.clone())
        } else if let Some((_, bounds)) = merged_ranges(pushed).into_iter().find(|(f, _)| on_column(f)) {
            bounds.min.filter(|min| bounds.max == Some(*min)).map(|v| v.to_string())
        } else {
            merged_flags(pushed).into_iter().find(|(f, _)| on_column(f)).and_then(|(_, v)| v).map(|v| v.to_string())
        };
        if let Some(value) = value {
            out.push((column.name, value));
        }
    }
    out
}

/// The values that can be sent, sorted and without repeats.
fn sendable_ids(values: &ColumnValues, kind: IdKind) -> Vec<Value> {
    let one = |v: &ScalarValue| ids(&ColumnValues { values: vec![v.clone()], ..values.clone() }, kind);
    let mut out: Vec<Value> = values.values.iter().filter_map(one).flatten().collect();
    out.sort_by_cached_key(|v| (v.as_i64(), v.to_string()));
    out.dedup();
    out
}

/// Every value as the wire takes it, sorted and without repeats (so `IN (814, 1023)` and
/// `IN (1023, 814, 814)` are one request and one cache entry), or `None` (send nothing) when
/// one cannot be sent.
fn ids(values: &ColumnValues, kind: IdKind) -> Option<Vec<Value>> {
    let texts: Vec<String> = values.values.iter().map(pushdown::text).collect::<Option<_>>()?;
    match kind {
        IdKind::Int => {
            let mut ids: Vec<i64> = texts.iter().map(|t| t.trim().parse().ok()).collect::<Option<_>>()?;
            ids.sort_unstable();
            ids.dedup();
            Some(ids.into_iter().map(Value::from).collect())
        }
        IdKind::Hex | IdKind::Text => {
            let mut ids: Vec<String> = texts
                .iter()
                .map(|t| match kind {
                    IdKind::Hex => HexId::parse(t).ok().map(|id| id.as_str().to_string()),
                    _ => Some(t.trim().to_string()),
                })
                .collect::<Option<_>>()?;
            ids.sort_unstable();
            ids.dedup();
            Some(ids.into_iter().map(Value::from).collect())
        }
    }
}

/// The pushed API parameters, as EXPLAIN shows them: each filter by name (in the form
/// `Products`, for `filters.products`) with its inclusion method and values.
pub fn describe_filters(spec: &TableSpec, pushed: &Pushed) -> Vec<String> {
    let name_of = |filter: &ApiFilter| match filter {
        ApiFilter::Wire(name) => {
            let wire = spec.wire_filter(*filter).map_or(*name, |w| w.name);
            camel(wire.rsplit('.').next().unwrap_or(wire))
        }
        ApiFilter::MatchLimit => "MatchLimit".to_string(),
    };
    let mut out: Vec<String> = pushed
        .filters
        .iter()
        .map(|(filter, values)| {
            let method = if values.negated { "NONE_PRESENT" } else { "ANY_PRESENT" };
            let list: Vec<String> = values.values.iter().filter_map(pushdown::text).collect();
            format!("{} {method} ({})", name_of(filter), list.join(", "))
        })
        .collect();
    for (filter, bounds) in merged_ranges(pushed) {
        let range = match (bounds.min, bounds.max) {
            (Some(min), Some(max)) => format!("{min}..={max}"),
            (Some(min), None) => format!(">= {min}"),
            (None, Some(max)) => format!("<= {max}"),
            (None, None) => "any".to_string(),
        };
        out.push(format!("{} {range}", name_of(&filter)));
    }
    for (filter, value) in merged_flags(pushed) {
        let value = value.map_or("true AND false".to_string(), |v| v.to_string());
        out.push(format!("{} = {value}", name_of(&filter)));
    }
    if let Some(n) = pushed.match_limit {
        out.push(format!("limit={n} matches"));
    }
    if let Some(name) = &pushed.name {
        out.push(format!("name contains {name:?}"));
    }
    if contradicts(spec, pushed) {
        out.push("no row can pass: nothing is asked".to_string());
    }
    out
}

/// `product_categories` → `ProductCategories`.
fn camel(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// What to tell someone whose query joins on a criterion column, which HG filters on but does
/// not return: the join would compare NULLs and keep nothing.
pub fn criterion_join_message(spec: &TableSpec, column: &str) -> String {
    let name = spec.name;
    format!(
        "hg.{name}.{column} cannot be joined on: it is a search criterion, not a value HG returns, so every \
         row's {column} is NULL unless the WHERE clause pins it. Give it literal values instead, e.g.\n  \
         SELECT * FROM hg.{name} WHERE {column} IN (…)\n\
         or join on company_id and read {column} from hg.firmographics or hg.installs."
    )
}

/// What to tell someone whose query gives `spec` no keys.
pub fn missing_keys_message(spec: &TableSpec) -> String {
    let name = spec.name;
    match spec.lookup {
        Lookup::ByCompany { key } => format!(
            "hg.{name} cannot be scanned: its rows are found by {key}, and this query gives it no {key} values. \
             Join it on {key} or filter {key} with = or IN, e.g.\n  \
             SELECT t.* FROM 'accounts.csv' a JOIN hg.companies c ON c.match_domain = a.website JOIN hg.{name} t ON t.{key} = c.company_id\n  \
             SELECT * FROM hg.{name} WHERE {key} IN ('<32-hex-digit HG id>', …)\n\
             A join gives keys when it compares hg.{name}.{key} with = and does not keep every row of hg.{name} \
             (FULL JOIN, or hg.{name} on the kept side of a LEFT/RIGHT JOIN, would)."
        ),
        Lookup::ByMatch { domain, name: company_name, .. } => format!(
            "hg.{name} cannot be scanned: companies are found by {domain} or {company_name}, and this query gives neither. \
             Join your list on one of them or filter it with = or IN, e.g.\n  \
             SELECT a.*, c.company_id FROM 'accounts.csv' a JOIN hg.{name} c ON c.{domain} = a.website\n  \
             SELECT * FROM hg.{name} WHERE {domain} = 'acme.com'\n\
             A join gives keys when it compares hg.{name}.{domain} (or .{company_name}) with = and does not keep \
             every row of hg.{name} (FULL JOIN, or hg.{name} on the kept side of a LEFT/RIGHT JOIN, would)."
        ),
        Lookup::Listing => format!("hg.{name} needs no keys"),
    }
}

/// What a query is told when `NOT IN (SELECT column FROM hg.…)` gives an HG scan no keys:
/// DataFusion sends a NOT IN no key list when the local column may be NULL.
pub fn not_in_message(spec: &TableSpec, column: &str) -> String {
    let name = spec.name;
    format!(
        "hg.{name} cannot be scanned: NOT IN (SELECT {column} FROM hg.{name}) gives it no keys when the local \
         column it is compared with may be NULL (a NULL there changes what NOT IN means, so DataFusion sends no \
         key list). Keep the rows HG does not know with a LEFT JOIN instead, e.g.\n  \
         SELECT a.* FROM 'accounts.csv' a LEFT JOIN hg.{name} t ON t.{column} = a.website WHERE t.{column} IS NULL"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::{col, in_list, lit};

    fn inclusion(filters: &Filters, name: &str) -> Option<(Vec<Value>, String)> {
        let value = filters.get(name)?;
        Some((value["ids"].as_array()?.clone(), value["inclusion_method"].as_str()?.to_string()))
    }

    #[test]
    fn pushed_filters_become_api_filters_and_unsendable_values_send_nothing() {
        let installs = crate::tables::find("installs").unwrap();
        let pushed = pushdown::analyze(
            installs,
            &[
                in_list(col("product_id"), vec![lit(814i64), lit(1023i64), lit(5i64), lit(6i64)], false),
                col("vendor_id").not_eq(lit(316i64)),
                col("country_code").eq(lit("US")),
                col("product_category_id").eq(lit("not-hex")),
            ],
        );
        let filters = api_filters(installs, &pushed);
        let (products, method) = inclusion(&filters, "products").unwrap();
        assert_eq!(products, [5, 6, 814, 1023].map(Value::from), "sorted, so any order is one request");
        assert_eq!(method, "ANY_PRESENT");
        assert_eq!(inclusion(&filters, "vendors").unwrap(), (vec![Value::from(316)], "NONE_PRESENT".to_string()));
        assert_eq!(inclusion(&filters, "country_codes").unwrap().0, [Value::from("US")]);
        assert!(filters.get("product_categories").is_none(), "a value that is not an id is left to DataFusion");
        let names: Vec<&str> = filters.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["products", "vendors", "country_codes"], "in the endpoint's order");
        let spend = crate::tables::find("spend").unwrap();
        let negated = pushdown::analyze(spend, &[col("category_id").not_eq(lit("0A"))]);
        assert!(api_filters(spend, &negated).get("category_ids").is_none(), "category_ids has no NONE_PRESENT form");
    }

    /// A predicate on one integer column, as a user writes it.
    #[derive(Clone, Debug)]
    enum Predicate {
        Eq(i64),
        NotEq(i64),
        In(Vec<i64>),
        NotIn(Vec<i64>),
        AnyOf(Vec<i64>),
    }

    impl Predicate {
        fn holds(&self, value: i64) -> bool {
            match self {
                Predicate::Eq(v) => value == *v,
                Predicate::NotEq(v) => value != *v,
                Predicate::In(list) | Predicate::AnyOf(list) => list.contains(&value),
                Predicate::NotIn(list) => !list.contains(&value),
            }
        }

        fn expr(&self, column: &str) -> datafusion::logical_expr::Expr {
            let list = |l: &[i64]| l.iter().map(|v| lit(*v)).collect::<Vec<_>>();
            match self {
                Predicate::Eq(v) => col(column).eq(lit(*v)),
                Predicate::NotEq(v) => lit(*v).not_eq(col(column)),
                Predicate::In(l) => in_list(col(column), list(l), false),
                Predicate::NotIn(l) => in_list(col(column), list(l), true),
                Predicate::AnyOf(l) => {
                    l.iter().map(|v| col(column).eq(lit(*v))).reduce(|a, b| a.or(b)).unwrap_or(lit(false))
                }
            }
        }
    }

    fn predicate() -> impl proptest::strategy::Strategy<Value = Predicate> {
        use proptest::prelude::*;
        let list = proptest::collection::vec(0i64..6, 1..4);
        prop_oneof![
            (0i64..6).prop_map(Predicate::Eq),
            (0i64..6).prop_map(Predicate::NotEq),
            list.clone().prop_map(Predicate::In),
            list.clone().prop_map(Predicate::NotIn),
            list.prop_map(Predicate::AnyOf),
        ]
    }

    proptest::proptest! {
        /// Whatever predicates a query puts on the product and vendor columns, every install
        /// they keep passes the API filters sent: pushdown may fetch more, never less.
        #[test]
        fn api_filters_never_drop_a_row_the_query_keeps(
            products in proptest::collection::vec(predicate(), 0..4),
            vendors in proptest::collection::vec(predicate(), 0..3),
        ) {
            let installs = crate::tables::find("installs").unwrap();
            let exprs: Vec<_> = products.iter().map(|p| p.expr("product_id"))
                .chain(vendors.iter().map(|p| p.expr("vendor_id")))
                .collect();
            let filters = api_filters(installs, &pushdown::analyze(installs, &exprs));
            let passes = |name: &str, value: i64| match inclusion(&filters, name) {
                None => true,
                Some((ids, method)) => ids.contains(&Value::from(value)) == (method == "ANY_PRESENT"),
            };
            for product in 0..7 {
                for vendor in 0..7 {
                    let kept = products.iter().all(|p| p.holds(product)) && vendors.iter().all(|p| p.holds(vendor));
                    if kept {
                        proptest::prop_assert!(
                            passes("products", product) && passes("vendors", vendor),
                            "product {product}, vendor {vendor} kept by the query but not by {filters:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn search_criteria_become_nested_filters_and_pinned_values() {
        let search = crate::tables::find("search").unwrap();
        let pushed = pushdown::analyze(
            search,
            &[
                in_list(col("country_code"), vec![lit("DE"), lit("AT")], false),
                col("country_code").not_eq(lit("AT")),
                col("employees_total").gt_eq(lit(500i64)),
                col("employees_total").lt_eq(lit(10_000i64)),
                col("employees_total").gt(lit(700i64)),
                col("product_id").eq(lit(814i64)),
                col("is_global_headquarters"),
            ],
        );
        let filters = serde_json::to_value(api_filters(search, &pushed)).unwrap();
        assert_eq!(
            filters,
            serde_json::json!({
                "firmographics": {
                    "country_codes": [{"ids": ["AT", "DE"], "inclusion_method": "ANY_PRESENT"},
                                      {"ids": ["AT"], "inclusion_method": "NONE_PRESENT"}],
                    "employees": {"min": 701, "max": 10000}},
                "installs": {"products": [{"ids": [814], "inclusion_method": "ANY_PRESENT"}]},
                "corporate_hierarchy": {"is_global_headquarters": true}})
        );
        assert!(!contradicts(search, &pushed));
        let mut pinned = pinned(search, &pushed);
        pinned.sort();
        // country_code names two values (one excluded, but pinning asks for one named value);
        // the range is wider than one number.
        assert_eq!(pinned, [("is_global_headquarters", "true".to_string()), ("product_id", "814".to_string())]);
        let exactly =
            pushdown::analyze(search, &[col("employees_total").eq(lit(42i64)), col("country_code").eq(lit("DE"))]);
        let mut pinned = super::pinned(search, &exactly);
        pinned.sort();
        assert_eq!(pinned, [("country_code", "DE".to_string()), ("employees_total", "42".to_string())]);
        let describe = describe_filters(search, &pushed).join(", ");
        assert!(describe.contains("CountryCodes ANY_PRESENT (DE, AT)"), "{describe}");
        assert!(describe.contains("Employees 701..=10000"), "{describe}");
        assert!(describe.contains("IsGlobalHeadquarters = true"), "{describe}");

        for never in [
            vec![col("is_global_headquarters"), !col("is_global_headquarters")],
            vec![col("revenue_total").gt(lit(10i64)), col("revenue_total").lt(lit(5i64))],
            vec![col("industry_id").eq(lit("not a number"))],
        ] {
            let pushed = pushdown::analyze(search, &never);
            assert!(contradicts(search, &pushed), "{never:?}");
            assert!(describe_filters(search, &pushed).iter().any(|d| d.contains("nothing is asked")));
        }
        let excluded = pushdown::analyze(search, &[in_list(col("industry_id"), vec![lit("x")], true)]);
        assert!(!contradicts(search, &excluded), "NOT IN a value that cannot be sent excludes nothing");
        assert!(api_filters(search, &excluded).is_empty());
    }

    #[test]
    fn filter_names_read_as_before_in_explain() {
        assert_eq!(camel("products"), "Products");
        assert_eq!(camel("product_categories"), "ProductCategories");
        assert_eq!(camel("category_ids"), "CategoryIds");
    }
}
