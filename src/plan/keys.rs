//! Reading the keys out of a hash join's dynamic filter, in every shape DataFusion 55 produces
//! (docs/architecture.md, "The dynamic filter's shapes"): `key IN (SET) ([…])`, bounds `AND`ed
//! with it, `OR`s, a `CASE` per hash partition with `false` for empty partitions, `key = v`,
//! and casts around the key. An opaque
//! shape (`hash_lookup`, `IS NULL`) makes the set unknown, and the scan refuses rather than
//! guessing.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::array::Array;
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{
    BinaryExpr, CaseExpr, CastExpr, Column, DynamicFilterPhysicalExpr, InListExpr, IsNullExpr, Literal, TryCastExpr,
};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};

use super::pushdown::text;

/// What a filter says about the values the key column may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySet {
    /// Only these values pass (none at all when empty).
    Values(BTreeSet<String>),
    /// The filter does not list them.
    Unknown,
}

impl KeySet {
    fn and(self, other: KeySet) -> KeySet {
        match (self, other) {
            (KeySet::Values(a), KeySet::Values(b)) => KeySet::Values(a.intersection(&b).cloned().collect()),
            (KeySet::Values(a), KeySet::Unknown) | (KeySet::Unknown, KeySet::Values(a)) => KeySet::Values(a),
            (KeySet::Unknown, KeySet::Unknown) => KeySet::Unknown,
        }
    }

    fn or(self, other: KeySet) -> KeySet {
        match (self, other) {
            (KeySet::Values(mut a), KeySet::Values(b)) => {
                a.extend(b);
                KeySet::Values(a)
            }
            _ => KeySet::Unknown,
        }
    }
}

/// What is known of the values one key column may take, from literal filters and joins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Known {
    Values(BTreeSet<String>),
    /// No literal and no join on the column.
    Absent,
    /// A join on the column whose filter lists no values (`hash_lookup`, an expression): its
    /// shape, for the message.
    Unreadable(String),
}

/// What a lookup scan (HG or HTTP table) says when a join's filter does not list its keys:
/// the join is on an expression of the key column, or its key set is past the session's IN-list
/// limits, and how to mend either.
pub fn unreadable_message(table: &str, column: &str, shape: &str) -> String {
    format!(
        "{table}: the keys of the join on {column} cannot be read from the filter DataFusion built ({shape}). \
         Join on the column itself (not an expression of it), or, if the key set is very large, raise \
         datafusion.optimizer.hash_join_inlist_pushdown_max_distinct_values / _max_size \
         (`SET datafusion.optimizer.hash_join_inlist_pushdown_max_distinct_values = 5000000`)"
    )
}

/// The `literal` values of `column` intersected with what every filter of `joins` on it
/// allows.
pub fn known(literal: Option<&BTreeSet<String>>, joins: &[Arc<dyn PhysicalExpr>], column: &str) -> Known {
    let mut values = literal.cloned();
    let mut unreadable = None;
    for filter in joins.iter().filter(|f| references(f, column)) {
        match extract(filter, column) {
            KeySet::Values(found) => {
                values = Some(match values {
                    Some(before) => before.intersection(&found).cloned().collect(),
                    None => found,
                })
            }
            KeySet::Unknown => unreadable = Some(shape(filter)),
        }
    }
    match (values, unreadable) {
        (Some(values), _) => Known::Values(values),
        (None, Some(shape)) => Known::Unreadable(shape),
        (None, None) => Known::Absent,
    }
}

/// A filter as text for messages, cut short.
pub fn shape(filter: &Arc<dyn PhysicalExpr>) -> String {
    let text = match filter.as_ref().downcast_ref::<DynamicFilterPhysicalExpr>().map(|d| d.current()) {
        Some(Ok(current)) => current.to_string(),
        _ => filter.to_string(),
    };
    if text.chars().count() > 160 { format!("{}…", text.chars().take(160).collect::<String>()) } else { text }
}

