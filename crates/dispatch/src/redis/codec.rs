//! How queue entries, leases and timers are written into Redis values, and read back.
//!
//! # Queue order as a score
//! A station's `ready` ZSET must order by urgency (desc), then due (earliest first, none last),
//! then arrival. Three fields do not fit a double's 53-bit mantissa, so the order is composite:
//! - score = `band * 2^42 + due_ms`, where band is 0 for critical, 1 urgent, 2 normal, and a
//!   missing due is `2^42 - 1` (after every real deadline). Deadlines are clamped to
//!   `[0, 2^42 - 2]` ms (1970 .. 2109). The largest score is `3 * 2^42 < 2^53`, so it is exact.
//! - equal scores are ordered by member bytes, and the member is `<tag><ticket>`, where the tag
//!   is the entry's `enqueued_at` in microseconds as [`TAG_LEN`] base-62 digits in ASCII order
//!   ([`order_tag`]): first come breaks ties, then the ticket id. The order comes from the entry
//!   alone, so a rebuild from the store reproduces it exactly (an arrival counter would not).
//!
//! # Times
//! Entry times (`due`, `enqueued_at`) round-trip exactly: `<unix seconds>[.<nanos>]`. Lease
//! expiries are integer microseconds (exact in Lua's doubles); a lease read back is truncated to
//! the microsecond.
//!
//! # A ticket's timers
//! The membership bucket stores, per ticket, just enough to rebuild each [`Timer::member`]:
//! groups `<deadline_ms>=<clock letter><step letter>...` joined by `,` (one group per deadline),
//! e.g. `1772442000000=rwrbru` for three resolution steps. The Lua scripts decode it with the
//! letter tables from [`lua_prelude`], generated from the same functions, so they cannot drift.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use hotline_core::{StationId, TicketId, Urgency};

use crate::{QueueEntry, Timer, TimerClock, TimerStep};

const DUE_BITS: u32 = 42;
const NO_DUE: i64 = (1 << DUE_BITS) - 1;

/// The ready-set score of an entry (see the module docs).
pub fn queue_score(urgency: Urgency, due: Option<DateTime<Utc>>) -> i64 {
    let band = match urgency {
        Urgency::Critical => 0,
        Urgency::Urgent => 1,
        Urgency::Normal => 2,
    };
    let due_key = due.map_or(NO_DUE, |d| d.timestamp_millis().clamp(0, NO_DUE - 1));
    (band << DUE_BITS) + due_key
}

/// An exact, compact text form of a time: `<secs>` or `<secs>.<nanos>`.
pub fn time_out(at: DateTime<Utc>) -> String {
    let nanos = at.timestamp_subsec_nanos();
    if nanos == 0 {
        at.timestamp().to_string()
    } else {
        format!("{}.{nanos:09}", at.timestamp())
    }
}

pub fn time_in(raw: &str) -> Option<DateTime<Utc>> {
    let (secs, nanos) = match raw.split_once('.') {
        Some((s, n)) if n.len() == 9 => (s.parse().ok()?, n.parse().ok()?),
        Some(_) => return None,
        None => (raw.parse().ok()?, 0),
    };
    Utc.timestamp_opt(secs, nanos).single()
}

pub fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub fn from_micros(us: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
}

/// Width of [`order_tag`]: 62^9 µs is about 429 years after 1970.
pub const TAG_LEN: usize = 9;

/// Digits in ASCII order, so that comparing tags byte by byte compares the numbers.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The tie-break prefix of a ready-set member (see the module docs): `enqueued_at` in µs,
/// clamped to what [`TAG_LEN`] digits hold.
pub fn order_tag(enqueued_at: DateTime<Utc>) -> String {
    const MAX: i64 = 62_i64.pow(TAG_LEN as u32) - 1;
    let mut n = micros(enqueued_at).clamp(0, MAX);
    let mut digits = [b'0'; TAG_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(n % 62) as usize];
        n /= 62;
    }
    digits.iter().map(|&b| b as char).collect()
}

/// The stored value of a queued ticket in its station's `entries`:
/// `<tag>|<urgency>|<due>|<enqueued_at>!<version>`. A claim appends `#<until µs>|<holder>` (see
/// [`split_lease`]); the tag rebuilds the ready-set member. The station is the key's. The
/// version (the ticket's in the store) is the guard against updates landing out of order; the
/// scripts compare entries without it, so a newer version of the same entry keeps its lease.
pub fn entry_value(entry: &QueueEntry) -> String {
    let mut value = order_tag(entry.enqueued_at);
    value.push_str(&entry_tail(entry));
    value
}

/// An entry value without and with its lease: `(entry, Some((until µs, holder)))`. A claimed
/// value ends in `#<until µs>|<ready score>|<holder>` (the score puts it back in line when the
/// lease runs out).
pub fn split_lease(value: &str) -> Option<(&str, Option<(i64, &str)>)> {
    match value.split_once('#') {
        None => Some((value, None)),
        Some((entry, lease)) => {
            let (until, rest) = lease.split_once('|')?;
            let (_score, holder) = rest.split_once('|')?;
            Some((entry, Some((until.parse().ok()?, holder))))
        }
    }
}

