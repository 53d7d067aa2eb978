//! Credits of one run: what was spent, what requests under way may still cost, and the budget
//! that stops a query before a request could exceed it. HG charges a company once per endpoint
//! (docs/hg-api.md §4), so a request costs at most one credit per company in it that the endpoint
//! has not returned before (by the cache's record and this run's).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use super::endpoint::Endpoint;
use super::error::HgError;

#[derive(Default)]
struct Book {
    spent: u64,
    /// Worst case of the requests under way.
    reserved: u64,
    /// Credits the queries of this run expect to need (companies not in the cache), for the
    /// budget's message.
    planned: u64,
    /// Companies charged on an endpoint, as [`Charged`] fingerprints: 16 bytes each, not the
    /// ids themselves, as a million-company run charges a million.
    charged: HashSet<Charged>,
    /// Companies a lookup's plan found no record of the endpoint returning (in the cache or this
    /// run), until they are fetched: the fetch need not ask the cache again.
    unreturned: HashSet<Charged>,
}

/// An (endpoint, company) pair as a 128-bit fingerprint: two SipHashes of it, keyed apart. Two
/// pairs of one run sharing one is as likely as guessing a random 128-bit number twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Charged(u128);

impl Charged {
    fn of(endpoint: Endpoint, item: &str) -> Charged {
        let half = |salt: u8| {
            let mut hasher = std::hash::DefaultHasher::new();
            std::hash::Hash::hash(&(salt, endpoint.name(), item), &mut hasher);
            std::hash::Hasher::finish(&hasher)
        };
        Charged((u128::from(half(1)) << 64) | u128::from(half(2)))
    }
}

fn lock(book: &Mutex<Book>) -> MutexGuard<'_, Book> {
    book.lock().unwrap_or_else(|p| p.into_inner())
}

/// The run's credit account, shared by every query of a session.
#[derive(Default)]
pub struct Credits {
    book: Arc<Mutex<Book>>,
    /// Told whenever a reservation settles: a request waiting for the budget to clear looks
    /// again.
    settled: Arc<tokio::sync::Notify>,
}

/// Credits set aside for one request (one per company it may be charged for) until its answer
/// says what it cost.
///
/// Dropped unsettled (the query was cancelled, or its stream dropped, while the request was
/// under way) it settles conservatively: the request may have reached HG, so each of its
/// companies counts as charged and spent. Each is counted once: asking for it again later is
/// free, by HG's rule and by this book's, so the budget is never passed and never inflated
/// twice for the same company.
#[must_use]
pub struct Reservation {
    endpoint: Endpoint,
    /// The companies reserved for; emptied once settled.
    items: Vec<String>,
    book: Arc<Mutex<Book>>,
    settled: Arc<tokio::sync::Notify>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.items.is_empty() {
            return;
        }
        let items = std::mem::take(&mut self.items);
        let mut book = lock(&self.book);
        book.reserved = book.reserved.saturating_sub(items.len() as u64);
        let mut cost = 0;
        for item in items {
            if book.charged.insert(Charged::of(self.endpoint, &item)) {
                cost += 1;
            }
        }
        book.spent += cost;
        drop(book);
        self.settled.notify_waiters();
        tracing::debug!(
            endpoint = self.endpoint.name(),
            credits = cost,
            "a request was abandoned under way; its credits count as spent"
        );
    }
}

