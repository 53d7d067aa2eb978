use std::process::ExitCode;

/// mimalloc, not the system allocator: a large enrichment makes millions of small, short-lived
/// allocations (HTTP, JSON, Arrow), and glibc's malloc spent a fifth of the client's CPU on them,
/// more per call as the heap grew (see the README's scaling figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    hgsql::cli::main().await
}
