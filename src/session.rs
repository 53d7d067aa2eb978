//! The DataFusion session hgsql runs SQL in: the `hg` schema, the settings and physical rules
//! lookup joins need (DESIGN.md "Lookup joins"), file paths usable as tables
//! (`SELECT * FROM 'accounts.csv'`), `information_schema` for `SHOW TABLES`, and statements run
//! one after another.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::DFParser;
use datafusion::sql::sqlparser::dialect::GenericDialect;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The SQL text does not parse.
    #[error("SQL syntax error: {0}")]
    Syntax(DataFusionError),
    /// Statement `index` (1-based) failed to plan or run.
    #[error("statement {index} failed: {source}")]
    Statement { index: usize, source: DataFusionError },
}

/// The result of one statement.
pub struct StatementResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

use crate::api::HgClient;
use crate::plan::{ApiOnProbeSide, ApiScanGuard, HgTable, ScanOptions};

/// The schema HG tables live in.
pub const HG_SCHEMA: &str = "hg";

/// What a query reading an HG table without a configured client is told.
pub const NO_CLIENT: &str = "no HG API key is configured: set HG_API_KEY (or api_key in the config file), or run with --sandbox to use the built-in sandbox";

/// One hgsql session: a DataFusion context with hgsql's settings and the `hg` tables.
pub struct Session {
    ctx: SessionContext,
    client: Option<HgClient>,
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
        let mut config = SessionConfig::new().with_information_schema(true);
        let optimizer = &mut config.options_mut().optimizer;
        // Join keys must reach HG scans as a readable IN list, however many there are
        // (notes/datafusion-55.md §2.2): the defaults (150 values, 128 KiB) turn larger key sets
        // into an opaque hash probe.
        optimizer.hash_join_inlist_pushdown_max_distinct_values = 1_000_000;
        optimizer.hash_join_inlist_pushdown_max_size = 64 * 1024 * 1024;
        // Only hash joins send their keys to the probe side.
        optimizer.prefer_hash_join = true;
        optimizer.enable_join_dynamic_filter_pushdown = true;
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_physical_optimizer_rules(physical_rules())
            .build();
        let ctx = SessionContext::new_with_state(state).enable_url_table();
        let catalog = ctx.catalog("datafusion").expect("the default catalog exists");
        catalog.register_schema(HG_SCHEMA, Arc::new(MemorySchemaProvider::new())).expect("schema hg registers");
        for spec in crate::tables::all() {
            let table = HgTable::new(spec, client.clone(), options);
            ctx.register_table(format!("{HG_SCHEMA}.{}", spec.name), Arc::new(table)).expect("hg table registers");
        }
        Session { ctx, client: client.ok() }
    }

    /// The client HG tables read through, if one is configured.
    pub fn client(&self) -> Option<&HgClient> {
        self.client.as_ref()
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Names of the physical optimizer rules in the order they run: hgsql's two sit right
    /// after join selection (before dynamic filters are built) and after filter pushdown.
    pub fn rule_names(&self) -> Vec<String> {
        self.ctx.state().physical_optimizers().iter().map(|r| r.name().to_string()).collect()
    }

    /// Runs every statement of `sql` in order and returns each one's result. The first failure
    /// stops the run.
    pub async fn run(&self, sql: &str) -> Result<Vec<StatementResult>, SessionError> {
        let statements = DFParser::parse_sql_with_dialect(sql, &GenericDialect {}).map_err(SessionError::Syntax)?;
        let mut results = Vec::with_capacity(statements.len());
        for (i, statement) in statements.into_iter().enumerate() {
            let fail = |source| SessionError::Statement { index: i + 1, source };
            let plan = self.ctx.state().statement_to_plan(statement).await.map_err(fail)?;
            let frame = self.ctx.execute_logical_plan(plan).await.map_err(fail)?;
            let schema = frame.schema().inner().clone();
            let batches = frame.collect().await.map_err(fail)?;
            results.push(StatementResult { schema, batches });
        }
        Ok(results)
    }
}

fn physical_rules() -> Vec<Arc<dyn datafusion::physical_optimizer::PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = PhysicalOptimizer::new().rules;
    let after_selection = rules.iter().position(|r| r.name() == "join_selection").map_or(0, |i| i + 1);
    rules.insert(after_selection, Arc::new(ApiOnProbeSide));
    let before_sanity = rules.iter().position(|r| r.name() == "SanityCheckPlan").unwrap_or(rules.len());
    rules.insert(before_sanity, Arc::new(ApiScanGuard));
    rules
}
