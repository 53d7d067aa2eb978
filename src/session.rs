//! The DataFusion session hgsql runs SQL in: the `hg` schema, the settings and physical rules
//! lookup joins need (docs/architecture.md, "Lookup joins"), file paths usable as tables
//! (`SELECT * FROM 'accounts.csv'`), `information_schema` for `SHOW TABLES`, and statements run
//! one after another.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::{StreamExt, TryStreamExt};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::dialect::GenericDialect;

/// Why a statement of a script did not run.
#[derive(Debug, thiserror::Error)]
#[error("statement {index} (line {line}): {source}")]
pub struct SessionError {
    /// 1-based position of the statement in the script.
    pub index: usize,
    /// 1-based line the statement starts on.
    pub line: usize,
    pub source: DataFusionError,
}

/// The result of one statement, collected.
pub struct StatementResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

/// A statement running: its rows arrive on `stream`. A `COPY … TO` writes under a temporary
/// name and moves the file into place when the stream ends without error; dropping the stream
/// before (cancelling) removes the temporary file.
pub struct Execution {
    pub schema: SchemaRef,
    pub stream: SendableRecordBatchStream,
}

use crate::api::HgClient;
use crate::api::http::HttpContext;
use crate::api::webhook::WebhookContext;
use crate::atomic::PendingOutput;
use crate::distributed::{ClusterOptions, Coordinator, coordinate};
use crate::plan::{
    ApiOnProbeSide, ApiScanGuard, ExplainOnly, HgOptions, HgTable, HttpTableFactory, ScanOptions, ShareEnrichRequests,
    apply_lookup_settings,
};
use crate::script;
use crate::sink::{SendNothing, WEBHOOK, WebhookFormatFactory, WebhookTableFactory};

/// The schema HG tables live in.
pub const HG_SCHEMA: &str = "hg";

/// What a query reading an HG table without a configured client is told.
pub const NO_CLIENT: &str = "no HG API key is configured: set HG_API_KEY (or api_key in the config file), or run with --sandbox to use the built-in sandbox";

/// One hgsql session: a DataFusion context with hgsql's settings and the `hg` tables.
pub struct Session {
    ctx: SessionContext,
    client: Option<HgClient>,
    /// What the session's HTTP tables share (cache, rate gates, connections, counters).
    http: Arc<HttpContext>,
    /// What the session's webhook destinations share (the delivery ledger, named
    /// destinations, rate gates, the reports of runs).
    webhooks: Arc<WebhookContext>,
    options: ScanOptions,
    /// A dry run: `COPY … TO` runs but its file is never put in place.
    dry_run: bool,
    /// Across workers: the coordinator's own worker, served while the session lives.
    coordinator: Option<Coordinator>,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// A session without HG access: local SQL works; reading an `hg.*` table says how to
    /// configure a key.
    pub fn new() -> Session {
        Session::build(Err(NO_CLIENT.to_string()), ScanOptions::default())
    }

    /// A session whose `hg.*` tables read through `client`.
    pub fn with_client(client: HgClient) -> Session {
        Session::build(Ok(client), ScanOptions::default())
    }

    /// A session with `client` (or the reason there is none) and scan settings.
    pub fn build(client: Result<HgClient, String>, options: ScanOptions) -> Session {
        Session::assemble(client, options, None).expect("a session on one machine always builds")
    }

    /// A session that plans its queries across `cluster`'s workers (docs/distributed.md): this
    /// process coordinates, runs every API lookup and serves its own worker. Must be called
    /// inside a tokio runtime. Fails when the coordinator cannot listen where it is told.
    pub fn distributed(
        client: Result<HgClient, String>,
        options: ScanOptions,
        cluster: &ClusterOptions,
    ) -> Result<Session, DataFusionError> {
        Session::assemble(client, options, Some(cluster))
    }

