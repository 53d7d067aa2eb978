//! SQL behaviour as sqllogictest files (`tests/sql/*.slt`), each run by two engines:
//!
//! - `hgsql`: an hgsql session whose `hg.*` tables read from an in-process sandbox;
//! - `dump`: plain DataFusion over the sandbox's Parquet dump (same seed, same size), where
//!   `hg.*` are the dumped tables and `hg.companies` is a view that matches the domains of a
//!   `match_inputs` table by docs/hg-api.md's rule, written in SQL. This engine is the oracle.
//!
//! The expected results in the files are the oracle's: `HGSQL_SLT_COMPLETE=1 cargo test --test it
//! slt` rewrites them from the `dump` engine. Both engines must then produce them.
//!
//! Records under `onlyif hgsql` may call `sandbox_calls('company/installs')`: the requests the
//! sandbox served for that endpoint during the previous statement.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::cast::as_string_array;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use hgsql::api::{ApiKey, ClientConfig, HgClient};
use hgsql::sandbox::Sandbox;
use hgsql::session::Session;
use sqllogictest::{DBOutput, DefaultColumnType, Runner};

use crate::support::{SMALL, sandbox};

const SEED: u64 = 42;

/// The dump every `dump` engine reads, written once per test process.
fn dump_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        hgsql::sandbox::dump(SEED, SMALL, dir.path()).expect("dump");
        dir
    })
    .path()
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SqlError(String);

fn rows(batches: &[RecordBatch]) -> Result<DBOutput<DefaultColumnType>, SqlError> {
    let Some(first) = batches.first() else { return Ok(DBOutput::Rows { types: Vec::new(), rows: Vec::new() }) };
    let types = first
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            t if t.is_integer() => DefaultColumnType::Integer,
            t if t.is_floating() => DefaultColumnType::FloatingPoint,
            _ => DefaultColumnType::Text,
        })
        .collect();
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<_, _>>()
            .map_err(|e| SqlError(e.to_string()))?;
        for row in 0..batch.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| {
                        let text = f.value(row).to_string();
                        if text.trim().is_empty() { "(empty)".to_string() } else { text }
                    })
                    .collect(),
            );
        }
    }
    Ok(DBOutput::Rows { types, rows: out })
}

/// hgsql over the sandbox.
struct HgsqlDb {
    session: Session,
    sandbox: Arc<Sandbox>,
    /// Sandbox counters right after the last statement that did not read them.
    last_stats: Arc<Mutex<serde_json::Value>>,
}

