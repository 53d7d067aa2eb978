//! The REPL's line editor help: completion of SQL keywords, table names (`hg.*` and what the
//! session created), column names of the tables the statement names (`alias.` too), file paths
//! inside quotes, and backslash commands; SQL highlighting; and a statement that goes on over
//! lines until its `;`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

use datafusion::prelude::SessionContext;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use super::commands;
use crate::script::{self, Unfinished};

/// Keywords offered by completion and coloured by the highlighter.
const KEYWORDS: &[&str] = &[
    "ALL",
    "ANALYZE",
    "AND",
    "ARRAY_AGG",
    "AS",
    "ASC",
    "BETWEEN",
    "BY",
    "CASE",
    "CAST",
    "COALESCE",
    "COLUMNS",
    "COPY",
    "COUNT",
    "CREATE",
    "CSV",
    "DESC",
    "DISTINCT",
    "DROP",
    "ELSE",
    "END",
    "EXCEPT",
    "EXISTS",
    "EXPLAIN",
    "EXTERNAL",
    "FALSE",
    "FROM",
    "FULL",
    "GROUP",
    "HAVING",
    "ILIKE",
    "IN",
    "INNER",
    "INTERSECT",
    "INTO",
    "IS",
    "JOIN",
    "JSON",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LOCATION",
    "LOWER",
    "MAX",
    "MIN",
    "NOT",
    "NULL",
    "OFFSET",
    "ON",
    "OPTIONS",
    "OR",
    "ORDER",
    "OUTER",
    "PARQUET",
    "REPLACE",
    "RIGHT",
    "SELECT",
    "SET",
    "SHOW",
    "STORED",
    "SUM",
    "TABLE",
    "TABLES",
    "THEN",
    "TO",
    "TRUE",
    "UNION",
    "UNNEST",
    "UPPER",
    "USING",
    "VALUES",
    "VIEW",
    "WHEN",
    "WHERE",
    "WITH",
];

/// Words after which a table name comes.
const BEFORE_TABLE: &[&str] = &["FROM", "JOIN", "TABLE", "INTO", "COLUMNS"];

pub struct SqlHelper {
    ctx: SessionContext,
    runtime: tokio::runtime::Handle,
    files: FilenameCompleter,
    color: bool,
    /// Columns of each table named so far (`None`: it has none we can read).
    columns: Mutex<HashMap<String, Option<Vec<String>>>>,
}

impl SqlHelper {
    pub fn new(ctx: SessionContext, runtime: tokio::runtime::Handle, color: bool) -> SqlHelper {
        SqlHelper { ctx, runtime, files: FilenameCompleter::new(), color, columns: Mutex::new(HashMap::new()) }
    }

    /// Forgets cached columns: a statement may have created or replaced a table.
    pub fn refresh(&self) {
        self.columns.lock().expect("not poisoned").clear();
    }

    /// Every table name: `hg.x` for HG tables, bare names for the session's own.
    fn table_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if let Some(catalog) = self.ctx.catalog("datafusion") {
            for schema_name in catalog.schema_names() {
                let Some(schema) = catalog.schema(&schema_name) else { continue };
                for table in schema.table_names() {
                    names.push(if schema_name == "public" { table } else { format!("{schema_name}.{table}") });
                }
            }
        }
        names.sort();
        names
    }

    /// Columns of `table` (a name, or a quoted file path), read once and cached.
    fn columns_of(&self, table: &str) -> Vec<String> {
        if let Some(known) = self.columns.lock().expect("not poisoned").get(table) {
            return known.clone().unwrap_or_default();
        }
        let ctx = self.ctx.clone();
        let sql = format!("SELECT * FROM {table} LIMIT 0");
        // Runs on the editor's thread, outside the runtime's workers (the REPL reads lines in
        // `block_in_place`), so blocking on the planner here is allowed.
        let found = self
            .runtime
            .block_on(async move { ctx.sql(&sql).await.map(|frame| frame.schema().field_names()) })
            .ok()
            .map(|names| names.into_iter().map(|n| n.rsplit('.').next().unwrap_or(&n).to_string()).collect());
        self.columns.lock().expect("not poisoned").insert(table.to_string(), found.clone());
        found.unwrap_or_default()
    }
}

