//! Generated account lists shared by the enrichment benchmarks.

use std::collections::BTreeSet;

use hgsql::sandbox::DataSet;

/// The data set's distinct hosts, sorted: the companies of a family share one.
pub fn distinct_hosts(data: &DataSet) -> Vec<String> {
    data.companies
        .iter()
        .map(|c| c.domain_normalized.clone())
        .filter(|d| !d.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// `host` as an account list spells it: the sixth spelling of each six is padded with spaces.
pub fn spell(host: &str, i: usize) -> String {
    match i % 6 {
        0 => host.to_string(),
        1 => format!("https://www.{host}/"),
        2 => format!("http://{host}/about"),
        3 => host.to_uppercase(),
        4 => format!("www.{host}."),
        _ => format!(" {host} "),
    }
}