    fn assemble(
        client: Result<HgClient, String>,
        options: ScanOptions,
        cluster: Option<&ClusterOptions>,
    ) -> Result<Session, DataFusionError> {
        let mut config = SessionConfig::new().with_information_schema(true).with_option_extension(HgOptions::default());
        // Files hgsql writes are read by pandas, polars and DuckDB: strings stay plain Utf8
        // (`string`), not Utf8View (`string_view`), whether they come from a Parquet input or a
        // cast in SQL.
        config.options_mut().execution.parquet.schema_force_view_types = false;
        config.options_mut().sql_parser.map_string_types_to_utf8view = false;
        apply_lookup_settings(&mut config.options_mut().optimizer);
        let mut rules = physical_rules();
        let mut builder = SessionStateBuilder::new().with_config(config).with_default_features();
        let coordinator = match cluster {
            Some(cluster) => {
                crate::distributed::add_rules(&mut rules, ApiOnProbeSide.name());
                let (distributed, coordinator) = coordinate(builder, cluster, Arc::new(RuntimeEnv::default()))?;
                builder = distributed;
                Some(coordinator)
            }
            None => None,
        };
        let state = builder.with_physical_optimizer_rules(rules).build();
        let ctx = SessionContext::new_with_state(state).enable_url_table();
        if let Some(coordinator) = &coordinator {
            coordinator.follow(&ctx.state_ref());
        }
        let catalog = ctx.catalog("datafusion").expect("the default catalog exists");
        catalog.register_schema(HG_SCHEMA, Arc::new(MemorySchemaProvider::new())).expect("schema hg registers");
        let version = client.as_ref().map_or(Default::default(), |c| c.config().version);
        for spec in crate::tables::for_version(version) {
            let table = HgTable::new(spec, client.clone(), options);
            ctx.register_table(format!("{HG_SCHEMA}.{}", spec.name), Arc::new(table)).expect("hg table registers");
        }
        let dry_run = client.as_ref().is_ok_and(|c| c.config().dry_run);
        // HTTP tables share the HG client's cache and flags unless told otherwise.
        let http = match &client {
            Ok(client) => {
                HttpContext::new(client.config().cache.clone(), client.config().refresh, dry_run, Default::default())
            }
            Err(_) => HttpContext::default(),
        };
        let webhooks =
            WebhookContext::new(crate::api::webhook::ledger::default_ledger_file(), Default::default(), dry_run);
        let session = Session {
            ctx,
            client: client.ok(),
            http: Arc::new(http),
            webhooks: Arc::new(webhooks),
            options,
            dry_run,
            coordinator,
        };
        session.register_http_factory();
        session.register_webhook_factories();
        Ok(session)
    }

    /// Sets what the session's webhook destinations share: the ledger file, the config file's
    /// `[webhooks.NAME]` destinations, and whether this is a dry run. Tables created before
    /// keep theirs.
    pub fn set_webhook_context(&mut self, context: WebhookContext) {
        self.dry_run = self.dry_run || context.dry_run;
        self.webhooks = Arc::new(context);
        self.register_webhook_factories();
    }

    /// What the session's webhook destinations share, with the reports of their runs.
    pub fn webhooks(&self) -> &Arc<WebhookContext> {
        &self.webhooks
    }

    fn register_webhook_factories(&self) {
        let state = self.ctx.state_ref();
        let mut state = state.write();
        let format = Arc::new(WebhookFormatFactory::new(self.webhooks.clone()));
        state.register_file_format(format, true).expect("the webhook format registers");
        state
            .table_factories_mut()
            .insert(WEBHOOK.to_uppercase(), Arc::new(WebhookTableFactory::new(self.webhooks.clone())));
    }

    /// Sets what the session's HTTP tables share (`STORED AS HTTP`): its cache, refresh and
    /// dry-run flags, and the named connections of the config file. Tables created before keep
    /// theirs.
    pub fn set_http_context(&mut self, context: HttpContext) {
        self.dry_run = self.dry_run || context.dry_run;
        self.http = Arc::new(context);
        self.register_http_factory();
    }

    /// What the session's HTTP tables share, with their request counters.
    pub fn http_context(&self) -> &Arc<HttpContext> {
        &self.http
    }