/// The values of `key` that can pass `filter`.
pub fn extract(filter: &Arc<dyn PhysicalExpr>, key: &str) -> KeySet {
    let expr = filter.as_ref();
    if let Some(dynamic) = expr.downcast_ref::<DynamicFilterPhysicalExpr>() {
        return dynamic.current().map_or(KeySet::Unknown, |current| extract(&current, key));
    }
    if let Some(list) = expr.downcast_ref::<InListExpr>() {
        if list.negated() {
            return KeySet::Unknown;
        }
        // A join on several columns lists `struct(k1, k2, …)` values: take the key's field.
        let field = if is_column(list.expr(), key) {
            None
        } else {
            match struct_position(list.expr(), key) {
                Some(i) => Some(i),
                None => return KeySet::Unknown,
            }
        };
        return list
            .list()
            .iter()
            .map(|item| literal(item).and_then(|v| struct_field(v, field)).map(|v| text(&v)))
            .collect::<Option<Vec<Option<String>>>>()
            .map_or(KeySet::Unknown, |values| KeySet::Values(values.into_iter().flatten().collect()));
    }
    if let Some(binary) = expr.downcast_ref::<BinaryExpr>() {
        return match binary.op() {
            Operator::And => extract(binary.left(), key).and(extract(binary.right(), key)),
            Operator::Or => extract(binary.left(), key).or(extract(binary.right(), key)),
            Operator::Eq => {
                let (l, r) = (binary.left(), binary.right());
                let value = if is_column(l, key) {
                    literal(r)
                } else if is_column(r, key) {
                    literal(l)
                } else {
                    None
                };
                value.map_or(KeySet::Unknown, |v| KeySet::Values(text(&v).into_iter().collect()))
            }
            _ => KeySet::Unknown,
        };
    }
    // `key IS NULL`, which a NOT IN's join adds (`… OR key IS NULL`): a lookup is by value, so
    // no row it gives has a NULL key, and the branch asks for nothing.
    if let Some(is_null) = expr.downcast_ref::<IsNullExpr>()
        && is_column(is_null.arg(), key)
    {
        return KeySet::Values(BTreeSet::new());
    }
    if let Some(case) = expr.downcast_ref::<CaseExpr>() {
        let branches = case.when_then_expr().iter().map(|(_, then)| then).chain(case.else_expr());
        return branches.fold(KeySet::Values(BTreeSet::new()), |acc, branch| acc.or(extract(branch, key)));
    }
    match literal(filter) {
        Some(ScalarValue::Boolean(Some(false))) => KeySet::Values(BTreeSet::new()),
        _ => KeySet::Unknown,
    }
}

/// The (k1, k2, …) tuples of `columns` that can pass `filter`, when a join on all of them lists
/// `struct(…)` values; `None` when the filter does not list them together (then only each
/// column's own values are known).
pub fn extract_tuples(filter: &Arc<dyn PhysicalExpr>, columns: &[&str]) -> Option<BTreeSet<Vec<String>>> {
    let expr = filter.as_ref();
    if let Some(dynamic) = expr.downcast_ref::<DynamicFilterPhysicalExpr>() {
        return extract_tuples(&dynamic.current().ok()?, columns);
    }
    if let Some(list) = expr.downcast_ref::<InListExpr>() {
        if list.negated() {
            return None;
        }
        let fields: Vec<usize> = columns.iter().map(|c| struct_position(list.expr(), c)).collect::<Option<_>>()?;
        let mut tuples = BTreeSet::new();
        for item in list.list() {
            let value = literal(item)?;
            let tuple: Option<Vec<String>> =
                fields.iter().map(|f| struct_field(value.clone(), Some(*f)).and_then(|v| text(&v))).collect();
            // A tuple with a NULL never passes the join.
            if let Some(tuple) = tuple {
                tuples.insert(tuple);
            }
        }
        return Some(tuples);
    }
    if let Some(binary) = expr.downcast_ref::<BinaryExpr>() {
        let (left, right) = (extract_tuples(binary.left(), columns), extract_tuples(binary.right(), columns));
        return match binary.op() {
            Operator::And => match (left, right) {
                (Some(a), Some(b)) => Some(a.intersection(&b).cloned().collect()),
                (a, b) => a.or(b),
            },
            Operator::Or => {
                let (mut a, b) = (left?, right?);
                a.extend(b);
                Some(a)
            }
            _ => None,
        };
    }
    if let Some(case) = expr.downcast_ref::<CaseExpr>() {
        let branches = case.when_then_expr().iter().map(|(_, then)| then).chain(case.else_expr());
        let mut all = BTreeSet::new();
        for branch in branches {
            all.extend(extract_tuples(branch, columns)?);
        }
        return Some(all);
    }
    match literal(filter) {
        Some(ScalarValue::Boolean(Some(false))) => Some(BTreeSet::new()),
        _ => None,
    }
}

