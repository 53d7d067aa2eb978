//! Turning the predicates DataFusion hands a table (`WHERE`, and the ones it infers across
//! joins) into what HG can be asked: key values, API filters, a match limit, a name search.
//!
//! Shapes handled (DataFusion 55, see docs/architecture.md): `col = lit` either way round, `col IN (…)`,
//! `col = a OR col = b …` (short IN lists arrive so), `col <> lit` and `NOT IN`, casts around
//! the column, `match_rank <= n`, `name ILIKE '%x%'`, comparisons and `BETWEEN` on a range
//! filter, and `flag`, `NOT flag`, `flag = true`, `flag IS FALSE` on a flag filter. Anything
//! else stays with DataFusion.

use std::collections::BTreeSet;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{
    BinaryExpr, Expr, Operator, TableProviderFilterPushDown,
    expr::{Between, InList, Like},
};

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
    /// Bounds on range filters, one entry per predicate (they intersect).
    pub ranges: Vec<(ApiFilter, Bounds)>,
    /// Values of flag filters, one entry per predicate.
    pub flags: Vec<(ApiFilter, bool)>,
}

/// Whole-number bounds a predicate sets, both included; `None` leaves that end open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

impl Bounds {
    /// What both `self` and `other` admit.
    pub fn intersect(self, other: Bounds) -> Bounds {
        let pick = |a: Option<i64>, b: Option<i64>, f: fn(i64, i64) -> i64| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        Bounds { min: pick(self.min, other.min, i64::max), max: pick(self.max, other.max, i64::min) }
    }

    /// Whether no whole number lies within.
    pub fn is_empty(self) -> bool {
        matches!((self.min, self.max), (Some(min), Some(max)) if min > max)
    }
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

/// A number literal: whole numbers stay exact, the rest are read as `f64`.
#[derive(Clone, Copy)]
enum Number {
    Whole(i64),
    Real(f64),
}

fn number(expr: &Expr) -> Option<Number> {
    Some(match literal(expr)? {
        ScalarValue::Int64(Some(n)) => Number::Whole(n),
        ScalarValue::Int32(Some(n)) => Number::Whole(n.into()),
        ScalarValue::Int16(Some(n)) => Number::Whole(n.into()),
        ScalarValue::Int8(Some(n)) => Number::Whole(n.into()),
        ScalarValue::UInt64(Some(n)) => Number::Whole(i64::try_from(n).ok()?),
        ScalarValue::UInt32(Some(n)) => Number::Whole(n.into()),
        ScalarValue::UInt16(Some(n)) => Number::Whole(n.into()),
        ScalarValue::UInt8(Some(n)) => Number::Whole(n.into()),
        ScalarValue::Float64(Some(f)) if f.is_finite() => Number::Real(f),
        ScalarValue::Float32(Some(f)) if f.is_finite() => Number::Real(f.into()),
        ScalarValue::Decimal128(Some(v), _, scale) => Number::Real(v as f64 / 10f64.powi(scale.into())),
        _ => return None,
    })
}

/// The least whole number at or above `n` (`ceil`) or at or below it (`floor`), saturating.
fn whole(n: Number, up: bool) -> i64 {
    match n {
        Number::Whole(n) => n,
        Number::Real(f) => (if up { f.ceil() } else { f.floor() }) as i64,
    }
}

/// A predicate on a whole-number `column` as the bounds it sets: `=`, `<`, `<=`, `>`, `>=`
/// either way round, and `BETWEEN`.
fn range_bounds(expr: &Expr, column: &str) -> Option<Bounds> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (value, op) = if column_name(left).as_deref() == Some(column) {
                (number(right)?, *op)
            } else if column_name(right).as_deref() == Some(column) {
                (number(left)?, op.swap()?)
            } else {
                return None;
            };
            let (up, down) = (whole(value, true), whole(value, false));
            Some(match op {
                Operator::Eq => Bounds { min: Some(up), max: Some(down) },
                Operator::GtEq => Bounds { min: Some(up), max: None },
                Operator::Gt => Bounds { min: Some(down.saturating_add(1)), max: None },
                Operator::LtEq => Bounds { min: None, max: Some(down) },
                Operator::Lt => Bounds { min: None, max: Some(up.saturating_sub(1)) },
                _ => return None,
            })
        }
        Expr::Between(Between { expr, negated: false, low, high }) if column_name(expr).as_deref() == Some(column) => {
            Some(Bounds { min: Some(whole(number(low)?, true)), max: Some(whole(number(high)?, false)) })
        }
        _ => None,
    }
}

/// A predicate on a boolean `column` as the value it asks for: `col`, `NOT col`, `col = true`,
/// `col <> false`, `col IS TRUE`, `col IS FALSE`.
fn flag_value(expr: &Expr, column: &str) -> Option<bool> {
    let is_column = |e: &Expr| column_name(e).as_deref() == Some(column);
    match expr {
        Expr::Column(_) if is_column(expr) => Some(true),
        Expr::Not(inner) if is_column(inner) => Some(false),
        Expr::IsTrue(inner) if is_column(inner) => Some(true),
        Expr::IsFalse(inner) if is_column(inner) => Some(false),
        Expr::BinaryExpr(BinaryExpr { left, op: op @ (Operator::Eq | Operator::NotEq), right }) => {
            let value = match (is_column(left), is_column(right)) {
                (true, _) => literal(right)?,
                (_, true) => literal(left)?,
                _ => return None,
            };
            let ScalarValue::Boolean(Some(value)) = value else { return None };
            Some(if *op == Operator::Eq { value } else { !value })
        }
        _ => None,
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
            Shape::Range => range_bounds(expr, pushdown.column).map(|_| pushdown.exact),
            Shape::Flag => flag_value(expr, pushdown.column).map(|_| pushdown.exact),
        };
        if let Some(exact) = handled {
            return if exact { TableProviderFilterPushDown::Exact } else { TableProviderFilterPushDown::Inexact };
        }
    }
    TableProviderFilterPushDown::Unsupported
}