    fn register_http_factory(&self) {
        let factory = Arc::new(HttpTableFactory::new(self.http.clone(), self.options));
        self.ctx.state_ref().write().table_factories_mut().insert("HTTP".to_string(), factory);
    }

    /// The client HG tables read through, if one is configured.
    pub fn client(&self) -> Option<&HgClient> {
        self.client.as_ref()
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Names of the physical optimizer rules in the order they run: hgsql's sit right after
    /// join selection (before dynamic filters are built), and after filter pushdown (the scan
    /// guard, then the pairing of scans that share v2 enrich requests).
    pub fn rule_names(&self) -> Vec<String> {
        self.ctx.state().physical_optimizers().iter().map(|r| r.name().to_string()).collect()
    }

    /// Runs every statement of `sql` in order and returns each one's result. The first failure
    /// stops the run and says which statement and line it was.
    pub async fn run(&self, sql: &str) -> Result<Vec<StatementResult>, SessionError> {
        let mut results = Vec::new();
        for (i, statement) in script::split(sql).into_iter().enumerate() {
            let fail = |source| SessionError { index: i + 1, line: statement.line, source };
            let execution = self.execute(&statement.text).await.map_err(fail)?;
            let batches = execution.stream.try_collect().await.map_err(fail)?;
            results.push(StatementResult { schema: execution.schema, batches });
        }
        Ok(results)
    }

    /// Plans one statement and starts it. Nothing is fetched until the stream is polled.
    pub async fn execute(&self, sql: &str) -> Result<Execution, DataFusionError> {
        let mut statements = DFParser::parse_sql_with_dialect(sql, &GenericDialect {})?;
        let mut statement = match (statements.pop_front(), statements.is_empty()) {
            (Some(statement), true) => statement,
            (None, _) => return Err(DataFusionError::Plan("no SQL statement to run".into())),
            (Some(_), false) => {
                return Err(DataFusionError::Plan("expected one SQL statement; split the text at ';' first".into()));
            }
        };
        let pending = atomic_copy(&mut statement);
        crate::sink::statement::name_declared_columns(&self.ctx, &mut statement).await;
        let explaining = matches!(&statement, DFStatement::Explain(_));
        let explain_only = matches!(&statement, DFStatement::Explain(explain) if !explain.options.analyze);
        // Typed webhook URLs are secrets: EXPLAIN's plan text would print them back.
        let secrets = if explaining { crate::sink::statement::typed_urls(&statement) } else { Vec::new() };
        let mut state = self.ctx.state();
        if explain_only {
            state.config_mut().set_extension(Arc::new(ExplainOnly::default()));
        }
        if explaining {
            // EXPLAIN ANALYZE runs the query, but a webhook sink only counts what would go.
            state.config_mut().set_extension(Arc::new(SendNothing));
        }
        // Across workers, a plain EXPLAIN also shows the stages and their tasks, which only
        // the distributed planner, run on the statement explained, knows.
        let stages = match &statement {
            DFStatement::Explain(explain) if explain_only && self.coordinator.is_some() => {
                let inner = state.statement_to_plan((*explain.statement).clone()).await?;
                let physical = state.create_physical_plan(&inner).await?;
                Some(crate::distributed::display_plan(&physical, false))
            }
            _ => None,
        };
        let plan = state.statement_to_plan(statement).await?;
        let frame = if explaining {
            datafusion::dataframe::DataFrame::new(state, plan)
        } else {
            self.ctx.execute_logical_plan(plan).await?
        };
        let schema = frame.schema().inner().clone();
        let mut stream = frame.execute_stream().await?;
        if let Some(stages) = stages {
            stream = with_stages(stream, stages)?;
        }
        let stream = match pending {
            // A dry run's COPY fills its temporary file with what it could know, then drops it.
            Some(pending) if !self.dry_run => commit_on_end(stream, pending),
            Some(pending) => Box::pin(RecordBatchStreamAdapter::new(
                stream.schema(),
                stream.chain(futures::stream::once(async move { drop(pending) }).filter_map(|()| async { None })),
            )),
            None => stream,
        };
        let stream = crate::sink::statement::redacting(stream, secrets);
        Ok(Execution { schema, stream })
    }
}

/// Points a `COPY … TO` (also under `EXPLAIN ANALYZE`) at a temporary name beside its target,
/// and returns what moves it into place. A plain `EXPLAIN` writes nothing and is left alone.
fn atomic_copy(statement: &mut DFStatement) -> Option<PendingOutput> {
    let copy = match statement {
        DFStatement::CopyTo(copy) => copy,
        DFStatement::Explain(explain) if explain.options.analyze => return atomic_copy(&mut explain.statement),
        _ => return None,
    };
    // A webhook is not a file to put in place: its ledger keeps it whole instead.
    if copy.stored_as.as_deref().is_some_and(|format| format.eq_ignore_ascii_case(WEBHOOK)) {
        return None;
    }
    let path = match copy.target.strip_prefix("file://") {
        Some(path) => path.to_string(),
        // Other stores (s3://…) are DataFusion's to handle; none is registered.
        None if copy.target.contains("://") => return None,
        None => copy.target.clone(),
    };
    // DataFusion's rule: one file when the last part of the path has an extension and the path
    // does not end in '/'; a directory of files otherwise, and always when partitioned.
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let directory = path.ends_with('/') || !last.contains('.') || !copy.partitioned_by.is_empty();
    // The format DataFusion would take from the extension, which the temporary name may lack.
    if copy.stored_as.is_none()
        && let Some((_, extension)) = last.rsplit_once('.')
        && !extension.is_empty()
    {
        copy.stored_as = Some(extension.to_string());
    }
    let target = Path::new(path.trim_end_matches('/'));
    let pending = if directory { PendingOutput::directory(target) } else { PendingOutput::new(target) };
    let mut temp = pending.temp_path().to_string_lossy().into_owned();
    if directory {
        temp.push('/');
    }
    copy.target = temp;
    Some(pending)
}

/// An EXPLAIN's rows, then one more: the `distributed_plan`, with its stages and tasks.
fn with_stages(
    stream: SendableRecordBatchStream,
    stages: String,
) -> Result<SendableRecordBatchStream, DataFusionError> {
    use datafusion::arrow::array::{ArrayRef, StringArray};
    let schema = stream.schema();
    let columns: Vec<ArrayRef> =
        vec![Arc::new(StringArray::from(vec!["distributed_plan"])), Arc::new(StringArray::from(vec![stages]))];
    let row = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream.chain(futures::stream::once(async { Ok(row) })))))
}

