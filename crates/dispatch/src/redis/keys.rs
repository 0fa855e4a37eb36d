//! Every Redis key and channel name the Redis backends use, built in this one file.
//!
//! # Layout (`P` is the key prefix given at connect time)
//!
//! Station queues, one hash tag per station so a station's keys share a Redis Cluster slot:
//!
//! | key | type | content |
//! |---|---|---|
//! | `P:q:{S}:ready` | ZSET | member `<tag><ticket:32 hex>`, score = [`queue_score`](super::codec::queue_score); tag = [`order_tag`](super::codec::order_tag) |
//! | `P:q:{S}:entry` | HASH | ticket -> `<tag>|<urgency>|<due>|<enqueued_at>`, then `#<until µs>|<holder>` while claimed |
//! | `P:ticket-station` | HASH | ticket -> station (a ticket is on at most one queue) |
//! | `P:lease-expiry` | ZSET | ticket -> lease expiry (µs), for `release_expired` |
//! | `P:arrivals:{S}` | pub/sub channel | `<ticket>|<urgency>|<due>|<enqueued_at>`, subscribed while S is watched |
//! | `P:built:v2` | STRING | set by a rebuild; missing = flushed, or written by an older layout |
//!
//! The lease lives in the entry's value, not a hash of its own: a claim, a removal and a listing
//! each touch one field fewer, and an entry and its lease cannot disagree.
//!
//! SLA timers, one hash tag per prefix (`{P}`) because `schedule` must touch the pending set, the
//! in-flight set and the ticket's membership atomically:
//!
//! | key | type | content |
//! |---|---|---|
//! | `P:timers:{P}:pending` | ZSET | member [`Timer::member`](crate::Timer::member), score = fire time (ms) |
//! | `P:timers:{P}:inflight` | ZSET | member as above, score = lease expiry (ms) |
//! | `P:timers:{P}:inflight-at` | HASH | member -> fire time (ms), to re-pend an expired lease |
//! | `P:timers:{P}:tk:<xyz>` | HASH | ticket -> its timers, compact ([`codec`](super::codec)); 4,096 buckets |
//!
//! The per-ticket membership is bucketed by the last three hex digits of the ticket id (random
//! bits in a UUIDv7) so each bucket stays a small listpack-encoded hash (<= 512 entries up to ~2M
//! tickets with timers): ~60 bytes per ticket instead of ~120 for one big hash table.
//!
//! # Redis Cluster
//! Every per-station operation (claim, lease, list, release) touches one slot. Enqueue and remove
//! also touch `P:ticket-station` and `P:lease-expiry` (another slot), and a move touches two
//! stations: on a single Redis (the deployment today) each is one Lua script and fully atomic. On
//! a Cluster they would have to run as remove-from-old, then add-to-new, then update the index,
//! each atomic on its own slot; a crash in between leaves the ticket on *no* queue (never on two)
//! until the next enqueue or rebuild from the store. That split is not implemented: the backend
//! connects to one Redis (or a primary behind Sentinel), and the layout keeps the option open.

use hotline_core::{StationId, TicketId};

use crate::QueueError;

/// How many per-ticket membership buckets the timer index spreads over (16^3).
pub const TIMER_BUCKETS: usize = 4096;

/// A validated key prefix: non-empty, no whitespace, no `{`/`}` (they would change the hash tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix(String);

