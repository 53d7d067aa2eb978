use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    hgsql::cli::main().await
}
