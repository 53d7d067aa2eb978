//! Turning the predicates DataFusion hands a table (`WHERE`, and the ones it infers across
//! joins) into what HG can be asked: key values, API filters, a match limit, a name search.
//!
//! Shapes handled (DataFusion 55, see docs/architecture.md): `col = lit` either way round, `col IN (…)`,
//! `col = a OR col = b …` (short IN lists arrive so), `col <> lit` and `NOT IN`, casts around
//! the column, `match_rank <= n`, and `name ILIKE '%x%'`. Anything else stays with DataFusion.

use std::collections::BTreeSet;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown, expr::InList, expr::Like};

use crate::api::FilterForm;
use crate::tables::{ApiFilter, Lookup, TableSpec};

/// A column compared with literal values.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnValues {
    pub column: String,
    pub values: Vec<ScalarValue>,
    /// `NOT IN` / `<>`: rows with these values are dropped.
    pub negated: bool,
}

/// What the predicates of one scan ask of HG.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pushed {
    /// Literal values per key column; several predicates on one column intersect.
    pub keys: Vec<(String, BTreeSet<String>)>,
    /// API filters with their values.
    pub filters: Vec<(ApiFilter, ColumnValues)>,
    /// `match_rank <= n`.
    pub match_limit: Option<u32>,
    /// A catalog name search.
    pub name: Option<String>,
}

/// Reads `expr` as a column compared with literals, if it is one.
pub fn column_values(expr: &Expr) -> Option<ColumnValues> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::Eq | Operator::NotEq => {
                let (column, value) = match (column_name(left), literal(right), column_name(right), literal(left)) {
                    (Some(c), Some(v), _, _) | (_, _, Some(c), Some(v)) => (c, v),
                    _ => return None,
                };
                Some(ColumnValues { column, values: vec![value], negated: *op == Operator::NotEq })
            }
            Operator::Or => {
                let (a, b) = (column_values(left)?, column_values(right)?);
                (a.column == b.column && !a.negated && !b.negated).then(|| ColumnValues {
                    column: a.column,
                    values: a.values.into_iter().chain(b.values).collect(),
                    negated: false,
                })
            }
            _ => None,
        },
        Expr::InList(InList { expr, list, negated }) => {
            let column = column_name(expr)?;
            let values = list.iter().map(literal).collect::<Option<Vec<_>>>()?;
            Some(ColumnValues { column, values, negated: *negated })
        }
        _ => None,
    }
}

fn column_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Column(c) => Some(c.name.clone()),
        Expr::Cast(cast) => column_name(&cast.expr),
        Expr::TryCast(cast) => column_name(&cast.expr),
        _ => None,
    }
}

fn literal(expr: &Expr) -> Option<ScalarValue> {
    match expr {
        Expr::Literal(value, _) if !value.is_null() => Some(value.clone()),
        Expr::Cast(cast) => literal(&cast.expr),
        _ => None,
    }
}

/// A literal as the text HG is sent.
pub fn text(value: &ScalarValue) -> Option<String> {
    match value {
        ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s)) => {
            Some(s.clone())
        }
        ScalarValue::Null => None,
        other if !other.is_null() => Some(other.to_string()),
        _ => None,
    }
}

/// HG answers at most this many matches per lookup.
pub const MAX_MATCHES: i64 = 10;

/// A predicate on `match_rank` as the number of matches to ask for, and whether asking for
/// that many answers it exactly: `<= n` and `< n` do; `= n` (n > 1), `>`, `>=` and `<>` need
/// every match up to n (or all 10) and DataFusion keeps the rows it wants.
fn match_limit(expr: &Expr, column: &str) -> Option<(u32, bool)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else { return None };
    if column_name(left).as_deref() != Some(column) {
        return None;
    }
    let n = match literal(right)? {
        ScalarValue::Int64(Some(n)) => n,
        ScalarValue::Int32(Some(n)) => n.into(),
        ScalarValue::UInt64(Some(n)) => i64::try_from(n).unwrap_or(i64::MAX),
        ScalarValue::UInt32(Some(n)) => n.into(),
        _ => return None,
    };
    let (limit, exact) = match op {
        Operator::LtEq => (n, true),
        Operator::Lt => (n.saturating_sub(1), true),
        Operator::Eq => (n, n == 1),
        Operator::Gt | Operator::GtEq | Operator::NotEq => (MAX_MATCHES, false),
        _ => return None,
    };
    // Below 1 nothing can pass; ask for 1 and let DataFusion drop it.
    Some(if limit < 1 { (1, false) } else { (limit.min(MAX_MATCHES) as u32, exact) })
}

