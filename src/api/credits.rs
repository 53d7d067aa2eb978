//! Credits of one run: what was spent, what requests under way may still cost, and the budget
//! that stops a query before a request could exceed it. HG charges a company once per endpoint
//! (CONTRACT.md §4), so a request costs at most one credit per company in it that the endpoint
//! has not returned before (by the cache's record and this run's).

use std::collections::HashSet;
use std::sync::Mutex;

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
    charged: HashSet<(Endpoint, String)>,
}

/// The run's credit account, shared by every query of a session.
#[derive(Default)]
pub struct Credits {
    book: Mutex<Book>,
}

/// Credits set aside for one request until its answer says what it cost.
#[must_use]
pub struct Reservation {
    amount: u64,
}

impl Credits {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Credits spent in this run so far.
    pub fn spent(&self) -> u64 {
        self.book().spent
    }

    /// Companies of `items` this run has not yet been charged for on `endpoint`.
    pub fn not_charged(&self, endpoint: Endpoint, items: &[String]) -> Vec<String> {
        let book = self.book();
        items.iter().filter(|i| !book.charged.contains(&(endpoint, (*i).clone()))).cloned().collect()
    }

    /// Adds to what the queries expect to need.
    pub fn plan(&self, credits: u64) {
        self.book().planned += credits;
    }

    /// Sets aside `amount` credits for a request, unless spent + under way + amount would pass
    /// `max`; then says how far the query got and what it still needs.
    pub fn reserve(&self, endpoint: Endpoint, amount: u64, max: Option<u64>) -> Result<Reservation, HgError> {
        let mut book = self.book();
        if let Some(max) = max
            && book.spent + book.reserved + amount > max
        {
            return Err(HgError::CreditBudget {
                endpoint: endpoint.name(),
                max,
                spent: book.spent,
                next: amount,
                needed: book.planned.saturating_sub(book.spent).max(amount),
            });
        }
        book.reserved += amount;
        Ok(Reservation { amount })
    }

    /// Settles a reservation: `returned` are the companies the answer held (charged unless
    /// charged before).
    pub fn settle(&self, reservation: Reservation, endpoint: Endpoint, returned: impl IntoIterator<Item = String>) {
        let mut book = self.book();
        book.reserved = book.reserved.saturating_sub(reservation.amount);
        let mut cost = 0;
        for item in returned {
            if book.charged.insert((endpoint, item)) {
                cost += 1;
            }
        }
        // Never more than was reserved: companies the cache knew as returned before are free.
        book.spent += cost.min(reservation.amount);
    }

    /// Gives a reservation back: the request failed and cost nothing.
    pub fn release(&self, reservation: Reservation) {
        let mut book = self.book();
        book.reserved = book.reserved.saturating_sub(reservation.amount);
    }

    /// Records companies the cache knows `endpoint` returned before: free from now on.
    pub fn known(&self, endpoint: Endpoint, items: impl IntoIterator<Item = String>) {
        let mut book = self.book();
        for item in items {
            book.charged.insert((endpoint, item));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_never_passed_and_the_refusal_says_how_far_the_query_got() {
        let credits = Credits::default();
        credits.plan(30);
        let first = credits.reserve(Endpoint::Installs, 25, Some(30)).unwrap();
        let refused = credits.reserve(Endpoint::Installs, 6, Some(30)).err().expect("25 + 6 > 30");
        assert!(matches!(refused, HgError::CreditBudget { max: 30, spent: 0, next: 6, .. }), "{refused:?}");
        credits.settle(first, Endpoint::Installs, (0..20).map(|i| i.to_string()));
        assert_eq!(credits.spent(), 20);
        let next = credits.reserve(Endpoint::Installs, 10, Some(30)).unwrap();
        // Five of them were charged already in this run: they cost nothing.
        credits.settle(next, Endpoint::Installs, (15..25).map(|i| i.to_string()));
        assert_eq!(credits.spent(), 25);
        let message = credits.reserve(Endpoint::Installs, 6, Some(30)).err().unwrap().to_string();
        assert!(message.contains("--max-credits") && message.contains("25"), "{message}");
        assert_eq!(credits.not_charged(Endpoint::Installs, &["3".into(), "99".into()]), vec!["99".to_string()]);
    }
}