/// The tables a statement names after FROM/JOIN, each with its alias if it has one.
fn named_tables(sql: &str) -> Vec<(String, Option<String>)> {
    let tokens = tokens(sql);
    let mut tables = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if BEFORE_TABLE.iter().any(|k| k.eq_ignore_ascii_case(&tokens[i])) && i + 1 < tokens.len() {
            let table = tokens[i + 1].clone();
            if table.starts_with('(') || is_keyword(&table) {
                i += 1;
                continue;
            }
            let mut alias_at = i + 2;
            if tokens.get(alias_at).is_some_and(|t| t.eq_ignore_ascii_case("AS")) {
                alias_at += 1;
            }
            let alias = tokens.get(alias_at).filter(|t| is_identifier(t) && !is_keyword(t)).cloned();
            tables.push((table, alias));
            i += 2;
        } else {
            i += 1;
        }
    }
    tables
}

fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

fn is_identifier(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && word.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Words, dotted names and quoted strings of `sql`; punctuation as one-character tokens.
fn tokens(sql: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' || c == '"' {
            let mut token = String::from(c);
            chars.next();
            for next in chars.by_ref() {
                token.push(next);
                if next == c {
                    break;
                }
            }
            tokens.push(token);
        } else if c.is_alphanumeric() || c == '_' {
            let mut token = String::new();
            while let Some(&next) = chars.peek() {
                if next.is_alphanumeric() || next == '_' || next == '.' {
                    token.push(next);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(token);
        } else {
            tokens.push(c.to_string());
            chars.next();
        }
    }
    tokens
}

/// Whether `text` ends inside a single-quoted string.
fn in_quote(text: &str) -> bool {
    matches!(script::unfinished(text), Unfinished::Quote) && text.rfind('\'') > text.rfind('"')
}

fn pairs(candidates: impl IntoIterator<Item = String>, word: &str) -> Vec<Pair> {
    let lower = word.chars().all(|c| !c.is_uppercase()) && !word.is_empty();
    let mut out: Vec<Pair> = candidates
        .into_iter()
        .filter(|c| c.to_lowercase().starts_with(&word.to_lowercase()))
        .map(|c| {
            // Keywords follow the case being typed; names keep theirs.
            let replacement = if lower && is_keyword(&c) { c.to_lowercase() } else { c };
            Pair { display: replacement.clone(), replacement }
        })
        .collect();
    out.sort_by(|a, b| a.replacement.cmp(&b.replacement));
    out.dedup_by(|a, b| a.replacement == b.replacement);
    out
}

impl Completer for SqlHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        if before.trim_start().starts_with('\\') {
            let trimmed = before.trim_start();
            return Ok(match trimmed.split_once(char::is_whitespace) {
                None => (pos - trimmed.len(), pairs(commands::NAMES.iter().map(|s| s.to_string()), trimmed)),
                Some(("\\d", arg)) => {
                    let arg = arg.trim_start();
                    (pos - arg.len(), pairs(self.table_names(), arg))
                }
                Some(("\\format", arg)) => {
                    let arg = arg.trim_start();
                    (pos - arg.len(), pairs(["table", "csv", "json", "ndjson"].map(String::from), arg))
                }
                Some(("\\timing", arg)) => {
                    let arg = arg.trim_start();
                    (pos - arg.len(), pairs(["on", "off"].map(String::from), arg))
                }
                Some(("\\i", _)) => self.files.complete_path(line, pos)?,
                Some(_) => (pos, Vec::new()),
            });
        }
        if in_quote(before) {
            return self.files.complete_path(line, pos);
        }
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '.'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &before[start..];
        let tables = named_tables(line);
        if let Some((qualifier, partial)) = word.rsplit_once('.') {
            // `hg.` → tables of schema hg; `alias.` or `table.` → its columns.
            let schema_tables: Vec<String> = self
                .table_names()
                .into_iter()
                .filter(|t| t.to_lowercase().starts_with(&format!("{}.", qualifier.to_lowercase())))
                .collect();
            if !schema_tables.is_empty() {
                return Ok((start, pairs(schema_tables, word)));
            }
            let table = tables
                .iter()
                .find(|(t, alias)| {
                    alias.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(qualifier))
                        || t.eq_ignore_ascii_case(qualifier)
                })
                .map(|(t, _)| t.clone());
            let columns = table.map(|t| self.columns_of(&t)).unwrap_or_default();
            return Ok((start + qualifier.len() + 1, pairs(columns, partial)));
        }
        let mut candidates: Vec<String> = KEYWORDS.iter().map(|k| k.to_string()).collect();
        candidates.extend(self.table_names());
        for (table, _) in &tables {
            candidates.extend(self.columns_of(table));
        }
        Ok((start, pairs(candidates, word)))
    }
}