/// `name ILIKE '%x%'`, `name LIKE '%x%'` or `name = 'x'` as the text to search for.
fn name_search(expr: &Expr, column: &str) -> Option<String> {
    match expr {
        Expr::Like(Like { negated: false, expr, pattern, escape_char: None, .. })
            if column_name(expr).as_deref() == Some(column) =>
        {
            let pattern = text(&literal(pattern)?)?;
            let inner = pattern.trim_start_matches('%').trim_end_matches('%');
            (!inner.is_empty() && !inner.contains(['%', '_'])).then(|| inner.to_string())
        }
        _ => column_values(expr)
            .filter(|v| v.column == column && !v.negated && v.values.len() == 1)
            .and_then(|v| text(&v.values[0])),
    }
}

/// How DataFusion may rely on `spec` for `expr`: key predicates are answered exactly (HG is
/// asked for exactly those keys); API filters as their spec says; the rest is DataFusion's.
pub fn support(spec: &TableSpec, expr: &Expr) -> TableProviderFilterPushDown {
    if let Some(values) = column_values(expr)
        && !values.negated
        && is_key(spec, &values.column)
    {
        return TableProviderFilterPushDown::Exact;
    }
    for pushdown in spec.pushdown {
        let handled = match shape(spec, pushdown.filter) {
            Shape::MatchLimit => match_limit(expr, pushdown.column).map(|(_, exact)| exact),
            Shape::NameSearch => name_search(expr, pushdown.column).map(|_| pushdown.exact),
            Shape::Values => column_values(expr).filter(|v| v.column == pushdown.column).map(|_| pushdown.exact),
        };
        if let Some(exact) = handled {
            return if exact { TableProviderFilterPushDown::Exact } else { TableProviderFilterPushDown::Inexact };
        }
    }
    TableProviderFilterPushDown::Unsupported
}

/// The SQL shape a pushed filter takes, from the form the endpoint declares for it.
enum Shape {
    /// `col = lit`, `IN`, `<>`, `NOT IN`, OR-chains of `=`.
    Values,
    /// `col ILIKE '%x%'`, `LIKE`, `= 'x'`.
    NameSearch,
    /// `match_rank <= n`.
    MatchLimit,
}

fn shape(spec: &TableSpec, filter: ApiFilter) -> Shape {
    match (filter, spec.wire_filter(filter).map(|w| w.form)) {
        (ApiFilter::MatchLimit, _) => Shape::MatchLimit,
        (_, Some(FilterForm::Substring)) => Shape::NameSearch,
        _ => Shape::Values,
    }
}

fn is_key(spec: &TableSpec, column: &str) -> bool {
    match spec.lookup {
        Lookup::ByCompany { key } => key == column,
        Lookup::ByMatch { domain, name, country } => [domain, name, country].contains(&column),
        Lookup::Listing => false,
    }
}

/// Collects what `filters` (the conjuncts DataFusion pushed) ask of HG.
pub fn analyze(spec: &TableSpec, filters: &[Expr]) -> Pushed {
    let mut pushed = Pushed::default();
    for expr in filters {
        if let Some(values) = column_values(expr).filter(|v| !v.negated && is_key(spec, &v.column)) {
            let set: BTreeSet<String> = values.values.iter().filter_map(text).collect();
            match pushed.keys.iter_mut().find(|(c, _)| *c == values.column) {
                Some((_, existing)) => *existing = existing.intersection(&set).cloned().collect(),
                None => pushed.keys.push((values.column, set)),
            }
            continue;
        }
        for pushdown in spec.pushdown {
            match shape(spec, pushdown.filter) {
                Shape::MatchLimit => {
                    if let Some((n, _)) = match_limit(expr, pushdown.column) {
                        pushed.match_limit = Some(pushed.match_limit.map_or(n, |m| m.min(n)));
                    }
                }
                Shape::NameSearch => {
                    if pushed.name.is_none() {
                        pushed.name = name_search(expr, pushdown.column);
                    }
                }
                Shape::Values => {
                    if let Some(values) = column_values(expr).filter(|v| v.column == pushdown.column) {
                        pushed.filters.push((pushdown.filter, values));
                    }
                }
            }
        }
    }
    pushed
}

#[cfg(test)]
mod tests {
    use super::*;
    use TableProviderFilterPushDown::{Exact, Inexact, Unsupported};
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{cast, col, in_list, lit};

