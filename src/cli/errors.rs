//! What the user is told when a statement fails, and the exit code that goes with it: an HG
//! problem (key, plan, credits, an API that stopped answering) is 3, so a script can tell it
//! from a mistake in its own SQL (1).

use std::error::Error;

use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;

use super::exit;
use crate::api::HgError;
use crate::api::http::HttpError;
use crate::api::webhook::WebhookError;
use crate::distributed::WorkerError;
use crate::plan::ScanError;
use crate::tables::http::BatchError;

/// The most telling error inside `error`, found by walking its sources.
enum Cause<'a> {
    Hg(&'a HgError),
    /// Another API (an HTTP table) refused or failed.
    Http(String),
    /// An HTTP table's answer does not fit its declared columns.
    Misfit(String),
    Scan(&'a ScanError),
    /// A webhook run did not deliver every row, or could not start.
    Webhook(&'a WebhookError),
    /// A worker could not be reached, runs another build, or was lost mid-query.
    Worker(&'a WorkerError),
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
        if let Some(http) = current.downcast_ref::<HttpError>() {
            return Cause::Http(http.to_string());
        }
        if let Some(webhook) = current.downcast_ref::<WebhookError>() {
            return Cause::Webhook(webhook);
        }
        if let Some(worker) = current.downcast_ref::<WorkerError>() {
            return Cause::Worker(worker);
        }
        match current.downcast_ref::<BatchError>() {
            Some(batch @ BatchError::Row { .. }) => return Cause::Http(batch.to_string()),
            Some(batch @ BatchError::Misfit { .. }) => return Cause::Misfit(batch.to_string()),
            _ => {}
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
        Cause::Hg(_) | Cause::Http(_) | Cause::Scan(ScanError::JoinTimeout { .. }) => exit::HG_API,
        Cause::Webhook(_) => exit::DELIVERY,
        Cause::Worker(_) => exit::WORKERS,
        Cause::Scan(_) | Cause::Misfit(_) | Cause::Other(_) => exit::QUERY_ERROR,
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
        Cause::Http(text) | Cause::Misfit(text) => text,
        Cause::Scan(scan) => scan.to_string(),
        Cause::Webhook(webhook) => webhook.to_string(),
        Cause::Worker(worker) => worker.to_string(),
        Cause::Other(DataFusionError::SQL(parser, _)) => syntax(parser, first_line, first_column),
        Cause::Other(root) => explain(root.strip_backtrace()),
    }
}

/// [`located`] for a statement of a script, naming the files it reads where the error comes
/// from one of them (a CSV row with too many fields, bytes that are not UTF-8, an empty file).
pub fn for_statement(error: &DataFusionError, statement: &crate::script::ScriptStatement) -> String {
    let text = located(error, statement.line, statement.column);
    match cause(error) {
        Cause::Other(DataFusionError::SQL(..))
        | Cause::Hg(_)
        | Cause::Http(_)
        | Cause::Misfit(_)
        | Cause::Scan(_)
        | Cause::Webhook(_)
        | Cause::Worker(_) => text,
        Cause::Other(_) => with_files(text, &quoted_files(&statement.text)),
    }
}

/// The quoted names in `sql` that are files on disk.
fn quoted_files(sql: &str) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    let mut rest = sql;
    while let Some(start) = rest.find('\'') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('\'') else { break };
        let name = &after[..end];
        if !name.is_empty() && std::path::Path::new(name).is_file() && !files.iter().any(|f| f == name) {
            files.push(name.to_string());
        }
        rest = &after[end + 1..];
    }
    files
}

/// `text` restated for the files it is about.
fn with_files(text: String, files: &[String]) -> String {
    let csv: Vec<&String> = files.iter().filter(|f| !f.to_ascii_lowercase().ends_with(".parquet")).collect();
    if let Some(problem) = csv_problem(&text) {
        let which = match csv.as_slice() {
            [one] => format!("'{one}'"),
            [] => "a CSV file".to_string(),
            several => format!("one of {}", several.iter().map(|f| format!("'{f}'")).collect::<Vec<_>>().join(", ")),
        };
        return format!("{which}: {problem}");
    }
    let empty: Vec<String> = files
        .iter()
        .filter(|f| std::fs::metadata(f).is_ok_and(|m| m.len() == 0))
        .map(|f| format!("'{f}' is empty: it has no header row, so no columns"))
        .collect();
    if empty.is_empty() { text } else { format!("{text}; {}", empty.join("; ")) }
}

/// Arrow's CSV reader errors as what is wrong with the file and how to fix it.
fn csv_problem(text: &str) -> Option<String> {
    let csv = &text[text.find("Csv error: ")? + "Csv error: ".len()..];
    let number_after = |pattern: &str| -> Option<usize> {
        let rest = &csv[csv.find(pattern)? + pattern.len()..];
        rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    };
    if csv.contains("unequal lengths") {
        let expected = number_after("Expected ")?;
        let found = number_after("found ")?;
        let line = number_after("at line ")?;
        return Some(format!(
            "line {line} has {found} fields where the header has {expected}; fix that row, or quote a field that contains a comma"
        ));
    }
    if csv.contains("UTF-8") || csv.contains("utf-8") {
        let line = number_after("at line ").map_or(String::new(), |l| format!("line {l} "));
        return Some(format!(
            "{line}is not UTF-8 text; save the file as UTF-8 (for example: iconv -f latin1 -t utf-8 in.csv > out.csv)"
        ));
    }
    Some(csv.to_string())
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
        None => unknown_hg_table(&text).unwrap_or(text),
    }
}

