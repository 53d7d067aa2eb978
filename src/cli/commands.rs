//! The REPL's backslash commands: `\d`, `\d TABLE`, `\i FILE`, `\timing`, `\format`,
//! `\maxrows`, `\?` and `\q`. `\d TABLE` shows, for an HG table, which columns find rows (keys)
//! and which filters reach the API, beside each column's type and description.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;

use super::format::{self, Format};
use crate::tables::{self, TableSpec};

/// A parsed backslash command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Quit,
    Help,
    ListTables,
    Describe(String),
    Include(String),
    Timing(bool),
    TimingToggle,
    Format(Format),
    MaxRows(Option<usize>),
}

/// Every command with a line of help, for `\?` and completion.
pub const HELP: &[(&str, &str)] = &[
    ("\\d", "list tables: the hg.* tables and those this session created"),
    ("\\d TABLE", "columns of TABLE: types, descriptions, key columns and API filters"),
    ("\\i FILE", "run the SQL in FILE"),
    ("\\timing on|off", "after each statement: rows, time, HG calls, cache hits, credits"),
    ("\\format table|csv|json|ndjson", "how results are printed"),
    ("\\maxrows N", "rows the table format shows at most (0 = all)"),
    ("\\?", "this help"),
    ("\\q", "quit (Ctrl-D works too; Ctrl-C cancels a running query)"),
];

/// Names completion offers after `\`.
pub const NAMES: &[&str] = &["\\d", "\\i", "\\timing", "\\format", "\\maxrows", "\\?", "\\q", "\\quit", "\\help"];

/// Parses `line` (which starts with `\`), or says what is wrong and what would work.
pub fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim().trim_end_matches(';').trim();
    let (name, argument) = match line.split_once(char::is_whitespace) {
        Some((name, rest)) => (name, rest.trim()),
        None => (line, ""),
    };
    let on_off = |arg: &str| match arg.to_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{name} takes on or off, not '{arg}'")),
    };
    match name {
        "\\q" | "\\quit" => Ok(Command::Quit),
        "\\?" | "\\h" | "\\help" => Ok(Command::Help),
        "\\d" if argument.is_empty() => Ok(Command::ListTables),
        "\\d" => Ok(Command::Describe(argument.to_string())),
        "\\i" if argument.is_empty() => Err("\\i needs a file: \\i queries/enrich.sql".into()),
        "\\i" => Ok(Command::Include(file_argument(argument))),
        "\\timing" if argument.is_empty() => Ok(Command::TimingToggle),
        "\\timing" => on_off(argument).map(Command::Timing),
        "\\format" => Format::parse(argument)
            .map(Command::Format)
            .ok_or_else(|| format!("\\format takes table, csv, json or ndjson, not '{argument}'")),
        "\\maxrows" => argument
            .parse::<usize>()
            .map(|n| Command::MaxRows((n > 0).then_some(n)))
            .map_err(|_| format!("\\maxrows takes a number of rows (0 = all), not '{argument}'")),
        _ => Err(format!("unknown command {name}; \\? lists the commands")),
    }
}

/// A file name as typed or completed: quotes and backslash escapes (`my\\ dir/q.sql`) removed,
/// a leading `~/` expanded.
fn file_argument(argument: &str) -> String {
    let unquoted = argument.trim().trim_matches('\'').trim_matches('"');
    let mut path = String::new();
    let mut chars = unquoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => path.extend(chars.next()),
            c => path.push(c),
        }
    }
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::Path::new(&home).join(rest).to_string_lossy().into_owned(),
        _ => path,
    }
}

/// The help text.
pub fn help() -> String {
    let mut text = String::from("Statements end with ';' and may span lines. Commands:\n");
    for (command, what) in HELP {
        text.push_str(&format!("  {command:<32} {what}\n"));
    }
    text
}

/// The tables `\d` lists: schema, name, kind and what it is.
pub async fn list_tables(ctx: &SessionContext) -> RecordBatch {
    let mut rows: Vec<[String; 3]> = Vec::new();
    for spec in tables::all() {
        rows.push([format!("hg.{}", spec.name), format!("HG {}", spec.endpoint.path()), spec.description.to_string()]);
    }
    if let Some(catalog) = ctx.catalog("datafusion") {
        for schema_name in catalog.schema_names() {
            if schema_name == crate::session::HG_SCHEMA {
                continue;
            }
            let Some(schema) = catalog.schema(&schema_name) else { continue };
            let mut names = schema.table_names();
            names.sort();
            for name in names {
                let table = schema.table(&name).await.ok().flatten();
                let http = table.as_ref().and_then(|t| t.downcast_ref::<crate::plan::HttpTable>()).map(|t| t.request());
                let webhook =
                    table.as_ref().and_then(|t| t.downcast_ref::<crate::sink::WebhookTable>()).map(|t| t.source());
                let qualified = if schema_name == "public" { name } else { format!("{schema_name}.{name}") };
                rows.push(match (http, webhook) {
                    (Some(request), _) => {
                        [qualified, format!("HTTP {request}"), "an HTTP table (STORED AS HTTP)".to_string()]
                    }
                    (None, Some(source)) => [
                        qualified,
                        source,
                        "a webhook (STORED AS WEBHOOK): INSERT sends rows, SELECT reads its ledger".to_string(),
                    ],
                    (None, None) => [qualified, "local".to_string(), "created in this session".to_string()],
                });
            }
        }
    }
    text_batch(&["table", "source", "description"], &rows)
}

