//! Every Redis key and channel name the Redis backends use, built in this one file.
//!
//! # Layout (`P` is the key prefix given at connect time)
//!
//! Station queues: every key of a station carries the station as its hash tag (`{S}`), so one
//! station's keys share a Redis Cluster slot and each operation on a station is one script on
//! one slot:
//!
//! | key | type | content |
//! |---|---|---|
//! | `P:q:{S}:ready` | ZSET | unclaimed tickets: member `<tag><ticket:32 hex>`, score = [`queue_score`](super::codec::queue_score); tag = [`order_tag`](super::codec::order_tag) |
//! | `P:q:{S}:claimed` | ZSET | claimed tickets: member as in `ready`, score = lease expiry (µs), for the lease sweep |
//! | `P:q:{S}:entries` | HASH | ticket -> `<tag>\|<urgency>\|<due>\|<enqueued_at>`, then `#<until µs>\|<ready score>\|<holder>` while claimed |
//! | `P:arrivals:{S}` | pub/sub channel | `<ticket>\|<urgency>\|<due>\|<enqueued_at>`, subscribed while S is watched |
//! | `P:stations` | SET | every station that has had a ticket (the lease sweep and a rebuild walk it) |
//! | `P:built:v5` | STRING | set by a rebuild; missing = flushed, or written by an older layout |
//!
//! A ticket's entry and its lease are one field of its station's `entries`: an enqueue (`HSETNX`
//! is its check), a claim, a removal or a lease lookup each read or write that one field. A
//! claim moves the member from `ready` to `claimed` (its ready score kept in the lease), so taking
//! the next ticket is a `ZPOPMIN` however many tickets the station's staff hold.
//! Nothing maps a ticket to its station: the store knows where each ticket is queued, so the
//! router names the station ([`crate::Queue::remove`], [`crate::Queue::lease`]) or the station
//! it moves from ([`crate::Queue::enqueue`]), and Redis keeps no cross-slot index.
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
//! The duplicate index, one hash tag per prefix (`{P}`) like the timers, because filing a
//! ticket must drop its old filing (maybe another key) and add the new one atomically; `V` is
//! the signature scheme (`hotline_routing::minhash::SCHEME`), so routers computing other
//! signatures never share an index. It lives in generations `G` (8 hex digits): a rebuild
//! fills a new one, then names it current; the one it replaced is retired and deleted by the
//! next sweep (`scripts/dup_prelude.lua`):
//!
//! | key | type | content |
//! |---|---|---|
//! | `P:dup:{P}:V:gen` | STRING | the current generation; missing = flushed or never built |
//! | `P:dup:{P}:V:gens` | HASH | generation -> `b:<heartbeat ms>` while a rebuild fills it, `r` once retired |
//! | `P:dup:{P}:V:g:G:t` | HASH | ticket (16 raw bytes) -> its record: bucket count, rev, buckets, `division\|category` |
//! | `P:dup:{P}:V:g:G:b` | HASH | bucket (8 raw bytes) -> its newest filings, packed `<rev:8><ticket:16>` ascending (rev = u64::MAX - created ms: newest first) |
//!
//! The per-ticket membership is bucketed by the last three hex digits of the ticket id (random
//! bits in a UUIDv7) so each bucket stays a small listpack-encoded hash (<= 512 entries up to ~2M
//! tickets with timers): ~60 bytes per ticket instead of ~120 for one big hash table.
//!
//! # Redis Cluster
//! Every command and script touches one slot. Enqueue, claim, remove, list, the lease sweep and
//! a station's rebuild each touch one station's keys. A move between two stations (return,
//! sub-dispatch, widening) is a put on the new station, then a removal from the old one: each is
//! one slot and safe to retry, and the versions they carry decide which of two replicas'
//! updates stands. The timer keys all sit in the prefix's one slot. `P:stations` and
//! `P:built:v5` are single-key commands; a rebuild finds stray station keys by `SCAN` on every
//! primary.

use hotline_core::TicketId;

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

/// Keys an older layout kept per station (an entry hash, a lease hash, an arrival counter): a
/// rebuild deletes them so an upgraded Redis does not keep them forever.
pub fn retired_station_keys(prefix: &Prefix, station: &str) -> [String; 3] {
    let base = format!("{}:q:{{{station}}}", prefix.as_str());
    [
        format!("{base}:entry"),
        format!("{base}:lease"),
        format!("{base}:seq"),
    ]
}

/// Queue keys under one prefix. The prefix-wide names are built once.
#[derive(Debug, Clone)]
pub struct QueueKeys {
    prefix: Prefix,
    stations: String,
    built: String,
}

/// One station's keys, in the order the queue scripts take them as KEYS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationKeys {
    pub ready: String,
    pub entries: String,
    pub claimed: String,
    pub gone: String,
}

impl StationKeys {
    pub fn all(&self) -> [&str; 4] {
        [&self.ready, &self.entries, &self.claimed, &self.gone]
    }
}

impl QueueKeys {
    pub fn new(prefix: Prefix) -> Self {
        let p = prefix.as_str();
        Self {
            stations: format!("{p}:stations"),
            built: format!("{p}:built:v5"),
            prefix,
        }
    }

    /// The station's keys (its hash tag the station).
    pub fn station(&self, station: &str) -> StationKeys {
        let base = format!("{}:q:{{{station}}}", self.prefix.as_str());
        StationKeys {
            ready: format!("{base}:ready"),
            entries: format!("{base}:entries"),
            claimed: format!("{base}:claimed"),
            gone: format!("{base}:gone"),
        }
    }