impl Credits {
    fn book(&self) -> MutexGuard<'_, Book> {
        lock(&self.book)
    }

    /// Credits spent in this run so far.
    pub fn spent(&self) -> u64 {
        self.book().spent
    }

    /// Credits set aside for requests under way.
    #[cfg(test)]
    pub(crate) fn reserved(&self) -> u64 {
        self.book().reserved
    }

    /// Companies of `items` this run has not yet been charged for on `endpoint`.
    pub fn not_charged(&self, endpoint: Endpoint, items: &[String]) -> Vec<String> {
        let book = self.book();
        items.iter().filter(|i| !book.charged.contains(&Charged::of(endpoint, i))).cloned().collect()
    }

    /// Adds to what the queries expect to need.
    pub fn plan(&self, credits: u64) {
        self.book().planned += credits;
    }

    /// Sets aside a credit for each of `items` (the companies a request may be charged for),
    /// unless spent + under way + these would pass `max`; then says how far the query got and
    /// what it still needs.
    #[cfg(test)]
    pub fn reserve(&self, endpoint: Endpoint, items: Vec<String>, max: Option<u64>) -> Result<Reservation, HgError> {
        let mut reserved = self.reserve_parts(vec![(endpoint, items)], max)?;
        Ok(reserved.remove(0))
    }

    /// Sets aside a credit for each item of every part of one request at once (v2: a field
    /// group each), unless spent + under way + these would pass `max`, all or nothing: a
    /// request never holds part of its worst case while it waits for the rest, so two requests
    /// cannot each wait for the other's part.
    pub fn reserve_parts(
        &self,
        parts: Vec<(Endpoint, Vec<String>)>,
        max: Option<u64>,
    ) -> Result<Vec<Reservation>, HgError> {
        let amount: u64 = parts.iter().map(|(_, items)| items.len() as u64).sum();
        let mut book = self.book();
        if let Some(max) = max
            && book.spent + book.reserved + amount > max
        {
            return Err(HgError::CreditBudget {
                endpoint: parts.first().map_or("?", |(e, _)| e.name()),
                max,
                spent: book.spent,
                next: amount,
                needed: book.planned.saturating_sub(book.spent).max(amount),
            });
        }
        book.reserved += amount;
        let reservation =
            |(endpoint, items)| Reservation { endpoint, items, book: self.book.clone(), settled: self.settled.clone() };
        Ok(parts.into_iter().map(reservation).collect())
    }

    /// [`reserve_parts`](Self::reserve_parts), waiting while requests under way hold part of
    /// the budget that this one would fit in once they settle (they reserve their worst case,
    /// and usually cost less): concurrent requests then stop at the budget, not at the sum of
    /// their worst cases.
    pub async fn reserve_when_settled(
        &self,
        parts: Vec<(Endpoint, Vec<String>)>,
        max: Option<u64>,
    ) -> Result<Vec<Reservation>, HgError> {
        let amount: u64 = parts.iter().map(|(_, items)| items.len() as u64).sum();
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            let could_fit = {
                let book = self.book();
                max.is_some_and(|max| book.reserved > 0 && book.spent + amount <= max)
            };
            match self.reserve_parts(parts.clone(), max) {
                Ok(reservations) => return Ok(reservations),
                Err(_) if could_fit => settled.await,
                Err(error) => return Err(error),
            }
        }
    }

    /// Settles a reservation: `returned` are the companies the answer held (charged unless
    /// charged before). What was set aside for the others goes back: a request that failed, or
    /// the part of one that did not arrive, is taken to have cost nothing (the API's balance
    /// header still shows if it did).
    pub fn settle(&self, mut reservation: Reservation, returned: impl IntoIterator<Item = String>) {
        let amount = std::mem::take(&mut reservation.items).len() as u64;
        let endpoint = reservation.endpoint;
        let mut book = self.book();
        book.reserved = book.reserved.saturating_sub(amount);
        let mut cost = 0;
        for item in returned {
            if book.charged.insert(Charged::of(endpoint, &item)) {
                cost += 1;
            }
        }
        // Never more than was reserved: companies the cache knew as returned before are free.
        book.spent += cost.min(amount);
        drop(book);
        self.settled.notify_waiters();
    }

    /// Records companies a lookup's plan found `endpoint` never returned (see
    /// [`uncharged`](Self::uncharged)).
    pub fn unreturned(&self, endpoint: Endpoint, items: impl IntoIterator<Item = String>) {
        let mut book = self.book();
        for item in items {
            book.unreturned.insert(Charged::of(endpoint, &item));
        }
    }

    /// Of `items`, the companies this run has not been charged for on `endpoint`, split into
    /// those a plan recorded as never returned (see [`unreturned`](Self::unreturned)), and the
    /// rest, which the caller must check against the cache. The plan's record of them is
    /// dropped: they are being fetched. What this run is charged for meanwhile is in its own
    /// record, so only an answer another process received in between is missed, and that errs
    /// on the side of counting a credit.
    pub fn uncharged(&self, endpoint: Endpoint, items: &[String]) -> (Vec<String>, Vec<String>) {
        let mut book = self.book();
        let mut never_returned = Vec::new();
        let mut unchecked = Vec::new();
        for item in items {
            let key = Charged::of(endpoint, item);
            let planned = book.unreturned.remove(&key);
            if book.charged.contains(&key) {
                continue;
            }
            if planned { never_returned.push(item.clone()) } else { unchecked.push(item.clone()) }
        }
        if book.unreturned.is_empty() {
            // Every planned company is under way: the set's room for a million goes too.
            book.unreturned = HashSet::new();
        }
        (never_returned, unchecked)
    }

    /// Records companies the cache knows `endpoint` returned before: free from now on.
    pub fn known(&self, endpoint: Endpoint, items: impl IntoIterator<Item = String>) {
        let mut book = self.book();
        for item in items {
            book.charged.insert(Charged::of(endpoint, &item));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(range: std::ops::Range<u32>) -> Vec<String> {
        range.map(|i| i.to_string()).collect()
    }

    /// A request that would fit once the requests under way settle waits for them, and one
    /// that could not fit even then fails at once.
    #[tokio::test]
    async fn a_request_waits_for_the_worst_cases_under_way_to_settle() {
        let credits = Arc::new(Credits::default());
        let ids = |r: std::ops::Range<u32>| r.map(|i| i.to_string()).collect::<Vec<String>>();
        let first = credits.reserve(Endpoint::INSTALLS, ids(0..25), Some(30)).unwrap();
        let waiting = {
            let credits = credits.clone();
            tokio::spawn(async move {
                credits.reserve_when_settled(vec![(Endpoint::INSTALLS, ids(25..50))], Some(30)).await
            })
        };
        let never = credits.reserve_when_settled(vec![(Endpoint::INSTALLS, ids(50..81))], Some(30)).await;
        assert!(never.is_err(), "31 credits can never fit in 30");
        credits.settle(first, ids(0..2));
        let second = waiting.await.unwrap().expect("2 spent + 25 fits once the first settled");
        assert_eq!((credits.spent(), credits.reserved()), (2, 25));
        second.into_iter().for_each(|r| credits.settle(r, Vec::new()));
        // A request of two parts takes both or neither: it never holds one while waiting.
        let parts = vec![(Endpoint::FIRMOGRAPHIC, ids(0..20)), (Endpoint::INSTALLS, ids(0..20))];
        assert!(credits.reserve_parts(parts.clone(), Some(30)).is_err(), "2 + 40 > 30");
        assert_eq!(credits.reserved(), 0, "nothing held");
        let both = credits.reserve_parts(parts, Some(50)).unwrap();
        assert_eq!((both.len(), credits.reserved()), (2, 40));
        both.into_iter().for_each(|r| credits.settle(r, Vec::new()));
    }

    #[test]
    fn the_budget_is_never_passed_and_the_refusal_says_how_far_the_query_got() {
        let credits = Credits::default();
        credits.plan(30);
        let first = credits.reserve(Endpoint::INSTALLS, ids(0..25), Some(30)).unwrap();
        let refused = credits.reserve(Endpoint::INSTALLS, ids(25..31), Some(30)).err().expect("25 + 6 > 30");
        assert!(matches!(refused, HgError::CreditBudget { max: 30, spent: 0, next: 6, .. }), "{refused:?}");
        credits.settle(first, ids(0..20));
        assert_eq!(credits.spent(), 20);
        let next = credits.reserve(Endpoint::INSTALLS, ids(20..30), Some(30)).unwrap();
        // Five of them were charged already in this run: they cost nothing.
        credits.settle(next, ids(15..25));
        assert_eq!(credits.spent(), 25);
        let message = credits.reserve(Endpoint::INSTALLS, ids(30..36), Some(30)).err().unwrap().to_string();
        assert!(message.contains("--max-credits") && message.contains("25"), "{message}");
        assert_eq!(credits.not_charged(Endpoint::INSTALLS, &["3".into(), "99".into()]), vec!["99".to_string()]);
        assert_eq!(credits.book().reserved, 0);
    }

    #[test]
    fn a_reservation_dropped_under_way_is_counted_as_spent_once_and_no_longer_reserved() {
        let credits = Credits::default();
        let abandoned = credits.reserve(Endpoint::INSTALLS, ids(0..5), Some(10)).unwrap();
        assert_eq!(credits.book().reserved, 5);
        // The query is cancelled while the request is under way.
        drop(abandoned);
        assert_eq!(credits.book().reserved, 0, "nothing stays reserved for the rest of the session");
        assert_eq!(credits.spent(), 5, "the request may have reached HG: its companies count as charged");
        assert!(credits.not_charged(Endpoint::INSTALLS, &ids(0..5)).is_empty(), "and asking again is free");
        assert!(credits.reserve(Endpoint::INSTALLS, ids(5..11), Some(10)).is_err(), "5 spent + 6 > 10");
        let rest = credits.reserve(Endpoint::INSTALLS, ids(5..10), Some(10)).unwrap();
        credits.settle(rest, ids(0..10));
        assert_eq!(credits.spent(), 10, "the abandoned companies are not counted twice");
        // A request that failed returned nothing: settled, it gives back what it held.
        let failed = credits.reserve(Endpoint::SPEND, ids(0..3), None).unwrap();
        credits.settle(failed, Vec::new());
        assert_eq!((credits.reserved(), credits.spent()), (0, 10));
        drop(credits.reserve(Endpoint::SPEND, Vec::new(), None).unwrap());
        assert_eq!((credits.reserved(), credits.spent()), (0, 10));
    }

    #[test]
    fn a_planned_company_is_fresh_without_a_cache_check_once_and_a_charged_one_never() {
        let credits = Credits::default();
        let e = Endpoint::INSTALLS;
        credits.unreturned(e, ids(0..3));
        let reservation = credits.reserve(e, vec!["1".into()], None).unwrap();
        credits.settle(reservation, vec!["1".to_string()]);
        let (fresh, unchecked) = credits.uncharged(e, &ids(0..5));
        assert_eq!(fresh, vec!["0".to_string(), "2".to_string()], "planned, not charged since");
        assert_eq!(unchecked, vec!["3".to_string(), "4".to_string()], "never planned: ask the cache");
        let (fresh, unchecked) = credits.uncharged(e, &ids(0..3));
        assert!(fresh.is_empty(), "the plan's record is used once");
        assert_eq!(unchecked, vec!["0".to_string(), "2".to_string()]);
        assert_eq!(credits.uncharged(Endpoint::SPEND, &ids(0..1)), (vec![], vec!["0".to_string()]), "per endpoint");
    }
}
