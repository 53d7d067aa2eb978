//! `CREATE EXTERNAL TABLE … STORED AS HTTP`: the factory DataFusion calls for it, and the
//! table it makes. The definition (columns, `LOCATION`, `OPTIONS`, a named connection) is
//! checked whole here, so a mistake fails the `CREATE`, before any request.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{CreateExternalTable, Expr, Operator, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;

use super::http_scan::HttpScanExec;
use super::options::{HgOptions, ScanOptions};
use super::pushdown::text;
use crate::api::http::options::HttpOptions;
use crate::api::http::{HttpClient, HttpContext, HttpTableDef};
use crate::api::options::shown_value;
use crate::tables::http as arrow_rows;

/// Makes HTTP tables for one session.
#[derive(Debug)]
pub struct HttpTableFactory {
    context: Arc<HttpContext>,
    options: ScanOptions,
}

impl HttpTableFactory {
    pub fn new(context: Arc<HttpContext>, options: ScanOptions) -> HttpTableFactory {
        HttpTableFactory { context, options }
    }
}

#[async_trait]
impl TableProviderFactory for HttpTableFactory {
    async fn create(&self, _state: &dyn Session, cmd: &CreateExternalTable) -> Result<Arc<dyn TableProvider>> {
        let name = cmd.name.table().to_string();
        let plan_error = |message: String| DataFusionError::Plan(format!("{name}: {message}"));
        let location = match cmd.locations.as_slice() {
            [one] => one.clone(),
            _ => return Err(plan_error("an HTTP table takes one LOCATION, the URL template of its requests".into())),
        };
        let options: BTreeMap<String, String> = cmd.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let env = |name: &str| std::env::var(name).ok();
        // A named connection's options first; the table's own override them.
        let named =
            options.get("connection").or_else(|| options.get("format.connection")).map(|c| c.trim().to_string());
        let connection = match &named {
            Some(connection) => self.context.connections.get(connection).cloned().ok_or_else(|| {
                let known: Vec<&str> = self.context.connections.keys().map(String::as_str).collect();
                plan_error(format!(
                    "'connection' '{connection}' is not in the config file; add [http.{connection}] there (connections now: {})",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ))
            })?,
            None => BTreeMap::new(),
        };
        // A connection's base_url scopes its credential: the table may not move it elsewhere.
        if connection.contains_key("base_url")
            && (options.contains_key("base_url") || options.contains_key("format.base_url"))
        {
            let name = named.as_deref().unwrap_or_default();
            return Err(plan_error(format!(
                "'base_url' comes from connection {name}, whose credential is for that origin only; leave it out of the table's OPTIONS"
            )));
        }
        let parsed = HttpOptions::parse_layered(&connection, &options, &env).map_err(|e| plan_error(e.to_string()))?;
        let location = with_base(&location, parsed.base_url.as_deref(), named.as_deref()).map_err(plan_error)?;
        let declared = cmd.schema.as_arrow();
        let mut columns = Vec::new();
        for field in declared.fields() {
            let kind = arrow_rows::kind_of(field.data_type())
                .ok_or_else(|| plan_error(arrow_rows::unsupported_type(field.name(), field.data_type())))?;
            columns.push((field.name().clone(), kind));
        }
        let def = HttpTableDef::new(&name, columns, &location, parsed).map_err(|e| plan_error(e.to_string()))?;
        let schema = arrow_rows::schema(&def, declared);
        let client = HttpClient::new(def, self.context.clone()).map_err(plan_error)?;
        let mut shown: Vec<(String, String)> = Vec::new();
        for (key, value) in &options {
            let key = key.strip_prefix("format.").unwrap_or(key);
            shown.push((key.to_string(), shown_value(key, value)));
        }
        for (key, value) in &connection {
            if !options.contains_key(key) && !options.contains_key(&format!("format.{key}")) {
                let from = named.as_deref().unwrap_or_default();
                shown.push((key.clone(), format!("{} (connection {from})", shown_value(key, value))));
            }
        }
        shown.sort();
        Ok(Arc::new(HttpTable { client, schema, options: self.options, shown }))
    }
}

/// The URL a `LOCATION` stands for: a path goes after `base_url` (a connection's, usually); a
/// full URL must stay on `base_url`'s origin when there is one, since the connection's
/// credential is meant for that origin only.
fn with_base(location: &str, base: Option<&str>, connection: Option<&str>) -> std::result::Result<String, String> {
    let origin = |url: &str| reqwest::Url::parse(&url.replace(['{', '}', '*'], "")).ok().map(|u| u.origin());
    match (location.trim_start().starts_with('/'), base) {
        (true, Some(base)) => Ok(format!("{}{}", base.trim_end_matches('/'), location.trim())),
        (true, None) => Err(format!(
            "LOCATION '{location}' is a path; write the full URL, or name a connection whose base_url it goes after"
        )),
        (false, Some(base)) if origin(base).is_none() || origin(base) != origin(location) => {
            let from = connection.map_or("the base_url option".to_string(), |c| format!("connection {c}"));
            Err(format!(
                "LOCATION '{location}' is not on {base}, the base_url of {from}; its credential is for that origin only. \
                 Write the LOCATION as a path, or use another connection"
            ))
        }
        _ => Ok(location.to_string()),
    }
}

