//! Domains as HG is asked for them. Account lists hold every spelling of a web address
//! (`https://www.Acme.com/about`, `acme.com.`, `bob@acme.com`); HG matches on the bare host, so
//! each spelling is reduced to it before the call and equal hosts are asked for once.

/// The bare host of `raw`, lower-case, without scheme, user, `www.`, port, path, query or
/// trailing dot; `None` when nothing that could be a domain is left (blank, spaces, no dot).
pub fn normalize_domain(raw: &str) -> Option<String> {
    let mut host = raw.trim().to_lowercase();
    if let Some(i) = host.find("://") {
        host.drain(..i + 3);
    } else if let Some(rest) = host.strip_prefix("//") {
        host = rest.to_string();
    }
    if let Some(i) = host.find(['/', '?', '#']) {
        host.truncate(i);
    }
    if let Some(i) = host.rfind('@') {
        host.drain(..=i);
    }
    if let Some(i) = host.rfind(':')
        && host[i + 1..].chars().all(|c| c.is_ascii_digit())
    {
        host.truncate(i);
    }
    let host = host.trim_end_matches('.');
    let host = host.strip_prefix("www.").unwrap_or(host);
    let plausible =
        host.contains('.') && !host.starts_with('.') && !host.chars().any(|c| c.is_whitespace() || c.is_control());
    plausible.then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    use super::normalize_domain;

    #[test]
    fn spellings_of_one_site_reduce_to_its_host() {
        for raw in [
            "acme.com",
            "ACME.COM",
            " acme.com ",
            "www.acme.com",
            "http://acme.com",
            "https://www.Acme.com/about?x=1#top",
            "acme.com.",
            "acme.com:8080",
            "//acme.com/",
            "bob@acme.com",
            "https://user@www.acme.com:443/",
        ] {
            assert_eq!(normalize_domain(raw).as_deref(), Some("acme.com"), "{raw:?}");
        }
        assert_eq!(normalize_domain("shop.acme.co.uk").as_deref(), Some("shop.acme.co.uk"));
        assert_eq!(normalize_domain("müller.de").as_deref(), Some("müller.de"));
        // Characters that mean something in a query string stay in the value (the client encodes it).
        assert_eq!(normalize_domain("acme.com&limit=100").as_deref(), Some("acme.com&limit=100"));
    }

    #[test]
    fn blanks_and_non_domains_are_not_asked_for() {
        for raw in ["", "   ", "n/a", "acme", "acme .com", "https://", "www.", ".com"] {
            assert_eq!(normalize_domain(raw), None, "{raw:?}");
        }
    }
}
