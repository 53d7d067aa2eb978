//! What a scan asks HG, worked out from the table's declaration and the pushed predicates: the
//! fields of the projected columns, the endpoint's filters in their wire form, and the message
//! for a query that gives a table no keys. Pure functions: no I/O, no DataFusion plan.

use serde_json::Value;

use super::pushdown::{self, ColumnValues, Pushed};
use crate::api::{FilterForm, Filters, HexId, IdKind, Inclusion, InclusionMethod};
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

/// The endpoint's filters for the pushed predicates, in the order the endpoint declares them
/// (so the same predicates are always the same request and the same cache entry). Every one is
/// a superset of what SQL keeps (DataFusion checks the predicate again), so when a filter has
/// several predicates, the first that can be sent is; a value that cannot be sent (not an id)
/// sends nothing for that predicate.
pub fn api_filters(spec: &TableSpec, pushed: &Pushed) -> Filters {
    let mut chosen: Vec<(&'static str, Value)> = Vec::new();
    for (filter, values) in &pushed.filters {
        let Some(wire) = spec.wire_filter(*filter) else { continue };
        if chosen.iter().any(|(name, _)| *name == wire.name) {
            continue;
        }
        let method = if values.negated { InclusionMethod::NonePresent } else { InclusionMethod::AnyPresent };
        let value = match wire.form {
            FilterForm::Inclusion(kind) => ids(values, kind)
                .map(|ids| serde_json::to_value(Inclusion { ids, inclusion_method: method }).expect("serialises")),
            FilterForm::List(kind) if !values.negated => ids(values, kind).map(Value::Array),
            FilterForm::List(_) | FilterForm::Substring => None,
        };
        if let Some(value) = value {
            chosen.push((wire.name, value));
        }
    }
    let mut filters = Filters::default();
    for wire in spec.endpoint.spec().filters {
        if let Some((name, value)) = chosen.iter().find(|(name, _)| *name == wire.name) {
            filters = filters.with(name, value);
        }
    }
    filters
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
    let mut out: Vec<String> = pushed
        .filters
        .iter()
        .map(|(filter, values)| {
            let name = match filter {
                ApiFilter::Wire(name) => camel(spec.wire_filter(*filter).map_or(name, |w| w.name)),
                ApiFilter::MatchLimit => "MatchLimit".to_string(),
            };
            let method = if values.negated { "NONE_PRESENT" } else { "ANY_PRESENT" };
            let list: Vec<String> = values.values.iter().filter_map(pushdown::text).collect();
            format!("{name} {method} ({})", list.join(", "))
        })
        .collect();
    if let Some(n) = pushed.match_limit {
        out.push(format!("limit={n} matches"));
    }
    if let Some(name) = &pushed.name {
        out.push(format!("name contains {name:?}"));
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
    fn filter_names_read_as_before_in_explain() {
        assert_eq!(camel("products"), "Products");
        assert_eq!(camel("product_categories"), "ProductCategories");
        assert_eq!(camel("category_ids"), "CategoryIds");
    }
}
