//! The interactive loop: read a statement (it may span lines until `;`), run it, print, repeat.
//! History persists in `$XDG_STATE_HOME/hgsql/history`. Ctrl-C at the prompt clears the line,
//! during a query cancels it; Ctrl-D or `\q` quits.

use std::io::IsTerminal;
use std::path::PathBuf;

use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};

use super::commands::{self, Command};
use super::connect::Connection;
use super::exec::{self, Destination, Interrupts, PrintOptions};
use super::helper::SqlHelper;
use super::{Cli, exit};
use crate::script;

/// Rows the table format shows by default in the REPL; a script prints all.
const REPL_MAX_ROWS: usize = 40;

/// Runs the REPL until the user quits; returns the exit code.
pub async fn run(connection: &Connection, cli: &Cli) -> u8 {
    let session = &connection.session;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let helper = SqlHelper::new(session.context().clone(), tokio::runtime::Handle::current(), color);
    let config = Config::builder().completion_type(CompletionType::List).auto_add_history(false).build();
    let mut editor: Editor<SqlHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}; pipe SQL on stdin or use -c / -f instead");
            return exit::USAGE;
        }
    };
    editor.set_helper(Some(helper));
    // After the editor: it takes SIGINT for itself when created, and the handler installed now
    // passes the signal on to it. At the prompt the terminal sends no SIGINT (Ctrl-C is a key
    // there); while a statement runs, Ctrl-C cancels it.
    let interrupts = &mut Interrupts::listen();
    let history = history_file();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let mut options = PrintOptions {
        format: cli.format,
        max_rows: match cli.maxrows {
            Some(0) => None,
            Some(n) => Some(n),
            None => Some(REPL_MAX_ROWS),
        },
        timing: true,
        progress: std::io::stderr().is_terminal(),
    };
    eprintln!(
        "hgsql {} on {}. End statements with ';'. \\? for help, \\q to quit.",
        env!("CARGO_PKG_VERSION"),
        connection.describe
    );
    loop {
        let read = tokio::task::block_in_place(|| editor.readline("hgsql> "));
        let text = match read {
            Ok(text) => text,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: reading the line failed: {e}");
                return exit::QUERY_ERROR;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        // A secret typed into the SQL is refused, and kept out of the history file too; so is a
        // webhook's URL, which is a secret as well.
        if !crate::api::options::holds_literal_secret(&text) && !crate::api::webhook::destination::holds_url(&text) {
            let _ = editor.add_history_entry(text.as_str());
            if let Some(path) = &history {
                let _ = editor.append_history(path);
            }
        }
        interrupts.forget_pending();
        if text.trim_start().starts_with('\\') {
            match commands::parse(&text) {
                Ok(Command::Quit) => break,
                Ok(command) => run_command(command, connection, &mut options, interrupts).await,
                Err(message) => eprintln!("error: {message}"),
            }
        } else {
            run_script(connection, &text, None, &options, interrupts).await;
        }
        if let Some(helper) = editor.helper() {
            helper.refresh();
        }
    }
    exit::OK
}

async fn run_command(
    command: Command,
    connection: &Connection,
    options: &mut PrintOptions,
    interrupts: &mut Interrupts,
) {
    let ctx = connection.session.context();
    match command {
        Command::Quit => {}
        Command::Help => eprint!("{}", commands::help()),
        Command::ListTables => report(commands::print(commands::list_tables(ctx).await, options.format).await),
        Command::Describe(table) => match commands::describe(ctx, &table).await {
            Ok(batch) => report(commands::print(batch, options.format).await),
            Err(e) => eprintln!("error: \\d {table}: {}; \\d lists the tables", super::errors::message(&e)),
        },
        Command::Include(path) => match std::fs::read_to_string(&path) {
            Ok(sql) => run_script(connection, &sql, Some(&path), options, interrupts).await,
            Err(e) => eprintln!("error: cannot read {path}: {e}"),
        },
        Command::Timing(_) | Command::TimingToggle => {
            let on = match command {
                Command::Timing(on) => on,
                _ => !options.timing,
            };
            options.timing = on;
            eprintln!("timing is {}", if on { "on" } else { "off" });
        }
        Command::Format(format) => {
            options.format = format;
            eprintln!("results print as {}", format.name());
        }
        Command::MaxRows(max) => {
            options.max_rows = max;
            match max {
                Some(n) => eprintln!("tables show at most {n} rows"),
                None => eprintln!("tables show every row"),
            }
        }
    }
}

/// Runs the statements of `sql` in order; the first error stops the rest.
async fn run_script(
    connection: &Connection,
    sql: &str,
    file: Option<&str>,
    options: &PrintOptions,
    interrupts: &mut Interrupts,
) {
    let statements = script::split(sql);
    let several = statements.len() > 1 || file.is_some();
    for statement in statements {
        if let Err(failure) =
            exec::run_statement(&connection.session, &statement.text, Destination::Stdout, options, interrupts).await
        {
            if let Some(message) = failure.message(&statement) {
                match (file, several) {
                    (Some(file), _) => eprintln!("error: {file}:{}: {message}", statement.line),
                    (None, true) => eprintln!("error: line {}: {message}", statement.line),
                    (None, false) => eprintln!("error: {message}"),
                }
            }
            return;
        }
    }
}

fn report(result: datafusion::error::Result<()>) {
    if let Err(e) = result {
        eprintln!("error: {e}");
    }
}

/// `$XDG_STATE_HOME/hgsql/history`, else `~/.local/state/hgsql/history`; `None` when neither
/// can be made (history is then kept for this session only).
fn history_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state")))?;
    let dir = base.join("hgsql");
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join("history");
    if !path.exists() {
        std::fs::File::create(&path).ok()?;
    }
    Some(path)
}
