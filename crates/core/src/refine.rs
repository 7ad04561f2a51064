//! SPEC §2 refinements: what a re-sent fact with a known key is.
//!
//! Facts are append-only, with two exceptions that a live coordinator learns
//! over time. A **session** re-sent with a later `last_seen_at` (a heartbeat)
//! and/or a first `disconnected_at`, every other field identical, refines the
//! known one; a **binding** without `to` re-sent with a `to` refines it. Every
//! other difference is a conflict whose reason names the field.
//!
//! Decisions where the spec is silent:
//! - the same `last_seen_at` with a first `disconnected_at` is a refinement
//!   (the disconnect is news, the heartbeat is not stale);
//! - a re-send without `last_seen_at` where one is known is an *earlier*
//!   `last_seen_at` (it would move the session's end back): a conflict;
//! - a re-send without `disconnected_at` where one is known is a *changed*
//!   `disconnected_at`: a conflict; likewise a binding re-sent without the
//!   `to` it has.
//!
//! The store (ingestion, one batch item after another as if sent in order)
//! and nothing else applies these rules; this module only judges.

use crate::bundle::{Binding, Session};
use crate::time::Timestamp;

/// What a re-sent fact is, compared with the one known under its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resend {
    /// Identical: a no-op.
    Duplicate,
    /// A refinement: the re-sent fact replaces the known one.
    Refines,
    /// Refused; the reason names every offending field.
    Conflict(String),
}

fn show(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "none".to_string(), |t| t.to_rfc3339())
}

/// The reason for fields that may never change.
fn fixed(origin: &str, fields: &[&str]) -> String {
    format!(
        "{origin} has this key with a different payload ({})",
        fields.join(", ")
    )
}

fn verdict(reasons: Vec<String>) -> Resend {
    if reasons.is_empty() {
        Resend::Refines
    } else {
        Resend::Conflict(reasons.join("; "))
    }
}

/// Judges `new`, a session re-sent with the key of `old`. `origin` names
/// `old` in a reason (`a stored fact`, `sessions[3] of this batch`).
pub fn resend_session(old: &Session, new: &Session, origin: &str) -> Resend {
    if old == new {
        return Resend::Duplicate;
    }
    let mut reasons = Vec::new();
    let mut different = Vec::new();
    if old.machine_id != new.machine_id {
        different.push("machine_id");
    }
    if old.connected_at != new.connected_at {
        different.push("connected_at");
    }
    if !different.is_empty() {
        reasons.push(fixed(origin, &different));
    }
    let earlier = match (old.last_seen_at, new.last_seen_at) {
        (Some(o), Some(n)) => n < o,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if earlier {
        reasons.push(format!(
            "an earlier last_seen_at than {origin} ({} before {}): a session's \
             last_seen_at only moves forward",
            show(new.last_seen_at),
            show(old.last_seen_at)
        ));
    }
    if old.disconnected_at.is_some() && old.disconnected_at != new.disconnected_at {
        reasons.push(format!(
            "a changed disconnected_at from {origin} ({} instead of {}): a session's \
             disconnected_at is set once",
            show(new.disconnected_at),
            show(old.disconnected_at)
        ));
    }
    verdict(reasons)
}

/// Judges `new`, a binding re-sent with the key (`machine_id`, `from`) of
/// `old`. `origin` names `old` in a reason.
pub fn resend_binding(old: &Binding, new: &Binding, origin: &str) -> Resend {
    if old == new {
        return Resend::Duplicate;
    }
    let mut reasons = Vec::new();
    let mut different = Vec::new();
    if old.machine_id != new.machine_id {
        different.push("machine_id");
    }
    if old.from != new.from {
        different.push("from");
    }
    if old.account_id != new.account_id {
        different.push("account_id");
    }
    if old.payout_identity != new.payout_identity {
        different.push("payout_identity");
    }
    if !different.is_empty() {
        reasons.push(fixed(origin, &different));
    }
    if old.to.is_some() && old.to != new.to {
        reasons.push(format!(
            "a changed to from {origin} ({} instead of {}): a binding's to is set once",
            show(new.to),
            show(old.to)
        ));
    }
    verdict(reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(last: Option<i64>, disc: Option<i64>) -> Session {
        Session {
            session_id: "s1".into(),
            machine_id: "m1".into(),
            connected_at: Timestamp(1_000),
            last_seen_at: last.map(Timestamp),
            disconnected_at: disc.map(Timestamp),
        }
    }

    fn conflict(r: Resend) -> String {
        match r {
            Resend::Conflict(reason) => reason,
            other => format!("not a conflict: {other:?}"),
        }
    }

    #[test]
    fn a_later_heartbeat_and_a_first_disconnect_refine_a_session() {
        let o = "a stored fact";
        assert_eq!(
            resend_session(&s(Some(2), None), &s(Some(2), None), o),
            Resend::Duplicate
        );
        assert_eq!(
            resend_session(&s(None, None), &s(Some(2), None), o),
            Resend::Refines
        );
        assert_eq!(
            resend_session(&s(Some(2), None), &s(Some(3), None), o),
            Resend::Refines
        );
        assert_eq!(
            resend_session(&s(Some(2), None), &s(Some(2), Some(5)), o),
            Resend::Refines
        );
        assert_eq!(
            resend_session(&s(Some(2), None), &s(Some(9), Some(5)), o),
            Resend::Refines
        );
        assert_eq!(
            resend_session(&s(Some(2), Some(5)), &s(Some(3), Some(5)), o),
            Resend::Refines
        );
    }

    #[test]
    fn each_session_conflict_names_its_field() {
        let o = "a stored fact";
        assert!(
            conflict(resend_session(&s(Some(3), None), &s(Some(2), None), o))
                .starts_with("an earlier last_seen_at")
        );
        assert!(
            conflict(resend_session(&s(Some(3), None), &s(None, None), o))
                .contains("earlier last_seen_at than a stored fact (none before")
        );
        assert!(
            conflict(resend_session(&s(None, Some(5)), &s(None, Some(6)), o))
                .starts_with("a changed disconnected_at")
        );
        assert!(
            conflict(resend_session(&s(None, Some(5)), &s(None, None), o))
                .starts_with("a changed disconnected_at")
        );
        let moved = Session {
            machine_id: "m2".into(),
            connected_at: Timestamp(999),
            ..s(None, None)
        };
        assert_eq!(
            conflict(resend_session(&s(None, None), &moved, o)),
            "a stored fact has this key with a different payload (machine_id, connected_at)"
        );
    }

    #[test]
    fn a_binding_gets_one_to() {
        let b = |to: Option<i64>| Binding {
            machine_id: "m1".into(),
            account_id: "a1".into(),
            payout_identity: "p1".into(),
            from: Timestamp(10),
            to: to.map(Timestamp),
        };
        let o = "a stored fact";
        assert_eq!(resend_binding(&b(None), &b(Some(20)), o), Resend::Refines);
        assert_eq!(
            resend_binding(&b(Some(20)), &b(Some(20)), o),
            Resend::Duplicate
        );
        assert!(conflict(resend_binding(&b(Some(20)), &b(Some(30)), o)).starts_with("a changed to"));
        assert!(conflict(resend_binding(&b(Some(20)), &b(None), o)).starts_with("a changed to"));
        let other = Binding {
            account_id: "a2".into(),
            ..b(Some(20))
        };
        assert_eq!(
            conflict(resend_binding(&b(None), &other, o)),
            "a stored fact has this key with a different payload (account_id)"
        );
    }
}