/// The part of an entry after its tag: `|<urgency>|<due>|<enqueued_at>!<version>`. The
/// arrival message prepends the ticket.
pub fn entry_tail(entry: &QueueEntry) -> String {
    format!(
        "|{}|{}|{}!{}",
        entry.urgency.code(),
        entry.due.map(time_out).unwrap_or_default(),
        time_out(entry.enqueued_at),
        entry.version
    )
}

/// A tombstone in a station's `entries`: `~<version>`, left by a removal so that an older
/// update arriving late cannot put the ticket back (see `queue_ops.lua`).
pub fn is_tombstone(value: &str) -> bool {
    value.starts_with('~')
}

/// Parses `<urgency>|<due>|<enqueued_at>!<version>` (the tail without its leading `|`).
fn entry_fields(ticket: TicketId, station: StationId, rest: &str) -> Option<QueueEntry> {
    let (rest, version) = rest.rsplit_once('!')?;
    let version = version.parse().ok()?;
    let mut parts = rest.split('|');
    let urgency = Urgency::parse("urgency", parts.next()?).ok()?;
    let due = match parts.next()? {
        "" => None,
        raw => Some(time_in(raw)?),
    };
    let enqueued_at = time_in(parts.next()?)?;
    parts.next().is_none().then_some(QueueEntry {
        ticket,
        station,
        urgency,
        due,
        enqueued_at,
        version,
    })
}

/// Parses a stored entry value `<tag>|<urgency>|<due>|<enqueued_at>!<version>` (its lease
/// split off) of a ticket on `station`.
pub fn entry_in(ticket: TicketId, station: &StationId, value: &str) -> Option<QueueEntry> {
    let rest = value.get(TAG_LEN..)?.strip_prefix('|')?;
    entry_fields(ticket, station.clone(), rest)
}

/// Parses an arrival message `<ticket>|<urgency>|<due>|<enqueued_at>!<version>`, heard on
/// `station`'s channel.
pub fn arrival_in(station: &StationId, message: &str) -> Option<QueueEntry> {
    let (ticket, rest) = message.split_once('|')?;
    entry_fields(ticket_in(ticket)?, station.clone(), rest)
}

pub fn ticket_in(raw: &str) -> Option<TicketId> {
    uuid::Uuid::try_parse(raw).ok().map(TicketId::from_uuid)
}

/// The ticket of a ready-set member (`<tag><ticket:32>`), and its hash field.
pub fn member_ticket(member: &str) -> Option<(TicketId, &str)> {
    let field = member.get(TAG_LEN..)?;
    Some((ticket_in(field)?, field))
}

pub const CLOCKS: [TimerClock; 4] = [
    TimerClock::SignFor,
    TimerClock::FirstContact,
    TimerClock::Resolution,
    TimerClock::Callback,
];

pub const STEPS: [TimerStep; 6] = [
    TimerStep::Warning,
    TimerStep::Breach,
    TimerStep::Urge,
    TimerStep::Supervise,
    TimerStep::Publish,
    TimerStep::Widen,
];

pub fn clock_letter(clock: TimerClock) -> char {
    match clock {
        TimerClock::SignFor => 's',
        TimerClock::FirstContact => 'f',
        TimerClock::Resolution => 'r',
        TimerClock::Callback => 'c',
    }
}

pub fn step_letter(step: TimerStep) -> char {
    match step {
        TimerStep::Warning => 'w',
        TimerStep::Breach => 'b',
        TimerStep::Urge => 'u',
        TimerStep::Supervise => 's',
        TimerStep::Publish => 'p',
        TimerStep::Widen => 'x',
    }
}

