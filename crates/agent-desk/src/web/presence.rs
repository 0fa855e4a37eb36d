//! Who else has a ticket open: shown on the ticket page instead of taking locks (two people may
//! both act; the router's versions decide, and the loser is told).
//!
//! Each open ticket page refreshes its viewer's mark every [`REFRESH`]; a mark older than
//! [`EXPIRY`] (three missed refreshes: the tab was closed or the laptop slept) no longer counts.
//! The map lives in this desk process only: with several desk processes behind a balancer, each
//! knows the viewers it serves, and a viewer on another process is not shown.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often an open ticket page says it is still open (the page's `every 5s`).
pub const REFRESH: Duration = Duration::from_secs(5);
/// How long a mark counts without a refresh.
pub const EXPIRY: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub login: String,
    pub display_name: String,
}

/// ticket id -> login -> (display name, last seen)
type Marks = HashMap<String, HashMap<String, (String, Instant)>>;

#[derive(Default)]
pub struct Presence {
    marks: Mutex<Marks>,
}

impl Presence {
    /// Marks `login` as viewing `ticket` at `now` (the page was loaded: the router let them
    /// read it).
    pub fn open(&self, ticket: &str, login: &str, display_name: &str, now: Instant) {
        let Ok(mut marks) = self.marks.lock() else {
            return;
        };
        prune(&mut marks, now);
        marks
            .entry(ticket.to_owned())
            .or_default()
            .insert(login.to_owned(), (display_name.to_owned(), now));
    }

    /// Refreshes the mark of a viewer who opened the ticket and whose mark has not expired;
    /// false otherwise (so the refresh endpoint cannot be used to watch a ticket one was never
    /// allowed to read).
    pub fn refresh(&self, ticket: &str, login: &str, now: Instant) -> bool {
        let Ok(mut marks) = self.marks.lock() else {
            return false;
        };
        prune(&mut marks, now);
        match marks.get_mut(ticket).and_then(|m| m.get_mut(login)) {
            Some((_, seen)) => {
                *seen = now;
                true
            }
            None => false,
        }
    }

    /// The other people with `ticket` open at `now`, by name.
    pub fn others(&self, ticket: &str, login: &str, now: Instant) -> Vec<Viewer> {
        let Ok(marks) = self.marks.lock() else {
            return Vec::new();
        };
        let mut out: Vec<Viewer> = marks
            .get(ticket)
            .into_iter()
            .flatten()
            .filter(|(who, (_, seen))| *who != login && fresh(*seen, now))
            .map(|(who, (name, _))| Viewer {
                login: who.clone(),
                display_name: name.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.login.cmp(&b.login));
        out
    }
}

fn fresh(seen: Instant, now: Instant) -> bool {
    now.saturating_duration_since(seen) < EXPIRY
}

fn prune(marks: &mut Marks, now: Instant) {
    marks.retain(|_, viewers| {
        viewers.retain(|_, (_, seen)| fresh(*seen, now));
        !viewers.is_empty()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_viewer_sees_the_others_but_not_themself() {
        let presence = Presence::default();
        let t0 = Instant::now();
        presence.open("T1", "css", "小李", t0);
        presence.open("T1", "boss", "王主任", t0);
        presence.open("T2", "office", "老陈", t0);
        let names: Vec<String> = presence
            .others("T1", "css", t0)
            .into_iter()
            .map(|v| v.display_name)
            .collect();
        assert_eq!(names, ["王主任"]);
    }

    #[test]
    fn a_mark_expires_unless_the_page_refreshes_it() {
        let presence = Presence::default();
        let t0 = Instant::now();
        presence.open("T1", "css", "小李", t0);
        presence.open("T1", "boss", "王主任", t0);
        let later = t0 + EXPIRY - Duration::from_secs(1);
        assert!(presence.refresh("T1", "boss", later));
        let gone = t0 + EXPIRY + Duration::from_secs(1);
        // css stopped refreshing: gone; boss refreshed a second before css expired: still there.
        assert_eq!(presence.others("T1", "nobody", gone).len(), 1);
        assert_eq!(presence.others("T1", "nobody", gone)[0].login, "boss");
        assert!(!presence.refresh("T1", "css", gone));
    }

    #[test]
    fn refreshing_a_ticket_never_opened_counts_for_nothing() {
        let presence = Presence::default();
        let t0 = Instant::now();
        assert!(!presence.refresh("T1", "snoop", t0));
        assert!(presence.others("T1", "other", t0).is_empty());
    }
}