    fn installs() -> &'static TableSpec {
        crate::tables::find("installs").unwrap()
    }

    #[test]
    fn key_shapes_become_key_sets() {
        let a = "0000000000000000000000000000000A";
        let b = "0000000000000000000000000000000B";
        let c = "0000000000000000000000000000000C";
        for expr in [
            col("company_id").eq(lit(a)),
            lit(a).eq(col("company_id")),
            in_list(col("company_id"), vec![lit(a), lit(b), lit(c), lit("D")], false),
            col("company_id").eq(lit(a)).or(col("company_id").eq(lit(b))),
            cast(col("company_id"), DataType::Utf8View).eq(lit(a)),
        ] {
            assert_eq!(support(installs(), &expr), Exact, "{expr}");
            let pushed = analyze(installs(), std::slice::from_ref(&expr));
            assert_eq!(pushed.keys.len(), 1, "{expr}");
            assert!(pushed.keys[0].1.contains(a), "{expr}");
        }
        // Two predicates on the key intersect.
        let both = analyze(
            installs(),
            &[in_list(col("company_id"), vec![lit(a), lit(b), lit(c), lit("D")], false), col("company_id").eq(lit(b))],
        );
        assert_eq!(both.keys[0].1, BTreeSet::from([b.to_string()]));
    }

    #[test]
    fn non_key_shapes_become_api_filters_or_stay_with_datafusion() {
        let any = in_list(col("product_id"), vec![lit(814i64), lit(1023i64), lit(5i64), lit(6i64)], false);
        assert_eq!(support(installs(), &any), Inexact);
        let none = in_list(col("product_id"), vec![lit(814i64)], true);
        let pushed = analyze(installs(), &[any.clone(), none.clone(), col("country_code").not_eq(lit("US"))]);
        assert_eq!(pushed.filters.len(), 3);
        assert_eq!(pushed.filters[0].0, ApiFilter::Wire("products"));
        assert!(!pushed.filters[0].1.negated && pushed.filters[1].1.negated && pushed.filters[2].1.negated);
        assert_eq!(pushed.filters[2].0, ApiFilter::Wire("country_codes"));
        for unsupported in [
            col("product_intensity").gt(lit(100i64)),
            col("company_id").not_eq(lit("A")),
            col("product_id").eq(lit(1i64)).or(col("vendor_id").eq(lit(2i64))),
            col("product_name").like(lit("%Sales%")),
        ] {
            assert_eq!(support(installs(), &unsupported), Unsupported, "{unsupported}");
        }
        assert!(analyze(installs(), &[col("product_intensity").gt(lit(1i64))]).filters.is_empty());
    }

    #[test]
    fn match_rank_and_catalog_names() {
        let companies = crate::tables::find("companies").unwrap();
        assert_eq!(support(companies, &col("match_rank").lt_eq(lit(3i64))), Exact);
        assert_eq!(
            analyze(companies, &[col("match_rank").lt_eq(lit(3i64)), col("match_rank").lt(lit(2i64))]).match_limit,
            Some(1)
        );
        // HG matches at most 10: asking for 10 answers `<= 50` exactly.
        assert_eq!(support(companies, &col("match_rank").lt_eq(lit(50i64))), Exact);
        assert_eq!(analyze(companies, &[col("match_rank").lt_eq(lit(50i64))]).match_limit, Some(10));
        // Predicates that need more than the first n matches ask for enough and stay checked.
        for (expr, limit) in [
            (col("match_rank").eq(lit(2i64)), 2),
            (col("match_rank").gt(lit(1i64)), 10),
            (col("match_rank").not_eq(lit(1i64)), 10),
            (col("match_rank").lt(lit(1i64)), 1),
        ] {
            assert_eq!(support(companies, &expr), Inexact, "{expr}");
            assert_eq!(analyze(companies, std::slice::from_ref(&expr)).match_limit, Some(limit), "{expr}");
        }
        assert_eq!(support(companies, &col("match_rank").eq(lit(1i64))), Exact);
        assert_eq!(support(companies, &col("match_domain").eq(lit("acme.com"))), Exact);
        let products = crate::tables::find("products").unwrap();
        assert_eq!(analyze(products, &[col("name").ilike(lit("%sales%"))]).name.as_deref(), Some("sales"));
        assert_eq!(analyze(products, &[col("name").eq(lit("Salesforce CRM"))]).name.as_deref(), Some("Salesforce CRM"));
        assert_eq!(support(products, &col("name").ilike(lit("%a%b%"))), Unsupported);
        assert_eq!(support(products, &col("name").ilike(lit("%cloud%"))), Inexact);
    }
}