impl HgsqlDb {
    fn new(sandbox: Arc<Sandbox>) -> HgsqlDb {
        // The sandbox has no rate limit here; neither does the client.
        let config = ClientConfig { rate: None, ..ClientConfig::new(sandbox.base_url(), ApiKey::new(sandbox.key())) };
        let session = Session::with_client(HgClient::new(config).expect("client"));
        let last_stats = Arc::new(Mutex::new(serde_json::Value::Null));
        let stats = last_stats.clone();
        let calls = create_udf(
            "sandbox_calls",
            vec![DataType::Utf8],
            DataType::Int64,
            Volatility::Volatile,
            Arc::new(move |args: &[ColumnarValue]| {
                let endpoints = ColumnarValue::values_to_arrays(args)?;
                let endpoints = as_string_array(&endpoints[0])?;
                let stats = stats.lock().unwrap();
                let counts: Int64Array =
                    endpoints.iter().map(|e| e.map(|e| stats["endpoints"][e]["calls"].as_i64().unwrap_or(0))).collect();
                Ok(ColumnarValue::Array(Arc::new(counts) as ArrayRef))
            }),
        );
        session.context().register_udf(calls);
        HgsqlDb { session, sandbox, last_stats }
    }
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for HgsqlDb {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SqlError> {
        let counting = !sql.contains("sandbox_calls");
        if counting {
            self.sandbox.reset_stats();
        }
        let result = self.session.run(sql).await;
        if counting {
            *self.last_stats.lock().unwrap() = self.sandbox.stats();
        }
        let results = result.map_err(|e| SqlError(e.to_string()))?;
        rows(&results.last().map(|r| r.batches.clone()).unwrap_or_default())
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "hgsql"
    }

    async fn sleep(duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Plain DataFusion over the dump: the oracle.
struct DumpDb {
    ctx: SessionContext,
}

impl DumpDb {
    async fn new() -> DumpDb {
        let ctx = SessionContext::new().enable_url_table();
        let catalog = ctx.catalog("datafusion").unwrap();
        catalog.register_schema("hg", Arc::new(MemorySchemaProvider::new())).unwrap();
        for table in ["firmographics", "installs", "spend", "intent", "products", "vendors", "categories"] {
            let path = dump_dir().join(format!("{table}.parquet"));
            ctx.register_parquet(format!("hg.{table}"), path.to_str().unwrap(), ParquetReadOptions::default())
                .await
                .unwrap_or_else(|e| panic!("{table}: {e}"));
        }
        DumpDb { ctx }
    }

    /// `hg.companies` over `match_inputs(input)`: the best company for each input's host,
    /// ranked as docs/hg-api.md §3.1 says (global HQ, domestic HQ, site; larger first; then id).
    async fn define_companies(&self) -> Result<(), SqlError> {
        let sql = hgsql::sandbox::companies_view_sql("hg.companies", "match_inputs");
        self.ctx
            .sql(&sql)
            .await
            .map_err(|e| SqlError(e.to_string()))?
            .collect()
            .await
            .map_err(|e| SqlError(e.to_string()))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for DumpDb {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SqlError> {
        let frame = self.ctx.sql(sql).await.map_err(|e| SqlError(e.to_string()))?;
        let batches = frame.collect().await.map_err(|e| SqlError(e.to_string()))?;
        if sql.contains("match_inputs") && sql.trim_start().to_uppercase().starts_with("CREATE") {
            self.define_companies().await?;
        }
        rows(&batches)
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "dump"
    }

    async fn sleep(duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

fn slt_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql").join(name)
}

/// Runs `tests/sql/{name}` on both engines (or rewrites its results from the oracle).
async fn check(name: &str) {
    let path = slt_path(name);
    // Relative paths in the files ('queries/accounts.csv') are from the repository root, where
    // cargo runs tests.
    let _ = dump_dir();
    let oracle = || {
        let mut runner = Runner::new(|| async { Ok(DumpDb::new().await) });
        runner.add_label("dump");
        runner
    };
    if std::env::var_os("HGSQL_SLT_COMPLETE").is_some() {
        oracle()
            .update_test_file(
                &path,
                " ",
                sqllogictest::default_validator,
                sqllogictest::default_normalizer,
                sqllogictest::default_column_validator,
            )
            .await
            .unwrap_or_else(|e| panic!("{name}: completing from the dump failed: {e}"));
    }
    let started = std::time::Instant::now();
    if let Err(e) = oracle().run_file_async(&path).await {
        panic!("{name}: the dump engine disagrees with the file:\n{e}");
    }
    eprintln!("{name}: dump engine agrees ({:.1?})", started.elapsed());
    let started = std::time::Instant::now();
    let sandbox = Arc::new(sandbox(|_| {}).await);
    let mut hgsql = Runner::new(move || {
        let sandbox = sandbox.clone();
        async move { Ok(HgsqlDb::new(sandbox)) }
    });
    hgsql.add_label("hgsql");
    if let Err(e) = hgsql.run_file_async(&path).await {
        panic!("{name}: hgsql disagrees with the dump:\n{e}");
    }
    eprintln!("{name}: hgsql agrees ({:.1?})", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_lookup_joins() {
    check("lookup_joins.slt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_enrichment() {
    check("enrichment.slt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_pushdown_and_guard() {
    check("pushdown_and_guard.slt").await;
}

/// The enrichment the README runs is the one `enrichment.slt` checks.
#[test]
fn the_readme_enrichment_is_the_checked_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let query = std::fs::read_to_string(root.join("queries/enrich.sql")).unwrap();
    let start = query.find("CREATE VIEW enriched AS").expect("queries/enrich.sql defines the view");
    let view = &query[start..start + query[start..].find(';').unwrap()];
    let slt = std::fs::read_to_string(root.join("tests/sql/enrichment.slt")).unwrap();
    assert!(squash(&slt).contains(&squash(view)), "tests/sql/enrichment.slt must hold the view of queries/enrich.sql");
}