impl Hinter for SqlHelper {
    type Hint = String;
}

impl Highlighter for SqlHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.color || line.trim_start().starts_with('\\') {
            return Cow::Borrowed(line);
        }
        Cow::Owned(highlight_sql(line))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.color
    }
}

/// `sql` with ANSI colours: keywords bold blue, strings green, numbers yellow, comments grey.
fn highlight_sql(sql: &str) -> String {
    const KEYWORD: &str = "\x1b[1;34m";
    const STRING: &str = "\x1b[32m";
    const NUMBER: &str = "\x1b[33m";
    const COMMENT: &str = "\x1b[90m";
    const RESET: &str = "\x1b[0m";
    let mut out = String::with_capacity(sql.len() * 2);
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            let end = chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |p| i + p);
            out.push_str(COMMENT);
            out.extend(&chars[i..end]);
            out.push_str(RESET);
            i = end;
        } else if c == '\'' {
            let end = chars[i + 1..].iter().position(|&c| c == '\'').map_or(chars.len(), |p| i + 1 + p + 1);
            out.push_str(STRING);
            out.extend(&chars[i..end]);
            out.push_str(RESET);
            i = end;
        } else if c.is_alphabetic() || c == '_' {
            let end =
                chars[i..].iter().position(|&c| !(c.is_alphanumeric() || c == '_')).map_or(chars.len(), |p| i + p);
            let word: String = chars[i..end].iter().collect();
            if is_keyword(&word) {
                out.push_str(KEYWORD);
                out.push_str(&word);
                out.push_str(RESET);
            } else {
                out.push_str(&word);
            }
            i = end;
        } else if c.is_ascii_digit() {
            let end = chars[i..].iter().position(|&c| !(c.is_ascii_digit() || c == '.')).map_or(chars.len(), |p| i + p);
            out.push_str(NUMBER);
            out.extend(&chars[i..end]);
            out.push_str(RESET);
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

impl Validator for SqlHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with('\\') || script::unfinished(input) == Unfinished::Nothing {
            return Ok(ValidationResult::Valid(None));
        }
        Ok(ValidationResult::Incomplete)
    }
}

impl Helper for SqlHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_aliases_are_found_after_from_and_join() {
        let found =
            named_tables("SELECT a.x FROM 'accounts.csv' a JOIN hg.companies AS c ON c.match_domain = a.website WHERE");
        assert_eq!(
            found,
            vec![
                ("'accounts.csv'".to_string(), Some("a".to_string())),
                ("hg.companies".to_string(), Some("c".to_string()))
            ]
        );
        assert_eq!(named_tables("SELECT * FROM hg.installs WHERE"), vec![("hg.installs".to_string(), None)]);
        assert_eq!(named_tables("SELECT * FROM (SELECT 1)"), vec![]);
    }

    #[test]
    fn highlighting_colours_keywords_strings_and_numbers_only() {
        let out = highlight_sql("select 'from' , 42 -- where");
        assert!(out.starts_with("\x1b[1;34mselect\x1b[0m"), "{out:?}");
        assert!(out.contains("\x1b[32m'from'\x1b[0m"), "{out:?}");
        assert!(out.contains("\x1b[33m42\x1b[0m"), "{out:?}");
        assert!(out.ends_with("\x1b[90m-- where\x1b[0m"), "{out:?}");
    }

    #[test]
    fn an_open_quote_is_told_apart() {
        assert!(in_quote("SELECT * FROM 'queries/acc"));
        assert!(!in_quote("SELECT * FROM 'queries/accounts.csv' a"));
    }
}
