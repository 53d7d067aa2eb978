//! `hgsql cache stats` and `hgsql cache clear`: what the response cache holds, and emptying it.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::exit;
use crate::api::{ResponseCache, default_cache_file};

#[derive(Args, Debug)]
pub struct CacheArgs {
    #[command(subcommand)]
    action: CacheAction,
    /// The cache file (default: $XDG_CACHE_HOME/hgsql/cache.sqlite).
    #[arg(long, value_name = "FILE", global = true)]
    file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum CacheAction {
    /// Answers, rows and ages per endpoint, and the file's size.
    Stats,
    /// Remove every cached answer (the next queries pay again).
    Clear,
}

pub fn run(args: &CacheArgs) -> u8 {
    let path = args.file.clone().unwrap_or_else(default_cache_file);
    if !path.exists() {
        println!("no cache at {} yet: it is made by the first query that calls HG", path.display());
        return exit::OK;
    }
    let cache = match ResponseCache::open(&path) {
        Ok(cache) => cache,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::QUERY_ERROR;
        }
    };
    match args.action {
        CacheAction::Stats => match cache.stats() {
            Ok(stats) => {
                println!("cache file     {} ({:.1} MiB)", stats.path.display(), stats.file_bytes as f64 / 1048576.0);
                let now = chrono::Utc::now().timestamp();
                for (endpoint, answers, rows, oldest, newest) in stats.endpoints {
                    println!(
                        "{endpoint:<14} {answers} answers, {rows} rows, newest {} old, oldest {} old",
                        age(now - newest),
                        age(now - oldest)
                    );
                }
                exit::OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit::QUERY_ERROR
            }
        },
        CacheAction::Clear => match cache.clear() {
            Ok(removed) => {
                println!("removed {removed} cached answers from {}", path.display());
                exit::OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit::QUERY_ERROR
            }
        },
    }
}

fn age(seconds: i64) -> String {
    match seconds.max(0) {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}