/// The compact per-ticket membership value of `timers` (all of one ticket).
pub fn ticket_timers_value(timers: &[Timer]) -> String {
    let mut groups: BTreeMap<i64, String> = BTreeMap::new();
    for timer in timers {
        let codes = groups.entry(timer.deadline_ms).or_default();
        codes.push(clock_letter(timer.clock));
        codes.push(step_letter(timer.step));
    }
    groups
        .into_iter()
        .map(|(deadline, codes)| format!("{deadline}={codes}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Lua prepended to the queue scripts: the tag width, from the same constant as [`order_tag`].
pub fn queue_lua_prelude() -> String {
    format!(
        "-- generated by codec::queue_lua_prelude\nlocal TAG_LEN = {TAG_LEN}\nlocal GONE_KEEP_US = {}\n",
        GONE_KEEP.as_micros()
    )
}

/// How long a removal's tombstone is kept: longer than any update can plausibly be in flight
/// (a request's own deadline is seconds; a replica cut off longer has its connection reset and
/// the router re-reads the store before writing again).
pub const GONE_KEEP: std::time::Duration = std::time::Duration::from_secs(600);

/// Lua shared by the timer scripts: the letter tables and `members_of(ticket, value)`, which
/// expands a membership value back into [`Timer::member`] strings.
pub fn lua_prelude() -> String {
    let clocks: Vec<String> = CLOCKS
        .iter()
        .map(|c| format!("{}='{}'", clock_letter(*c), c.code()))
        .collect();
    let steps: Vec<String> = STEPS
        .iter()
        .map(|s| format!("{}='{}'", step_letter(*s), s.code()))
        .collect();
    format!(
        r#"-- generated by codec::lua_prelude
local CLOCK = {{{}}}
local STEP = {{{}}}
local function members_of(ticket, value)
  local out = {{}}
  for deadline, codes in string.gmatch(value, '(%-?%d+)=(%a+)') do
    for i = 1, #codes, 2 do
      out[#out + 1] = ticket .. '|' .. CLOCK[string.sub(codes, i, i)] .. '|'
        .. STEP[string.sub(codes, i + 1, i + 1)] .. '|' .. deadline
    end
  end
  return out
end
"#,
        clocks.join(", "),
        steps.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use std::collections::HashSet;

    #[test]
    fn scores_order_urgency_then_due_then_no_due() {
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let order = [
            queue_score(Urgency::Critical, None),
            queue_score(Urgency::Urgent, Some(t)),
            queue_score(Urgency::Normal, Some(t)),
            queue_score(Urgency::Normal, Some(t + Duration::milliseconds(1))),
            queue_score(Urgency::Normal, None),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert!(order[4] < 1 << 53);
        // Exact as a double.
        assert_eq!(order[3] as f64 as i64, order[3]);
    }

    #[test]
    fn tags_sort_as_the_times_they_encode() {
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let times = [
            DateTime::<Utc>::from_timestamp(-5, 0).unwrap(),
            DateTime::<Utc>::UNIX_EPOCH,
            t,
            t + Duration::microseconds(1),
            t + Duration::microseconds(61),
            t + Duration::microseconds(62),
            t + Duration::days(365 * 300),
        ];
        let tags: Vec<String> = times.iter().map(|&at| order_tag(at)).collect();
        assert!(tags.iter().all(|tag| tag.len() == TAG_LEN));
        assert_eq!(tags[0], tags[1], "before 1970 clamps to the first tag");
        assert!(tags[1..].windows(2).all(|w| w[0] < w[1]), "{tags:?}");
        // Sub-microsecond differences tie (the ticket id breaks them).
        assert_eq!(order_tag(t), order_tag(t + Duration::nanoseconds(999)));
    }

    #[test]
    fn leases_split_off_entry_values() {
        let entry = QueueEntry {
            ticket: TicketId::new(),
            station: StationId::parse("s", "3205-css").unwrap(),
            urgency: Urgency::Normal,
            due: None,
            enqueued_at: Utc::now(),
            version: 7,
        };
        let value = entry_value(&entry);
        assert!(value.ends_with("!7"), "{value}");
        assert_eq!(split_lease(&value), Some((value.as_str(), None)));
        let leased = format!("{value}#1772442000000000|13194139533312|li.wang");
        assert_eq!(
            split_lease(&leased),
            Some((value.as_str(), Some((1_772_442_000_000_000, "li.wang"))))
        );
        assert_eq!(
            entry_in(entry.ticket, &entry.station, &value),
            Some(entry.clone())
        );
    }

    #[test]
    fn times_round_trip_exactly() {
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        for at in [
            t,
            t + Duration::nanoseconds(123_456_789),
            t + Duration::microseconds(5),
        ] {
            assert_eq!(time_in(&time_out(at)), Some(at));
        }
        assert_eq!(time_in("12.5"), None);
    }

    #[test]
    fn arrival_messages_parse_back_into_the_entry() {
        let entry = QueueEntry {
            ticket: TicketId::new(),
            station: StationId::parse("s", "3205-css").unwrap(),
            urgency: Urgency::Urgent,
            due: None,
            enqueued_at: Utc::now(),
            version: 12,
        };
        let message = format!("{}{}", entry.ticket.as_uuid().simple(), entry_tail(&entry));
        assert_eq!(arrival_in(&entry.station, &message), Some(entry));
    }

    #[test]
    fn timer_letters_are_unique() {
        let clocks: HashSet<char> = CLOCKS.iter().map(|c| clock_letter(*c)).collect();
        let steps: HashSet<char> = STEPS.iter().map(|s| step_letter(*s)).collect();
        assert_eq!(clocks.len(), CLOCKS.len());
        assert_eq!(steps.len(), STEPS.len());
    }

    #[test]
    fn ticket_values_group_steps_by_deadline() {
        let ticket = TicketId::new();
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let d = t + Duration::hours(8);
        let timers = vec![
            Timer::new(ticket, TimerClock::Resolution, TimerStep::Warning, t, d),
            Timer::new(ticket, TimerClock::Resolution, TimerStep::Breach, d, d),
            Timer::new(ticket, TimerClock::SignFor, TimerStep::Widen, t, t),
        ];
        let value = ticket_timers_value(&timers);
        assert_eq!(
            value,
            format!("{}=sx,{}=rwrb", t.timestamp_millis(), d.timestamp_millis())
        );
        assert!(value.len() <= 64, "fits a listpack entry: {value}");
    }
}
