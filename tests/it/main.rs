//! hgsql's one integration-test binary (every test binary links DataFusion, so there is one).

mod api_client;
mod bad_input;
mod cache;
mod cli;
mod cli_http;
mod cli_parquet;
mod cli_repl;
mod cli_webhook;
mod fault_matrix;
mod http_tables;
mod large_keys;
mod row_status;
mod sandbox_dump;
mod sandbox_endpoints;
mod sandbox_faults;
mod sandbox_rules;
mod sandbox_v2;
mod sandbox_webhook;
mod secrets;
mod sql_explain;
mod sql_search;
mod sql_slt;
mod sql_v2;
mod support;
mod webhook_faults;
mod webhook_sink;
