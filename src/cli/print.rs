//! Printing results to stdout.

use datafusion::arrow::util::pretty::pretty_format_batches_with_schema;

use crate::session::StatementResult;

/// Prints a result as a table, header included even when there are no rows.
pub fn table(result: &StatementResult) {
    // DDL (CREATE VIEW, SET, …) has no columns: nothing to show.
    if result.schema.fields().is_empty() {
        return;
    }
    match pretty_format_batches_with_schema(result.schema.clone(), &result.batches) {
        Ok(table) => println!("{table}"),
        Err(e) => eprintln!("error: cannot format the result: {e}"),
    }
}