impl Prefix {
    pub fn parse(raw: &str) -> Result<Self, QueueError> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'{' && b != b'}');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(QueueError::Unavailable(format!(
                "{raw:?} is not a usable Redis key prefix (1-64 printable characters, no braces)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The ticket as it appears in keys, members and hash fields: 32 lowercase hex digits.
pub fn ticket_field(ticket: TicketId) -> String {
    ticket.as_uuid().simple().to_string()
}

/// Keys of one station's queue.
#[derive(Debug, Clone)]
pub struct StationKeys {
    pub ready: String,
    pub entry: String,
}

impl StationKeys {
    /// Keys an older layout kept per station (a lease hash and an arrival counter): a rebuild
    /// deletes them so an upgraded Redis does not keep them forever.
    pub fn retired(&self) -> [String; 2] {
        let base = self.ready.strip_suffix(":ready").unwrap_or(&self.ready);
        [format!("{base}:lease"), format!("{base}:seq")]
    }
}

/// Queue keys under one prefix. The prefix-wide names are built once: every operation passes
/// some of them.
#[derive(Debug, Clone)]
pub struct QueueKeys {
    prefix: Prefix,
    ticket_station: String,
    lease_expiry: String,
    built: String,
}

impl QueueKeys {
    pub fn new(prefix: Prefix) -> Self {
        let p = prefix.as_str();
        Self {
            ticket_station: format!("{p}:ticket-station"),
            lease_expiry: format!("{p}:lease-expiry"),
            built: format!("{p}:built:v2"),
            prefix,
        }
    }

    pub fn station(&self, station: &StationId) -> StationKeys {
        self.station_raw(station.as_str())
    }

    pub fn station_raw(&self, station: &str) -> StationKeys {
        let base = format!("{}:q:{{{station}}}", self.prefix.as_str());
        StationKeys {
            ready: format!("{base}:ready"),
            entry: format!("{base}:entry"),
        }
    }

    pub fn ticket_station(&self) -> &str {
        &self.ticket_station
    }

    pub fn lease_expiry(&self) -> &str {
        &self.lease_expiry
    }

    /// The station's arrivals channel (its hash tag too: a sharded channel on a Cluster).
    pub fn arrivals_channel(&self, station: &str) -> String {
        format!("{}:arrivals:{{{station}}}", self.prefix.as_str())
    }

    /// Set by every rebuild: its absence means the working set was flushed, this is a new
    /// Redis, or it was written in an older layout (the version in the name), and must be
    /// rebuilt from the store.
    pub fn built(&self) -> &str {
        &self.built
    }
}

/// Timer keys under one prefix (optionally a rebuild's scratch copy, swapped in by RENAME).
#[derive(Debug, Clone)]
pub struct TimerKeys {
    base: String,
}

impl TimerKeys {
    pub fn new(prefix: &Prefix) -> Self {
        let p = prefix.as_str();
        Self {
            base: format!("{p}:timers:{{{p}}}"),
        }
    }

    /// The same layout under a scratch name (same hash tag, so RENAME stays in one slot).
    pub fn scratch(&self, token: &str) -> Self {
        Self {
            base: format!("{}:rebuild:{token}", self.base),
        }
    }

    pub fn pending(&self) -> String {
        format!("{}:pending", self.base)
    }

    pub fn inflight(&self) -> String {
        format!("{}:inflight", self.base)
    }

    pub fn inflight_at(&self) -> String {
        format!("{}:inflight-at", self.base)
    }

    /// The membership bucket holding `ticket`.
    pub fn bucket_of(&self, ticket: TicketId) -> String {
        self.bucket(bucket_index(ticket))
    }

    pub fn bucket(&self, index: usize) -> String {
        debug_assert!(index < TIMER_BUCKETS);
        format!("{}:tk:{index:03x}", self.base)
    }

    pub fn all_buckets(&self) -> impl Iterator<Item = String> + '_ {
        (0..TIMER_BUCKETS).map(|i| self.bucket(i))
    }
}

/// The bucket of a ticket: the low 12 bits of its id (random bits of a UUIDv7).
pub fn bucket_index(ticket: TicketId) -> usize {
    let bytes = ticket.as_uuid().as_u128();
    (bytes as usize) & (TIMER_BUCKETS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn station_keys_carry_the_station_as_hash_tag() {
        let keys = QueueKeys::new(Prefix::parse("hl").unwrap());
        let station = StationId::parse("s", "320505001001-css").unwrap();
        assert_eq!(
            keys.station(&station).ready,
            "hl:q:{320505001001-css}:ready"
        );
        assert_eq!(keys.ticket_station(), "hl:ticket-station");
        assert_eq!(
            keys.station(&station).retired(),
            [
                "hl:q:{320505001001-css}:lease".to_owned(),
                "hl:q:{320505001001-css}:seq".to_owned()
            ]
        );
    }

    #[test]
    fn timer_keys_share_one_hash_tag_even_when_scratch() {
        let keys = TimerKeys::new(&Prefix::parse("hl").unwrap());
        assert_eq!(keys.pending(), "hl:timers:{hl}:pending");
        assert_eq!(
            keys.scratch("x").bucket(10),
            "hl:timers:{hl}:rebuild:x:tk:00a"
        );
    }

    #[test]
    fn prefixes_with_braces_are_refused() {
        assert!(Prefix::parse("a{b}").is_err());
        assert!(Prefix::parse("").is_err());
        assert!(Prefix::parse("hotline-test:1").is_ok());
    }
}
