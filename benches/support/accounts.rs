//! Generated account lists shared by the enrichment benchmarks.

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
