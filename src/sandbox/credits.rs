//! The credit ledger: an enrich endpoint charges one credit per company the first time it
//! returns that company; asking again is free (docs/hg-api.md §4). What is charged is kept per
//! account: a v1 endpoint's name, or on v2 a field group (or functional areas per company and
//! product).

use std::collections::{HashMap, HashSet};

use super::endpoints::Endpoint;
use super::error::ApiError;

pub struct Ledger {
    /// Credits left; `None` for an unlimited balance.
    balance: Option<u64>,
    charged: HashSet<(&'static str, u128)>,
    /// Per charged account and company, the fingerprint of the request (without its page
    /// offset) whose intact answer first carried the company: later pages of that request may
    /// carry it again.
    delivered: HashMap<(&'static str, u128), Fingerprint>,
    /// Fingerprints of the pages (request with offset) answered intact.
    pages: HashSet<(&'static str, Fingerprint)>,
}

/// 128 bits standing for a request or page text: a run of a million companies keeps a million
/// of these, where the texts themselves would keep a copy of every request. Two texts share
/// one by chance once in 2^128 pairs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Fingerprint(u128);

impl Fingerprint {
    fn of(text: &str, company: Option<u128>) -> Fingerprint {
        let half = |salt: u8| {
            let mut hasher = std::hash::DefaultHasher::new();
            std::hash::Hash::hash(&(salt, text, company), &mut hasher);
            std::hash::Hasher::finish(&hasher)
        };
        Fingerprint((u128::from(half(1)) << 64) | u128::from(half(2)))
    }
}

impl Ledger {
    pub fn new(balance: Option<u64>) -> Ledger {
        Ledger { balance, charged: HashSet::new(), delivered: HashMap::new(), pages: HashSet::new() }
    }

    pub fn remaining(&self) -> Option<u64> {
        self.balance
    }

    /// Charges for `companies` returned by `endpoint`, all or nothing. Returns how many
    /// companies were charged. With no credits left a charged endpoint answers 402 even for a
    /// repeat, as the contract says.
    pub fn charge(&mut self, endpoint: Endpoint, companies: &[u128]) -> Result<u64, ApiError> {
        if !endpoint.charged() {
            return Ok(0);
        }
        self.charge_all(&[(endpoint.name(), companies)])
    }

    /// Charges for several parts of one request at once (v2: a company per field group), all
    /// or nothing. Returns how many were charged.
    pub fn charge_all(&mut self, parts: &[(&'static str, &[u128])]) -> Result<u64, ApiError> {
        let mut new: Vec<(&'static str, u128)> = Vec::new();
        for (endpoint, companies) in parts {
            for company in *companies {
                if !self.charged.contains(&(*endpoint, *company)) && !new.contains(&(*endpoint, *company)) {
                    new.push((*endpoint, *company));
                }
            }
        }
        if let Some(balance) = self.balance {
            if balance == 0 {
                return Err(ApiError::credits_exhausted("Credits exhausted: no credits remain on this key"));
            }
            if new.len() as u64 > balance {
                return Err(ApiError::credits_exhausted(format!(
                    "Credits exhausted: this request needs {} credits but only {balance} remain",
                    new.len()
                )));
            }
            self.balance = Some(balance - new.len() as u64);
        }
        let count = new.len() as u64;
        self.charged.extend(new);
        Ok(count)
    }

    /// Whether `company` has been charged on `account` (v2: in that field group).
    pub fn is_charged(&self, account: &'static str, company: u128) -> bool {
        self.charged.contains(&(account, company))
    }

    /// Records that a page of a charged endpoint reached the client intact, and returns how
    /// many of its companies the client had already been given: the same page answered again,
    /// or a company an earlier, different request carried. A client that asks again for what
    /// it holds is what makes the real API charge twice if it bills per request. `request` is
    /// the request without its page offset, `page` with it.
    pub fn deliver(&mut self, endpoint: Endpoint, request: &str, page: &str, companies: &[u128]) -> u64 {
        if !endpoint.charged() {
            return 0;
        }
        self.deliver_to(endpoint.name(), request, page, companies)
    }

    /// [`deliver`](Self::deliver) on a charged account named directly (v2's field groups).
    pub fn deliver_to(&mut self, endpoint: &'static str, request: &str, page: &str, companies: &[u128]) -> u64 {
        if !self.pages.insert((endpoint, Fingerprint::of(page, None))) {
            return companies.len() as u64;
        }
        let request = Fingerprint::of(request, None);
        companies.iter().filter(|company| !self.first_delivery(endpoint, **company, request)).count() as u64
    }

    /// [`deliver_to`](Self::deliver_to) for v2, where a request's companies are paged each on
    /// its own: `request` and `page` leave the companies out, and a page is told apart per
    /// company. A later page that asks again only for the companies with more is a later page
    /// of theirs; the same company at the same page again, or under another request, counts.
    pub fn deliver_each(&mut self, account: &'static str, request: &str, page: &str, companies: &[u128]) -> u64 {
        let request = Fingerprint::of(request, None);
        let mut repeated = 0;
        for company in companies {
            if !self.pages.insert((account, Fingerprint::of(page, Some(*company))))
                || !self.first_delivery(account, *company, request)
            {
                repeated += 1;
            }
        }
        repeated
    }

    /// Records `request` as the first to deliver `company` on `account` if none did before;
    /// false when another request delivered it first (the client asked twice).
    fn first_delivery(&mut self, account: &'static str, company: u128, request: Fingerprint) -> bool {
        *self.delivered.entry((account, company)).or_insert(request) == request
    }

    /// Forgets every charge and sets a new balance.
    pub fn reset(&mut self, balance: Option<u64>) {
        *self = Ledger::new(balance);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_once_per_endpoint_and_company() {
        let mut ledger = Ledger::new(Some(3));
        assert_eq!(ledger.charge(Endpoint::Installs, &[1, 2]).unwrap(), 2);
        assert_eq!(ledger.charge(Endpoint::Installs, &[1, 2]).unwrap(), 0);
        assert_eq!(ledger.charge(Endpoint::Match, &[9]).unwrap(), 0);
        assert_eq!(ledger.remaining(), Some(1));
        let refused = ledger.charge(Endpoint::Firmographic, &[1, 2]).unwrap_err();
        assert_eq!(refused.status.as_u16(), 402);
        assert_eq!(ledger.remaining(), Some(1), "a refused request charges nothing");
        assert_eq!(ledger.charge(Endpoint::Firmographic, &[1]).unwrap(), 1);
        assert_eq!(ledger.charge(Endpoint::Installs, &[1]).unwrap_err().status.as_u16(), 402);
    }

    #[test]
    fn counts_companies_delivered_again() {
        let mut ledger = Ledger::new(None);
        assert_eq!(ledger.deliver(Endpoint::Installs, "r1", "r1@0", &[1, 2]), 0);
        assert_eq!(ledger.deliver(Endpoint::Installs, "r1", "r1@100", &[2, 3]), 0, "a later page of one request");
        assert_eq!(ledger.deliver(Endpoint::Installs, "r1", "r1@0", &[1, 2]), 2, "the same page again");
        assert_eq!(ledger.deliver(Endpoint::Installs, "r2", "r2@0", &[3, 4]), 1, "another request for company 3");
        assert_eq!(ledger.deliver(Endpoint::Firmographic, "r2", "r2@0", &[1]), 0, "per endpoint");
        assert_eq!(ledger.deliver(Endpoint::Match, "m", "m", &[1]), 0);
        assert_eq!(ledger.deliver(Endpoint::Match, "m", "m", &[1]), 0, "free endpoints are not counted");
    }
}