/// The columns of `table` for `\d TABLE`.
pub async fn describe(ctx: &SessionContext, table: &str) -> Result<RecordBatch> {
    let hg_name = table.strip_prefix("hg.").or_else(|| table.strip_prefix("HG."));
    if let Some(spec) = hg_name.and_then(tables::find) {
        return Ok(describe_hg(spec));
    }
    if !table.starts_with('\'')
        && let Ok(provider) = ctx.table_provider(table).await
    {
        if let Some(http) = provider.downcast_ref::<crate::plan::HttpTable>() {
            return Ok(text_batch(&["column", "type", "finds rows", "read from"], &http.describe()));
        }
        if let Some(webhook) = provider.downcast_ref::<crate::sink::WebhookTable>() {
            return Ok(text_batch(&["column", "type", "role"], &webhook.describe()));
        }
    }
    let schema = if table.starts_with('\'') {
        ctx.sql(&format!("SELECT * FROM {table} LIMIT 0")).await?.schema().inner().clone()
    } else {
        ctx.table(table).await?.schema().inner().clone()
    };
    let rows: Vec<[String; 3]> = schema
        .fields()
        .iter()
        .map(|f| [f.name().clone(), f.data_type().to_string(), if f.is_nullable() { "YES" } else { "NO" }.to_string()])
        .collect();
    Ok(text_batch(&["column", "type", "nullable"], &rows))
}

fn describe_hg(spec: &TableSpec) -> RecordBatch {
    let keys = spec.key_columns();
    let rows: Vec<[String; 5]> = spec
        .all_columns()
        .map(|c| {
            let key = keys.iter().find(|(name, _)| *name == c.name).map(|(_, how)| format!("key: {how}"));
            let api = spec.pushdown_text(c.name);
            [
                c.name.to_string(),
                sql_type(c.kind).to_string(),
                key.unwrap_or_default(),
                api.unwrap_or_default(),
                c.description.to_string(),
            ]
        })
        .collect();
    text_batch(&["column", "type", "finds rows", "sent to the API", "description"], &rows)
}

/// The SQL name of a column type, as a data person writes it in a CAST.
fn sql_type(kind: tables::ColumnType) -> &'static str {
    use tables::ColumnType;
    match kind {
        ColumnType::Text | ColumnType::Id => "VARCHAR",
        ColumnType::Int => "BIGINT",
        ColumnType::Float => "DOUBLE",
        ColumnType::Date => "DATE",
        ColumnType::TextList => "VARCHAR[]",
        ColumnType::Timestamp => "TIMESTAMP (UTC)",
        ColumnType::Bool => "BOOLEAN",
    }
}

fn text_batch<const N: usize>(names: &[&str; N], rows: &[[String; N]]) -> RecordBatch {
    let columns: Vec<(&str, ArrayRef)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (*name, Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r[i].as_str()))) as ArrayRef)
        })
        .collect();
    RecordBatch::try_from_iter(columns).expect("columns of equal length")
}

/// Prints `batch` in `format` on stdout.
pub async fn print(batch: RecordBatch, format: Format) -> Result<()> {
    let schema = batch.schema();
    let stream =
        RecordBatchStreamAdapter::new(schema.clone(), futures::stream::iter([Ok::<_, DataFusionError>(batch)]));
    let mut out = std::io::stdout().lock();
    format::print(format, schema, Box::pin(stream), &mut out, None).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_mistakes_say_what_works() {
        assert_eq!(parse("\\q"), Ok(Command::Quit));
        assert_eq!(parse("\\d"), Ok(Command::ListTables));
        assert_eq!(parse("\\d hg.installs;"), Ok(Command::Describe("hg.installs".into())));
        assert_eq!(parse("\\timing off"), Ok(Command::Timing(false)));
        assert_eq!(parse("\\format NDJSON"), Ok(Command::Format(Format::Ndjson)));
        assert_eq!(parse("\\maxrows 0"), Ok(Command::MaxRows(None)));
        assert!(parse("\\format xml").unwrap_err().contains("table, csv, json or ndjson"));
        assert!(parse("\\x").unwrap_err().contains("\\?"));
        assert!(parse("\\i").unwrap_err().contains("\\i queries/enrich.sql"));
        assert_eq!(parse("\\i my\\ dir/q.sql"), Ok(Command::Include("my dir/q.sql".into())));
        assert_eq!(parse("\\timing"), Ok(Command::TimingToggle));
    }

    #[test]
    fn describing_an_hg_table_marks_its_key_and_api_filters() {
        let batch = describe_hg(tables::find("installs").unwrap());
        let column = |name: &str| {
            let names = batch.column_by_name("column").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
            let row = names.iter().position(|n| n == Some(name)).unwrap();
            ["finds rows", "sent to the API"].map(|c| {
                batch.column_by_name(c).unwrap().as_any().downcast_ref::<StringArray>().unwrap().value(row).to_string()
            })
        };
        assert!(column("company_id")[0].starts_with("key: = or IN, or a join"));
        assert!(column("product_id")[1].contains("filters.products"));
        assert_eq!(column("product_name"), [String::new(), String::new()]);
    }

    #[test]
    fn describing_hg_search_shows_where_each_criterion_goes() {
        let batch = describe_hg(tables::find("search").unwrap());
        let names = batch.column_by_name("column").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
        let sent = batch.column_by_name("sent to the API").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
        let sent_for = |name: &str| sent.value(names.iter().position(|n| n == Some(name)).unwrap()).to_string();
        assert!(sent_for("employees_total").contains("BETWEEN: filters.firmographics.employees {min, max}"));
        assert!(sent_for("country_code").contains("NOT IN: filters.firmographics.country_codes"));
        assert!(sent_for("is_global_headquarters").contains("corporate_hierarchy.is_global_headquarters"));
        assert_eq!(sent_for("company_name"), "");
    }
}
