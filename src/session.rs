//! The DataFusion session hgsql runs SQL in: file paths usable as tables
//! (`SELECT * FROM 'accounts.csv'`), `information_schema` for `SHOW TABLES`, and statements run
//! one after another.

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
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

/// One hgsql session: a DataFusion context with hgsql's settings.
pub struct Session {
    ctx: SessionContext,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    pub fn new() -> Session {
        let config = SessionConfig::new().with_information_schema(true);
        let ctx = SessionContext::new_with_config(config).enable_url_table();
        Session { ctx }
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
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
