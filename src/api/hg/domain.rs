//! Domains as HG is asked for them. Account lists hold every spelling of a web address
//! (`https://www.Acme.com/about`, `acme.com.`, `bob@acme.com`); HG matches on the bare host, so
//! each spelling is reduced to it before the call and equal hosts are asked for once.

/// The bare host of `raw`, lower-case, without scheme, user, `www.`, port, path, query or
/// trailing dot; `None` when nothing that could be a domain is left (blank, spaces, no dot).
pub fn normalize_domain(raw: &str) -> Option<String> {
    // One pass can uncover more to strip (`www.www.acme.com`, `acme.com:80.`): repeat to a
    // fixed point, so a host normalises to itself and HG, normalising what it is sent, agrees.
    let mut host = raw.to_lowercase();
    loop {
        let next = strip_once(&host);
        if next == host {
            break;
        }
        host = next;
    }
    let plausible =
        host.contains('.') && !host.starts_with('.') && !host.chars().any(|c| c.is_whitespace() || c.is_control());
    plausible.then_some(host)
}

/// One pass: scheme, path, query, fragment, user, port, trailing dots and one `www.`.
fn strip_once(raw: &str) -> String {
    let mut host = raw.trim().to_string();
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
    // `www.com` is a domain of its own.
    match host.strip_prefix("www.") {
        Some(rest) if rest.contains('.') => rest.to_string(),
        _ => host.to_string(),
    }
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
        assert_eq!(normalize_domain("www.www.acme.com").as_deref(), Some("acme.com"));
        assert_eq!(normalize_domain("acme.com:80.").as_deref(), Some("acme.com"));
        assert_eq!(normalize_domain("www.com").as_deref(), Some("www.com"));
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

    proptest::proptest! {
        /// Whatever a CSV cell holds, the host sent is plausible, and a host normalises to
        /// itself, so the client and HG (which normalises what it is sent) agree.
        #[test]
        fn any_cell_gives_a_plausible_host_that_normalises_to_itself(
            raw in ".{0,30}|(https?://)?(www\\.)*[a-zA-Z0-9&=?#%@:. /-]{1,24}"
        ) {
            if let Some(host) = normalize_domain(&raw) {
                proptest::prop_assert!(host.contains('.') && !host.starts_with('.') && !host.ends_with('.'), "{host:?}");
                proptest::prop_assert!(!host.contains(['/', '?', '#', '@']), "{host:?}");
                proptest::prop_assert!(!host.chars().any(|c| c.is_whitespace() || c.is_control() || c.is_uppercase()), "{host:?}");
                proptest::prop_assert_eq!(normalize_domain(&host), Some(host.clone()));
            }
        }
    }
}