/// One HTTP table.
#[derive(Debug)]
pub struct HttpTable {
    client: HttpClient,
    schema: SchemaRef,
    options: ScanOptions,
    /// The options as `\d` shows them (secrets redacted), by name.
    shown: Vec<(String, String)>,
}

impl HttpTable {
    /// The request's method and URL template, as `\d` lists it.
    pub fn request(&self) -> String {
        self.client.def().describe_request()
    }

    /// What `\d TABLE` shows, as (column, type, how it finds rows, where it is read from):
    /// each column, then the request and the options, secrets redacted.
    pub fn describe(&self) -> Vec<[String; 4]> {
        let def = self.client.def();
        let mut rows = Vec::new();
        for field in self.schema.fields() {
            let name = field.name();
            let column = def.column(name);
            let (finds, from) = match column {
                Some(c) if c.key => ("key: = / IN or a join".to_string(), "the value asked (echoed)".to_string()),
                Some(c) => (String::new(), format!("{}{}", def.options.rows_path, c.pointer)),
                None => (String::new(), "how the lookup went".to_string()),
            };
            rows.push([name.clone(), field.data_type().to_string(), finds, from]);
        }
        rows.push(["(request)".into(), def.describe_request(), String::new(), String::new()]);
        for (key, value) in &self.shown {
            rows.push(["(option)".into(), format!("{key} = {value}"), String::new(), String::new()]);
        }
        rows
    }

    /// The values `expr` pins a key column to (`key = v`, `key IN (…)`).
    fn key_values(&self, expr: &Expr) -> Option<(String, BTreeSet<String>)> {
        let def = self.client.def();
        let key_column = |e: &Expr| match e {
            Expr::Column(c) if def.keys.contains(&c.name) => Some(c.name.clone()),
            _ => None,
        };
        match expr {
            // DataFusion writes a short IN list as ORs of equalities.
            Expr::BinaryExpr(b) if b.op == Operator::Or => {
                let (left, right) = (self.key_values(&b.left)?, self.key_values(&b.right)?);
                if left.0 != right.0 {
                    return None;
                }
                Some((left.0, left.1.union(&right.1).cloned().collect()))
            }
            Expr::BinaryExpr(b) if b.op == Operator::Eq => {
                let (column, value) =
                    match (key_column(&b.left), key_column(&b.right), b.left.as_ref(), b.right.as_ref()) {
                        (Some(c), _, _, Expr::Literal(v, _)) | (_, Some(c), Expr::Literal(v, _), _) => (c, v),
                        _ => return None,
                    };
                Some((column, text(value).into_iter().collect()))
            }
            Expr::InList(list) if !list.negated => {
                let column = key_column(&list.expr)?;
                let mut values = BTreeSet::new();
                for item in &list.list {
                    match item {
                        Expr::Literal(v, _) => values.extend(text(v)),
                        _ => return None,
                    }
                }
                Some((column, values))
            }
            _ => None,
        }
    }
}

#[async_trait]
impl TableProvider for HttpTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// No definition text: it would show in `information_schema.views`, and a table's options
    /// are its own business (`\d` shows them, redacted).
    fn get_table_definition(&self) -> Option<&str> {
        None
    }

    /// `=`/`IN` on a key column is exact: rows echo the key they were asked with.
    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match self.key_values(f) {
                Some(_) => TableProviderFilterPushDown::Exact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut literal: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for filter in filters {
            if let Some((column, values)) = self.key_values(filter) {
                let joined = match literal.remove(&column) {
                    Some(before) => before.intersection(&values).cloned().collect(),
                    None => values,
                };
                literal.insert(column, joined);
            }
        }
        let settings = state.config_options().extensions.get::<HgOptions>().cloned().unwrap_or_default();
        let options = ScanOptions { on_error: settings.on_error, ..self.options };
        let max_age = self.client.def().options.cache_ttl.unwrap_or(settings.lookup().max_age);
        let scan = HttpScanExec::new(
            self.client.clone(),
            self.schema.clone(),
            projection.cloned(),
            literal,
            limit,
            options,
            max_age,
        )?;
        Ok(Arc::new(scan))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_goes_after_the_base_url_and_a_full_url_must_stay_on_its_origin() {
        assert_eq!(
            with_base("/v1/companies/enrich", Some("https://api.clay.com/"), Some("clay")).unwrap(),
            "https://api.clay.com/v1/companies/enrich"
        );
        let no_base = with_base("/v1/x", None, None).unwrap_err();
        assert!(no_base.contains("is a path") && no_base.contains("base_url"), "{no_base}");
        let elsewhere =
            with_base("https://evil.example/{domain}", Some("https://api.clay.com"), Some("clay")).unwrap_err();
        assert!(elsewhere.contains("connection clay") && elsewhere.contains("credential"), "{elsewhere}");
        assert!(with_base("https://api.clay.com/v2/{domain}", Some("https://api.clay.com"), Some("clay")).is_ok());
        assert_eq!(with_base("https://x.example/{id}", None, None).unwrap(), "https://x.example/{id}");
    }
}
