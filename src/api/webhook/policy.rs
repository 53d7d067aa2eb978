//! Whether a row goes out, given what the ledger says of its key: `resend` (`never`, the
//! default: a key accepted once is not sent again; `changed`: again when its payload changed;
//! `always`), `on_unknown` (`skip`, the default: a row whose earlier outcome was lost is not
//! sent again, so nothing arrives twice; `resend`) and `retry_rejected` (`false`: a row the
//! receiver refused goes again only once its content changed). A row that was never delivered
//! (`failed`) always goes again.

use super::ledger::{Entry, State};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Resend {
    #[default]
    Never,
    Changed,
    Always,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnUnknown {
    #[default]
    Skip,
    Resend,
}

/// A destination's rules for rows it has seen before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub resend: Resend,
    pub on_unknown: OnUnknown,
    pub retry_rejected: bool,
}

/// Why a row is not sent this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Accepted before (with this payload, under `changed`).
    AlreadySent,
    /// Refused before, and `retry_rejected` is off.
    Rejected,
    /// Its earlier outcome was lost, and `on_unknown` is `skip`.
    Unknown,
    /// Another run, still running, is sending it.
    Held,
}

/// What to do with one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Send,
    Skip(Skip),
}

impl Policy {
    /// The decision for a row whose payload hashes to `payload_hash`, given the ledger's
    /// `entry` for its key. A `pending` entry here is one of this process or of a run that
    /// [`recover`](super::ledger::Ledger::recover) found alive; the claim decides between them.
    pub fn decide(&self, entry: Option<&Entry>, payload_hash: &str) -> Decision {
        let Some(entry) = entry else { return Decision::Send };
        if entry.held_elsewhere {
            return Decision::Skip(Skip::Held);
        }
        match entry.state {
            State::Sent => match self.resend {
                Resend::Always => Decision::Send,
                Resend::Changed if entry.payload_hash != payload_hash => Decision::Send,
                _ => Decision::Skip(Skip::AlreadySent),
            },
            State::Rejected if self.retry_rejected || entry.payload_hash != payload_hash => Decision::Send,
            State::Rejected => Decision::Skip(Skip::Rejected),
            State::Failed => Decision::Send,
            State::Unknown | State::Pending => match self.on_unknown {
                OnUnknown::Resend => Decision::Send,
                OnUnknown::Skip => Decision::Skip(Skip::Unknown),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: State, hash: &str) -> Entry {
        Entry {
            key: "k".into(),
            payload_hash: hash.into(),
            state,
            http_status: None,
            error: None,
            attempts: 1,
            sent_at: None,
            held_elsewhere: false,
        }
    }

    #[test]
    fn by_default_nothing_goes_twice_and_a_lost_outcome_is_not_guessed() {
        let policy = Policy::default();
        assert_eq!(policy.decide(None, "h"), Decision::Send);
        assert_eq!(policy.decide(Some(&entry(State::Sent, "h")), "h"), Decision::Skip(Skip::AlreadySent));
        assert_eq!(policy.decide(Some(&entry(State::Sent, "h")), "other"), Decision::Skip(Skip::AlreadySent));
        assert_eq!(policy.decide(Some(&entry(State::Unknown, "h")), "h"), Decision::Skip(Skip::Unknown));
        assert_eq!(policy.decide(Some(&entry(State::Rejected, "h")), "h"), Decision::Skip(Skip::Rejected));
        assert_eq!(policy.decide(Some(&entry(State::Rejected, "h")), "fixed"), Decision::Send, "a corrected row goes");
        assert_eq!(policy.decide(Some(&entry(State::Failed, "h")), "h"), Decision::Send, "never delivered");
        let held = Entry { held_elsewhere: true, ..entry(State::Pending, "h") };
        let anything = Policy { resend: Resend::Always, on_unknown: OnUnknown::Resend, retry_rejected: true };
        assert_eq!(anything.decide(Some(&held), "h"), Decision::Skip(Skip::Held), "another run is sending it");
    }

    #[test]
    fn each_option_opens_its_own_case_only() {
        let changed = Policy { resend: Resend::Changed, ..Policy::default() };
        assert_eq!(changed.decide(Some(&entry(State::Sent, "h")), "other"), Decision::Send);
        assert_eq!(changed.decide(Some(&entry(State::Sent, "h")), "h"), Decision::Skip(Skip::AlreadySent));
        assert_eq!(changed.decide(Some(&entry(State::Unknown, "h")), "other"), Decision::Skip(Skip::Unknown));
        let always = Policy { resend: Resend::Always, ..Policy::default() };
        assert_eq!(always.decide(Some(&entry(State::Sent, "h")), "h"), Decision::Send);
        let resend_unknown = Policy { on_unknown: OnUnknown::Resend, ..Policy::default() };
        assert_eq!(resend_unknown.decide(Some(&entry(State::Unknown, "h")), "h"), Decision::Send);
        assert_eq!(resend_unknown.decide(Some(&entry(State::Sent, "h")), "h"), Decision::Skip(Skip::AlreadySent));
        let retry = Policy { retry_rejected: true, ..Policy::default() };
        assert_eq!(retry.decide(Some(&entry(State::Rejected, "h")), "h"), Decision::Send);
        assert_eq!(retry.decide(Some(&entry(State::Unknown, "h")), "h"), Decision::Skip(Skip::Unknown));
    }
}