/// Why `expr` cannot run, when it puts a condition HG cannot be sent on a criterion column
/// (hg.search's `country_code`, …): HG does not return such a column, so DataFusion could not
/// check the condition either and would quietly drop every row.
pub fn unsendable_criterion(spec: &TableSpec, expr: &Expr) -> Option<String> {
    if support(spec, expr) != TableProviderFilterPushDown::Unsupported {
        return None;
    }
    let refs = expr.column_refs();
    let column = spec
        .columns
        .iter()
        .find(|c| c.source == crate::tables::ColumnSource::Criterion && refs.iter().any(|r| r.name == c.name))?;
    let forms = spec.pushdown_text(column.name).unwrap_or_default();
    Some(format!(
        "hg.{table}.{name} is a search criterion, not a value HG returns, so HG must apply the condition \
         `{expr}` and cannot: it takes {name} only in a condition of its own, ANDed with the rest of the \
         WHERE clause ({forms}). Rewrite the condition in one of those forms, e.g. split an OR into \
         two queries joined by UNION.",
        table = spec.name,
        name = column.name,
        expr = expr.human_display(),
    ))
}

/// The SQL shape a pushed filter takes, from the form the endpoint declares for it.
enum Shape {
    /// `col = lit`, `IN`, `<>`, `NOT IN`, OR-chains of `=`.
    Values,
    /// `col ILIKE '%x%'`, `LIKE`, `= 'x'`.
    NameSearch,
    /// `match_rank <= n`.
    MatchLimit,
    /// Comparisons and `BETWEEN` on a whole number.
    Range,
    /// `col`, `NOT col`, `col = true`.
    Flag,
}

fn shape(spec: &TableSpec, filter: ApiFilter) -> Shape {
    match (filter, spec.wire_filter(filter).map(|w| w.form)) {
        (ApiFilter::MatchLimit, _) => Shape::MatchLimit,
        (_, Some(FilterForm::Substring)) => Shape::NameSearch,
        (_, Some(FilterForm::Range)) => Shape::Range,
        (_, Some(FilterForm::Flag)) => Shape::Flag,
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
                Shape::Range => {
                    if let Some(bounds) = range_bounds(expr, pushdown.column) {
                        pushed.ranges.push((pushdown.filter, bounds));
                    }
                }
                Shape::Flag => {
                    if let Some(value) = flag_value(expr, pushdown.column) {
                        pushed.flags.push((pushdown.filter, value));
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

    #[test]
    fn ranges_and_flags_on_search_criteria() {
        let search = crate::tables::find("search").unwrap();
        let employees = ApiFilter::Wire("firmographics.employees");
        for (expr, bounds) in [
            (col("employees_total").gt_eq(lit(500i64)), Bounds { min: Some(500), max: None }),
            (col("employees_total").gt(lit(500i64)), Bounds { min: Some(501), max: None }),
            (lit(500i64).gt(col("employees_total")), Bounds { min: None, max: Some(499) }),
            (col("employees_total").lt_eq(lit(10.5f64)), Bounds { min: None, max: Some(10) }),
            (col("employees_total").lt(lit(10.5f64)), Bounds { min: None, max: Some(10) }),
            (col("employees_total").gt(lit(10.5f64)), Bounds { min: Some(11), max: None }),
            (col("employees_total").eq(lit(7i64)), Bounds { min: Some(7), max: Some(7) }),
            (col("employees_total").eq(lit(7.5f64)), Bounds { min: Some(8), max: Some(7) }),
            (col("employees_total").between(lit(5i64), lit(9i64)), Bounds { min: Some(5), max: Some(9) }),
        ] {
            assert_eq!(support(search, &expr), Exact, "{expr}");
            assert_eq!(analyze(search, std::slice::from_ref(&expr)).ranges, [(employees, bounds)], "{expr}");
        }
        assert!(Bounds { min: Some(8), max: Some(7) }.is_empty());
        assert_eq!(
            Bounds { min: Some(1), max: None }.intersect(Bounds { min: Some(3), max: Some(9) }),
            Bounds { min: Some(3), max: Some(9) }
        );
        let hq = ApiFilter::Wire("corporate_hierarchy.is_global_headquarters");
        for (expr, value) in [
            (col("is_global_headquarters"), true),
            (!col("is_global_headquarters"), false),
            (col("is_global_headquarters").eq(lit(false)), false),
            (col("is_global_headquarters").not_eq(lit(false)), true),
            (col("is_global_headquarters").is_true(), true),
            (col("is_global_headquarters").is_false(), false),
        ] {
            assert_eq!(support(search, &expr), Exact, "{expr}");
            assert_eq!(analyze(search, std::slice::from_ref(&expr)).flags, [(hq, value)], "{expr}");
        }
        for unsupported in [
            col("employees_total").not_eq(lit(5i64)),
            !col("employees_total").between(lit(5i64), lit(9i64)),
            col("is_global_headquarters").is_not_true(),
            col("country_code").eq(lit("DE")).or(col("company_name").eq(lit("x"))),
        ] {
            assert_eq!(support(search, &unsupported), Unsupported, "{unsupported}");
            assert!(unsendable_criterion(search, &unsupported).is_some(), "{unsupported}");
        }
        // A condition on a returned field is DataFusion's to check, not an error.
        assert!(unsendable_criterion(search, &col("company_name").like(lit("A%"))).is_none());
        assert!(unsendable_criterion(search, &col("country_code").eq(lit("DE"))).is_none());
    }
}