    /// A rebuild's scratch `ready` and `entries` for `station` (its hash tag, so the swap is
    /// one slot).
    pub fn scratch(&self, station: &str, token: &str) -> [String; 2] {
        let base = format!("{}:q:{{{station}}}:rebuild:{token}", self.prefix.as_str());
        [format!("{base}:ready"), format!("{base}:entries")]
    }

    /// A `SCAN MATCH` pattern for every station key (of this layout and the older ones).
    pub fn station_pattern(&self) -> String {
        format!("{}:q:{{*}}:*", self.prefix.as_str())
    }

    /// The station a station key belongs to.
    pub fn station_of(&self, key: &str) -> Option<String> {
        let rest = key
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(":q:{")?;
        let (station, _) = rest.split_once("}:")?;
        (!station.is_empty()).then(|| station.to_owned())
    }

    /// Stations that have had a ticket (each replica re-adds a busy station every second).
    pub fn stations(&self) -> &str {
        &self.stations
    }

    /// Prefix-wide keys of older layouts (a ticket hash, a lease index, a ticket -> station
    /// index, built markers): a rebuild deletes them so an upgraded Redis does not keep them.
    pub fn retired(&self) -> [String; 7] {
        let p = self.prefix.as_str();
        [
            format!("{p}:tickets"),
            format!("{p}:lease-expiry"),
            format!("{p}:ticket-station"),
            format!("{p}:built"),
            format!("{p}:built:v2"),
            format!("{p}:built:v3"),
            format!("{p}:built:v4"),
        ]
    }

    /// The older layouts' ticket hashes, whose values name the stations they used.
    pub fn retired_ticket_indexes(&self) -> [String; 2] {
        let p = self.prefix.as_str();
        [format!("{p}:tickets"), format!("{p}:ticket-station")]
    }

    pub fn retired_station_keys(&self, station: &str) -> [String; 3] {
        retired_station_keys(&self.prefix, station)
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

/// Duplicate-index keys under one prefix and signature scheme (the layout in the module docs).
#[derive(Debug, Clone)]
pub struct DuplicateKeys {
    base: String,
}

impl DuplicateKeys {
    pub fn new(prefix: &Prefix, scheme: &Prefix) -> Self {
        let p = prefix.as_str();
        Self {
            base: format!("{p}:dup:{{{p}}}:{}", scheme.as_str()),
        }
    }

    /// Names the current generation.
    pub fn gen(&self) -> String {
        format!("{}:gen", self.base)
    }

    /// The generations being built or swept, with their state.
    pub fn gens(&self) -> String {
        format!("{}:gens", self.base)
    }

    /// What every generation's keys start with (the scripts append the generation).
    pub fn root(&self) -> String {
        format!("{}:g:", self.base)
    }

    /// Generation `gen`'s hash of buckets (as the scripts name it: root, gen, `:b`).
    pub fn buckets_of(&self, gen: &str) -> String {
        format!("{}:g:{gen}:b", self.base)
    }

    /// The keys of the layout before generations (one set of every filing, a hash of records,
    /// a built mark): a router upgraded in place deletes them when it swaps its first
    /// generation in.
    pub fn legacy(&self) -> [String; 3] {
        ["buckets", "tickets", "built"].map(|name| format!("{}:{name}", self.base))
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
    use hotline_core::StationId;

    #[test]
    fn station_keys_carry_the_station_as_hash_tag() {
        let keys = QueueKeys::new(Prefix::parse("hl").unwrap());
        let station = StationId::parse("s", "320505001001-css").unwrap();
        assert_eq!(
            keys.station(station.as_str()).all(),
            [
                "hl:q:{320505001001-css}:ready",
                "hl:q:{320505001001-css}:entries",
                "hl:q:{320505001001-css}:claimed",
                "hl:q:{320505001001-css}:gone"
            ]
        );
        assert_eq!(keys.stations(), "hl:stations");
        assert_eq!(
            keys.station_of("hl:q:{320505001001-css}:claimed")
                .as_deref(),
            Some("320505001001-css")
        );
        assert_eq!(keys.station_of("hl:tickets"), None);
        assert_eq!(
            keys.arrivals_channel(station.as_str()),
            "hl:arrivals:{320505001001-css}"
        );
        assert_eq!(
            keys.retired_station_keys(station.as_str()),
            [
                "hl:q:{320505001001-css}:entry".to_owned(),
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
    fn duplicate_keys_share_the_prefix_hash_tag_in_every_generation() {
        let keys = DuplicateKeys::new(
            &Prefix::parse("hl").unwrap(),
            &Prefix::parse("mh1-bigram-50x2").unwrap(),
        );
        assert_eq!(keys.gen(), "hl:dup:{hl}:mh1-bigram-50x2:gen");
        assert_eq!(keys.gens(), "hl:dup:{hl}:mh1-bigram-50x2:gens");
        // The scripts append `<generation>:t` and `<generation>:b`: the hash tag stays `{hl}`.
        assert_eq!(keys.root(), "hl:dup:{hl}:mh1-bigram-50x2:g:");
        assert_eq!(keys.legacy()[0], "hl:dup:{hl}:mh1-bigram-50x2:buckets");
    }

    #[test]
    fn prefixes_with_braces_are_refused() {
        assert!(Prefix::parse("a{b}").is_err());
        assert!(Prefix::parse("").is_err());
        assert!(Prefix::parse("hotline-test:1").is_ok());
    }
}
