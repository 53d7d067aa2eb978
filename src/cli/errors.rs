//! What the user is told when a statement fails, and the exit code that goes with it: an HG
//! problem (key, plan, credits, an API that stopped answering) is 3, so a script can tell it
//! from a mistake in its own SQL (1).

use std::error::Error;

use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;

use super::exit;
use crate::api::HgError;
use crate::plan::ScanError;

/// The most telling error inside `error`, found by walking its sources.
enum Cause<'a> {
    Hg(&'a HgError),
    Scan(&'a ScanError),
    Other(&'a DataFusionError),
}

fn cause(error: &DataFusionError) -> Cause<'_> {
    let mut current: &(dyn Error + 'static) = error;
    loop {
        if let Some(hg) = current.downcast_ref::<HgError>() {
            return Cause::Hg(hg);
        }
        if let Some(scan) = current.downcast_ref::<ScanError>() {
            return Cause::Scan(scan);
        }
        match current.source() {
            Some(source) => current = source,
            None => return Cause::Other(error.find_root()),
        }
    }
}

/// The exit code for a statement that failed with `error`.
pub fn exit_code(error: &DataFusionError) -> u8 {
    match cause(error) {
        Cause::Hg(_) | Cause::Scan(ScanError::JoinTimeout { .. }) => exit::HG_API,
        Cause::Scan(_) | Cause::Other(_) => exit::QUERY_ERROR,
    }
}

/// The message for `error`: the cause itself, without the layers of context DataFusion wraps
/// around errors that pass through its operators and rules.
pub fn message(error: &DataFusionError) -> String {
    located(error, 1, 1)
}

/// [`message`], for a statement that starts at `first_line`, `first_column` of its script: a
/// syntax error's position is counted in the script.
pub fn located(error: &DataFusionError, first_line: usize, first_column: usize) -> String {
    match cause(error) {
        Cause::Hg(hg) => hg.to_string(),
        Cause::Scan(scan) => scan.to_string(),
        Cause::Other(DataFusionError::SQL(parser, _)) => syntax(parser, first_line, first_column),
        Cause::Other(root) => explain(root.strip_backtrace()),
    }
}

/// A parser error as a person reads it: what was expected and where in the statement.
fn syntax(error: &ParserError, first_line: usize, first_column: usize) -> String {
    let text = match error {
        ParserError::ParserError(text) | ParserError::TokenizerError(text) => text.as_str(),
        ParserError::RecursionLimitExceeded => "the statement nests too deeply",
    };
    // sqlparser counts from the statement's first line: "… at Line: 2, Column: 9".
    let position = text.rfind(" at Line: ").and_then(|at| {
        let (line, column) = text[at + " at Line: ".len()..].split_once(", Column: ")?;
        Some((at, line.trim().parse::<usize>().ok()?, column.trim().parse::<usize>().ok()?))
    });
    match position {
        Some((at, line, column)) => {
            let column = if line == 1 { column + first_column - 1 } else { column };
            format!("SQL syntax error: {} at line {}, column {column}", &text[..at], first_line + line - 1)
        }
        None => format!("SQL syntax error: {text}"),
    }
}

/// DataFusion's text, with the fix added where it does not say it.
fn explain(text: String) -> String {
    const PREFIX: &str = "table 'datafusion.public.";
    let missing = text.find(PREFIX).and_then(|at| {
        let rest = &text[at + PREFIX.len()..];
        rest.strip_suffix("' not found").map(str::to_string)
    });
    match missing {
        Some(name) if name.contains('/') || name.contains('.') => {
            let here = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| ".".into());
            format!(
                "no file '{name}': a quoted name in FROM is read as a file, relative to the current directory ({here}); check the path"
            )
        }
        Some(name) if crate::tables::find(&name).is_some() => format!("{text}; HG tables live in schema hg: hg.{name}"),
        Some(_) => format!("{text}; SHOW TABLES (or \\d in the REPL) lists the tables"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn external(e: impl Error + Send + Sync + 'static) -> DataFusionError {
        DataFusionError::External(Box::new(e))
    }

    #[test]
    fn hg_errors_deep_inside_datafusion_errors_exit_3_with_their_own_message() {
        let credits =
            HgError::CreditsExhausted { endpoint: "company/firmographic", status: 402, detail: "no credits".into() };
        let wrapped = DataFusionError::Context(
            "ProjectionExec".into(),
            Box::new(DataFusionError::Shared(std::sync::Arc::new(external(credits.clone())))),
        );
        assert_eq!(exit_code(&wrapped), exit::HG_API);
        assert_eq!(message(&wrapped), credits.to_string());
        let through_arrow = DataFusionError::ArrowError(
            Box::new(datafusion::arrow::error::ArrowError::ExternalError(Box::new(external(credits)))),
            None,
        );
        assert_eq!(exit_code(&through_arrow), exit::HG_API);
    }

    #[test]
    fn sql_and_key_problems_exit_1_without_the_rule_names_around_them() {
        let plan = DataFusionError::Context(
            "hg_api_scan_guard".into(),
            Box::new(DataFusionError::Plan("hg.installs needs company_id".into())),
        );
        assert_eq!(exit_code(&plan), exit::QUERY_ERROR);
        assert_eq!(message(&plan), "Error during planning: hg.installs needs company_id");
        let parse = DataFusionError::SQL(
            Box::new(ParserError::ParserError("Expected: an SQL statement, found: SELEC at Line: 1, Column: 1".into())),
            None,
        );
        assert_eq!(message(&parse), "SQL syntax error: Expected: an SQL statement, found: SELEC at line 1, column 1");
        assert!(located(&parse, 12, 5).ends_with("at line 12, column 5"), "{}", located(&parse, 12, 5));
        assert_eq!(exit_code(&parse), exit::QUERY_ERROR);
        let file = DataFusionError::Plan("table 'datafusion.public.data/accounts.csv' not found".into());
        assert!(message(&file).starts_with("no file 'data/accounts.csv': a quoted name in FROM is read as a file"));
        let scan = external(ScanError::TooManyMatches { count: 200_000 });
        assert_eq!(exit_code(&scan), exit::QUERY_ERROR);
        assert!(message(&scan).starts_with("hg.companies: 200000"));
    }
}