/// `stream`, which moves `pending` into place once it ends without error.
fn commit_on_end(stream: SendableRecordBatchStream, pending: PendingOutput) -> SendableRecordBatchStream {
    let schema = stream.schema();
    let mut pending = Some(pending);
    let failed = Arc::new(AtomicBool::new(false));
    let seen = failed.clone();
    let rows = stream.inspect(move |batch| {
        if batch.is_err() {
            seen.store(true, Ordering::Relaxed);
        }
    });
    let end = futures::stream::once(async {}).filter_map(move |()| {
        // Reached once every batch was read; after an error the output is abandoned.
        let outcome = match (pending.take(), failed.load(Ordering::Relaxed)) {
            (Some(pending), false) => pending.commit().err().map(|e| Err(DataFusionError::IoError(e))),
            _ => None,
        };
        futures::future::ready(outcome)
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, rows.chain(end)))
}

fn physical_rules() -> Vec<Arc<dyn datafusion::physical_optimizer::PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = PhysicalOptimizer::new().rules;
    let after_selection = rules.iter().position(|r| r.name() == "join_selection").map_or(0, |i| i + 1);
    rules.insert(after_selection, Arc::new(ApiOnProbeSide));
    let before_sanity = rules.iter().position(|r| r.name() == "SanityCheckPlan").unwrap_or(rules.len());
    rules.insert(before_sanity, Arc::new(ApiScanGuard));
    rules.insert(before_sanity + 1, Arc::new(ShareEnrichRequests));
    rules
}