/// Whether `expr` (a join's dynamic filter: its children are the probe-side key columns)
/// refers to `column`.
pub fn references(expr: &Arc<dyn PhysicalExpr>, column: &str) -> bool {
    let mut found = false;
    let _ = datafusion::common::tree_node::TreeNode::apply(expr, |e| {
        if e.as_ref().downcast_ref::<Column>().is_some_and(|c| c.name() == column) {
            found = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

fn is_column(expr: &Arc<dyn PhysicalExpr>, key: &str) -> bool {
    let expr = expr.as_ref();
    if let Some(column) = expr.downcast_ref::<Column>() {
        return column.name() == key;
    }
    if let Some(cast) = expr.downcast_ref::<CastExpr>() {
        return is_column(cast.expr(), key);
    }
    if let Some(cast) = expr.downcast_ref::<TryCastExpr>() {
        return is_column(cast.expr(), key);
    }
    false
}

/// Where `key` is among the arguments of a `struct(…)` the join builds for several columns.
fn struct_position(expr: &Arc<dyn PhysicalExpr>, key: &str) -> Option<usize> {
    let function = expr.as_ref().downcast_ref::<ScalarFunctionExpr>()?;
    (function.name() == "struct").then(|| function.args().iter().position(|arg| is_column(arg, key)))?
}

/// The `field`th field of a struct value, or the value itself when `field` is `None`.
fn struct_field(value: ScalarValue, field: Option<usize>) -> Option<ScalarValue> {
    match (field, value) {
        (None, value) => Some(value),
        (Some(i), ScalarValue::Struct(array)) if i < array.num_columns() && array.len() == 1 => {
            ScalarValue::try_from_array(array.column(i), 0).ok()
        }
        _ => None,
    }
}

fn literal(expr: &Arc<dyn PhysicalExpr>) -> Option<ScalarValue> {
    expr.as_ref().downcast_ref::<Literal>().map(|l| l.value().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::expressions::{binary, col, in_list, lit};

    fn schema() -> Schema {
        Schema::new(vec![Field::new("company_id", DataType::Utf8, true), Field::new("other", DataType::Utf8, true)])
    }

    fn set(values: &[&str]) -> KeySet {
        KeySet::Values(values.iter().map(|v| v.to_string()).collect())
    }

    fn inlist(values: &[&str]) -> Arc<dyn PhysicalExpr> {
        let list = values.iter().map(|v| lit(*v)).collect();
        in_list(col("company_id", &schema()).unwrap(), list, &false, &schema()).unwrap()
    }

    fn bounds_and(list: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
        let s = schema();
        let key = col("company_id", &s).unwrap();
        let low = binary(key.clone(), Operator::GtEq, lit("A"), &s).unwrap();
        let high = binary(key, Operator::LtEq, lit("C"), &s).unwrap();
        let bounds = binary(low, Operator::And, high, &s).unwrap();
        binary(bounds, Operator::And, list, &s).unwrap()
    }

    #[test]
    fn collect_left_in_list_with_bounds() {
        // `company_id >= A AND company_id <= C AND company_id IN (SET) ([A, B, B, C])`: keys
        // repeat in chained joins, and the bounds say nothing the list does not.
        assert_eq!(extract(&bounds_and(inlist(&["A", "B", "B", "C"])), "company_id"), set(&["A", "B", "C"]));
    }

    #[test]
    fn partitioned_case_unions_the_branches_and_false_is_empty() {
        let partition = lit(0i64);
        let case: Arc<dyn PhysicalExpr> = Arc::new(
            CaseExpr::try_new(
                Some(partition),
                vec![
                    (lit(0i64), bounds_and(inlist(&["A"]))),
                    (lit(1i64), lit(false)),
                    (lit(2i64), inlist(&["C", "D"])),
                ],
                Some(lit(false)),
            )
            .unwrap(),
        );
        assert_eq!(extract(&case, "company_id"), set(&["A", "C", "D"]));
        assert_eq!(extract(&lit(false), "company_id"), set(&[]));
    }

    #[test]
    fn opaque_or_foreign_shapes_are_unknown() {
        let s = schema();
        let key = col("company_id", &s).unwrap();
        let bounds_only = binary(key.clone(), Operator::GtEq, lit("A"), &s).unwrap();
        assert_eq!(extract(&bounds_only, "company_id"), KeySet::Unknown);
        assert_eq!(extract(&lit(true), "company_id"), KeySet::Unknown);
        let other = in_list(col("other", &s).unwrap(), vec![lit("x")], &false, &s).unwrap();
        assert_eq!(extract(&other, "company_id"), KeySet::Unknown);
        let negated = in_list(key.clone(), vec![lit("x")], &true, &s).unwrap();
        assert_eq!(extract(&negated, "company_id"), KeySet::Unknown);
        // `IN (…) OR company_id IS NULL` (a NOT IN's join): the null branch asks for nothing,
        // as no looked-up row has a NULL key; `other IS NULL` says nothing of the key.
        let is_null: Arc<dyn PhysicalExpr> =
            Arc::new(datafusion::physical_expr::expressions::IsNullExpr::new(key.clone()));
        let with_nulls = binary(inlist(&["A"]), Operator::Or, is_null, &s).unwrap();
        assert_eq!(extract(&with_nulls, "company_id"), set(&["A"]));
        let other_null: Arc<dyn PhysicalExpr> =
            Arc::new(datafusion::physical_expr::expressions::IsNullExpr::new(col("other", &s).unwrap()));
        let other_nulls = binary(inlist(&["A"]), Operator::Or, other_null, &s).unwrap();
        assert_eq!(extract(&other_nulls, "company_id"), KeySet::Unknown);
        // An equality and an OR of equalities.
        let eq = binary(key.clone(), Operator::Eq, lit("A"), &s).unwrap();
        let eq2 = binary(lit("B"), Operator::Eq, key, &s).unwrap();
        assert_eq!(extract(&binary(eq, Operator::Or, eq2, &s).unwrap(), "company_id"), set(&["A", "B"]));
    }

    #[test]
    fn a_join_on_two_columns_lists_structs_and_each_key_is_read_from_its_field() {
        use datafusion::arrow::array::{ArrayRef, StringArray, StructArray};
        use datafusion::arrow::datatypes::Fields;
        use datafusion::physical_expr::expressions::InListExpr;
        let s = schema();
        let args = vec![col("other", &s).unwrap(), col("company_id", &s).unwrap()];
        let fields = Fields::from(vec![Field::new("c0", DataType::Utf8, true), Field::new("c1", DataType::Utf8, true)]);
        let return_field = Arc::new(Field::new("struct", DataType::Struct(fields.clone()), true));
        let config = Arc::new(datafusion::config::ConfigOptions::default());
        let function = datafusion::functions::core::r#struct();
        let expr: Arc<dyn PhysicalExpr> =
            Arc::new(ScalarFunctionExpr::new("struct", function, args, return_field, config));
        let pairs = StructArray::new(
            fields,
            vec![
                Arc::new(StringArray::from(vec!["US", "DE", "US"])) as ArrayRef,
                Arc::new(StringArray::from(vec!["A", "B", "A"])) as ArrayRef,
            ],
            None,
        );
        let struct_schema = Schema::new(vec![
            Field::new("company_id", DataType::Utf8, true),
            Field::new("other", DataType::Utf8, true),
        ]);
        let list: Arc<dyn PhysicalExpr> =
            Arc::new(InListExpr::try_new_from_array(expr, Arc::new(pairs), false, &struct_schema).unwrap());
        assert_eq!(extract(&list, "company_id"), set(&["A", "B"]));
        assert_eq!(extract(&list, "other"), set(&["DE", "US"]));
        assert_eq!(extract(&list, "missing"), KeySet::Unknown);
    }

    #[test]
    fn a_dynamic_filter_is_read_through_its_current_expression() {
        let s = schema();
        let key = col("company_id", &s).unwrap();
        let dynamic = Arc::new(DynamicFilterPhysicalExpr::new(vec![key], lit(true)));
        let as_expr: Arc<dyn PhysicalExpr> = dynamic.clone();
        assert_eq!(extract(&as_expr, "company_id"), KeySet::Unknown, "not filled in yet");
        dynamic.update(bounds_and(inlist(&["A", "B"]))).unwrap();
        assert_eq!(extract(&as_expr, "company_id"), set(&["A", "B"]));
    }

    /// The values rows may hold in the property test below: few, so filters overlap.
    const ALPHABET: [&str; 6] = ["A", "B", "C", "a b", "&limit=1", "\u{e9}"];

    /// A filter of the shapes DataFusion builds, over `company_id` and `other`.
    fn filter_strategy() -> impl proptest::strategy::Strategy<Value = Arc<dyn PhysicalExpr>> {
        use proptest::prelude::*;
        let value = proptest::sample::select(&ALPHABET[..]);
        let values = proptest::collection::vec(value.clone(), 0..5);
        // `company_id <op> value`, or `value <op> company_id` with `flipped`.
        let compare = |op: Operator, flipped: bool| {
            value.clone().prop_map(move |v| {
                let (key, v) = (col("company_id", &schema()).unwrap(), lit(v));
                let (left, right) = if flipped { (v, key) } else { (key, v) };
                binary(left, op, right, &schema()).unwrap()
            })
        };
        let leaf = prop_oneof![
            values.clone().prop_map(|v| inlist(&v)),
            compare(Operator::Eq, false),
            compare(Operator::Eq, true),
            compare(Operator::GtEq, false),
            compare(Operator::LtEq, false),
            values.clone().prop_map(|v| {
                let list = v.iter().map(|v| lit(*v)).collect();
                in_list(col("company_id", &schema()).unwrap(), list, &true, &schema()).unwrap()
            }),
            values.prop_map(|v| {
                let list = v.iter().map(|v| lit(*v)).collect();
                in_list(col("other", &schema()).unwrap(), list, &false, &schema()).unwrap()
            }),
            any::<bool>().prop_map(lit),
            Just(Arc::new(datafusion::physical_expr::expressions::IsNullExpr::new(
                col("company_id", &schema()).unwrap()
            )) as Arc<dyn PhysicalExpr>),
        ];
        leaf.prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| binary(a, Operator::And, b, &schema()).unwrap()),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| binary(a, Operator::Or, b, &schema()).unwrap()),
                (0i64..3, proptest::collection::vec(inner, 1..4)).prop_map(|(partition, branches)| {
                    let when = branches.into_iter().enumerate().map(|(i, b)| (lit(i as i64), b)).collect();
                    Arc::new(CaseExpr::try_new(Some(lit(partition)), when, Some(lit(false))).unwrap())
                        as Arc<dyn PhysicalExpr>
                }),
            ]
        })
    }

    proptest::proptest! {
        /// Whatever the filter's shape, no value that passes it is left out of the keys the
        /// scan asks HG for (the join would silently lose its rows), and a plain list gives
        /// exactly its values. A NULL key may pass unlisted: no looked-up row has one.
        #[test]
        fn extracted_keys_cover_every_value_the_filter_passes(filter in filter_strategy()) {
            use datafusion::arrow::array::{BooleanArray, RecordBatch, StringArray};
            let rows: Vec<Option<&str>> = ALPHABET.iter().map(|v| Some(*v)).chain([Some("Z"), None]).collect();
            let others: Vec<Option<&str>> = ALPHABET.iter().rev().map(|v| Some(*v)).chain([None, Some("A")]).collect();
            let batch = RecordBatch::try_new(
                Arc::new(schema()),
                vec![Arc::new(StringArray::from(rows.clone())), Arc::new(StringArray::from(others))],
            )
            .unwrap();
            let passed = filter.evaluate(&batch).unwrap().into_array(batch.num_rows()).unwrap();
            let passed = passed.as_any().downcast_ref::<BooleanArray>().unwrap();
            if let KeySet::Values(keys) = extract(&filter, "company_id") {
                for (i, row) in rows.iter().enumerate() {
                    if passed.is_valid(i) && passed.value(i) && row.is_some() {
                        proptest::prop_assert!(
                            row.is_some_and(|v| keys.contains(v)),
                            "{filter} passes {row:?} but the keys are {keys:?}"
                        );
                    }
                }
            }
        }

        #[test]
        fn a_plain_list_gives_exactly_its_values(values in proptest::collection::vec(".{0,12}", 0..20)) {
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            let expected: BTreeSet<String> = values.iter().cloned().collect();
            proptest::prop_assert_eq!(extract(&bounds_and(inlist(&refs)), "company_id").clone(), KeySet::Values(expected.clone()));
            proptest::prop_assert_eq!(extract(&inlist(&refs), "company_id"), KeySet::Values(expected));
        }
    }
}