/// `hg.x` that is not one of the HG tables: say which are.
fn unknown_hg_table(text: &str) -> Option<String> {
    const PREFIX: &str = "table 'datafusion.hg.";
    let rest = &text[text.find(PREFIX)? + PREFIX.len()..];
    let name = rest.strip_suffix("' not found")?;
    let tables: Vec<String> = crate::tables::all().iter().map(|t| format!("hg.{}", t.name)).collect();
    Some(format!("no table hg.{name}: the HG tables are {}", tables.join(", ")))
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
    fn csv_reader_errors_name_the_file_line_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accounts.csv");
        std::fs::write(&file, "a,b\n1,2,3\n").unwrap();
        let file = file.display().to_string();
        let unequal = "Arrow error: Csv error: Encountered unequal lengths between records on CSV file. Expected 2 records, found 3 records at line 3";
        assert_eq!(
            with_files(unequal.to_string(), std::slice::from_ref(&file)),
            format!(
                "'{file}': line 3 has 3 fields where the header has 2; fix that row, or quote a field that contains a comma"
            )
        );
        let utf8 = "Arrow error: Csv error: Encountered UTF-8 error while reading CSV file: invalid utf-8: invalid UTF-8 in field 1 near byte index 1 at line 2";
        assert!(
            with_files(utf8.to_string(), &[])
                .starts_with("a CSV file: line 2 is not UTF-8 text; save the file as UTF-8")
        );
        assert_eq!(
            quoted_files(&format!("SELECT * FROM '{file}' JOIN 'nope.csv' ON 'x' = '{file}'")),
            std::slice::from_ref(&file)
        );
        let empty = dir.path().join("empty.csv");
        std::fs::write(&empty, "").unwrap();
        let empty = empty.display().to_string();
        assert_eq!(
            with_files("Schema error: No field named website.".into(), &[file, empty.clone()]),
            format!("Schema error: No field named website.; '{empty}' is empty: it has no header row, so no columns")
        );
        let unknown = explain("Error during planning: table 'datafusion.hg.compnies' not found".into());
        assert!(unknown.starts_with("no table hg.compnies: the HG tables are hg.companies,"), "{unknown}");
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
        let lists = "match_domain (400 values) × match_country_code (500 values)".to_string();
        let scan = external(ScanError::TooManyMatches { count: 200_000, lists });
        assert_eq!(exit_code(&scan), exit::QUERY_ERROR);
        assert!(message(&scan).starts_with("hg.companies: the separate key lists match_domain (400 values)"));
    }
}
