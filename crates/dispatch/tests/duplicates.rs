//! One behaviour suite for every duplicate index backend (in-process, Redis, Redis Cluster).

mod support;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use hotline_core::{CategoryCode, Clock, DivisionCode, ManualClock, TicketId};
use hotline_dispatch::duplicates::{BUCKET_READ, LOOKUP_READ};
use hotline_dispatch::redis::duplicates::BUCKET_KEEP;
use hotline_dispatch::{DuplicateEntry, DuplicateIndex, DuplicateKey, RedisDuplicates};

const BANDS: usize = 50;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn key(division: &str, category: &str) -> DuplicateKey {
    DuplicateKey::new(
        DivisionCode::parse("division", division).unwrap(),
        CategoryCode::parse("category", category).unwrap(),
    )
}

fn lights() -> DuplicateKey {
    key("320508021019", "SQ.JTBL")
}

/// Bands of a text nothing else shares, bar the bands `shared` copies from `like`.
fn bands(seed: u64, like: &[u64], shared: &[usize]) -> Vec<u64> {
    let mut out: Vec<u64> = (0..BANDS as u64)
        .map(|i| seed.wrapping_mul(1_000_003).wrapping_add(i))
        .collect();
    for &band in shared {
        out[band] = like[band];
    }
    out
}

fn entry(key: DuplicateKey, minutes: i64, bands: Vec<u64>) -> DuplicateEntry {
    DuplicateEntry {
        ticket: TicketId::new(),
        key,
        created_at: t0() + Duration::minutes(minutes),
        bands,
    }
}

/// What a lookup reads of a crowded bucket: the newest [`BUCKET_READ`] of `crowd`, newest first.
fn newest(crowd: &[DuplicateEntry]) -> Vec<TicketId> {
    crowd
        .iter()
        .rev()
        .take(BUCKET_READ)
        .map(|e| e.ticket)
        .collect()
}

fn ids(found: Option<Vec<hotline_dispatch::Candidate>>) -> Vec<TicketId> {
    found
        .expect("the index is intact")
        .into_iter()
        .map(|c| c.ticket)
        .collect()
}

pub async fn an_index_never_built_refuses_lookups<T: DuplicateIndex>(index: T) {
    assert!(!index.is_intact().await.unwrap());
    let request = bands(1, &[], &[]);
    let found = index
        .candidates(&lights(), &request, t0(), 10)
        .await
        .unwrap();
    assert_eq!(found, None, "the caller must ask the store instead");
    index.rebuild(Vec::new()).await.unwrap();
    assert!(index.is_intact().await.unwrap());
    assert_eq!(
        index
            .candidates(&lights(), &request, t0(), 10)
            .await
            .unwrap(),
        Some(Vec::new())
    );
}

pub async fn a_ticket_sharing_a_band_is_found_and_one_sharing_none_is_not<T: DuplicateIndex>(
    index: T,
) {
    index.rebuild(Vec::new()).await.unwrap();
    let request = bands(1, &[], &[]);
    let similar = entry(lights(), 0, bands(2, &request, &[7]));
    let unrelated = entry(lights(), 1, bands(3, &request, &[]));
    index.put(similar.clone()).await.unwrap();
    index.put(unrelated.clone()).await.unwrap();
    let found = index
        .candidates(&lights(), &request, t0(), 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].ticket, similar.ticket);
    assert_eq!(found[0].created_at, similar.created_at);
    assert_eq!(found[0].shared_bands, 1);
    assert_eq!(index.len().await.unwrap(), 2);
}

pub async fn candidates_rank_by_shared_bands_then_newest_and_stop_at_the_limit<
    T: DuplicateIndex,
>(
    index: T,
) {
    index.rebuild(Vec::new()).await.unwrap();
    let request = bands(1, &[], &[]);
    let one_band_old = entry(lights(), 0, bands(2, &request, &[0]));
    let one_band_new = entry(lights(), 5, bands(3, &request, &[1]));
    let many_bands = entry(lights(), 1, bands(4, &request, &[2, 3, 4, 5]));
    for e in [&one_band_old, &one_band_new, &many_bands] {
        index.put(e.clone()).await.unwrap();
    }
    let found = index
        .candidates(&lights(), &request, t0(), 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        found.iter().map(|c| c.ticket).collect::<Vec<_>>(),
        vec![many_bands.ticket, one_band_new.ticket, one_band_old.ticket]
    );
    assert_eq!(found[0].shared_bands, 4);
    let top = index
        .candidates(&lights(), &request, t0(), 2)
        .await
        .unwrap();
    assert_eq!(ids(top), vec![many_bands.ticket, one_band_new.ticket]);
}

pub async fn tickets_created_before_the_window_are_left_out<T: DuplicateIndex>(index: T) {
    index.rebuild(Vec::new()).await.unwrap();
    let request = bands(1, &[], &[]);
    let old = entry(lights(), 0, bands(2, &request, &[0, 1]));
    let recent = entry(lights(), 10, bands(3, &request, &[0]));
    index.put(old.clone()).await.unwrap();
    index.put(recent.clone()).await.unwrap();
    // The window is inclusive: a ticket created exactly at `since` is in it.
    let since = t0() + Duration::minutes(10);
    let found = index
        .candidates(&lights(), &request, since, 10)
        .await
        .unwrap();
    assert_eq!(ids(found), vec![recent.ticket]);
    let found = index
        .candidates(&lights(), &request, t0(), 10)
        .await
        .unwrap();
    assert_eq!(ids(found), vec![old.ticket, recent.ticket]);
}

pub async fn another_territory_or_category_is_never_matched<T: DuplicateIndex>(index: T) {
    index.rebuild(Vec::new()).await.unwrap();
    let request = bands(1, &[], &[]);
    let every_band: Vec<usize> = (0..BANDS).collect();
    let street = entry(key("320508021000", "SQ.JTBL"), 0, request.clone());
    let other_category = entry(key("320508021019", "SQ.ZAFZ"), 0, request.clone());
    index.put(street).await.unwrap();
    index.put(other_category).await.unwrap();
    let found = index
        .candidates(&lights(), &bands(1, &request, &every_band), t0(), 10)
        .await
        .unwrap();
    assert_eq!(ids(found), Vec::<TicketId>::new());
}

pub async fn filing_again_under_another_key_moves_the_ticket<T: DuplicateIndex>(index: T) {
    index.rebuild(Vec::new()).await.unwrap();
    let request = bands(1, &[], &[]);
    let mut ticket = entry(lights(), 0, bands(2, &request, &[0, 1, 2]));
    index.put(ticket.clone()).await.unwrap();
    // Filing the same thing again changes nothing.
    index.put(ticket.clone()).await.unwrap();
    assert_eq!(index.len().await.unwrap(), 1);
    let corrected = key("320508021020", "SQ.JTBL");
    ticket.key = corrected.clone();
    index.put(ticket.clone()).await.unwrap();
    assert_eq!(
        ids(index
            .candidates(&lights(), &request, t0(), 10)
            .await
            .unwrap()),
        Vec::<TicketId>::new()
    );
    assert_eq!(
        ids(index
            .candidates(&corrected, &request, t0(), 10)
            .await
            .unwrap()),
        vec![ticket.ticket]
    );
    let filed = index
        .filed(&[ticket.ticket, TicketId::new()])
        .await
        .unwrap();
    assert_eq!(filed.len(), 1);
    assert_eq!(filed[&ticket.ticket].key, corrected);
    assert_eq!(filed[&ticket.ticket].created_at, ticket.created_at);
    assert_eq!(index.len().await.unwrap(), 1);
}

pub async fn a_removed_ticket_is_no_longer_found<T: DuplicateIndex>(index: T) {
    index.rebuild(Vec::new()).await.unwrap();
    let request = bands(1, &[], &[]);
    let closed = entry(lights(), 0, bands(2, &request, &[0, 1]));
    index.put(closed.clone()).await.unwrap();
    assert!(index.remove(closed.ticket).await.unwrap());
    assert!(!index.remove(closed.ticket).await.unwrap());
    assert_eq!(
        ids(index
            .candidates(&lights(), &request, t0(), 10)
            .await
            .unwrap()),
        Vec::<TicketId>::new()
    );
    assert!(index.filed(&[closed.ticket]).await.unwrap().is_empty());
    assert_eq!(index.len().await.unwrap(), 0);
}

/// What keeps a lookup's cost flat: a crowded bucket gives only its newest tickets.
pub async fn a_crowded_bucket_gives_only_its_newest_tickets<T: DuplicateIndex>(index: T) {
    index.rebuild(Vec::new()).await.unwrap();
    let request = bands(1, &[], &[]);
    // Newest first (out of order, as replicas would file them), then in creation order (as
    // one router files them: each goes first, and the oldest falls off a full bucket), under
    // two keys, more than a bucket keeps.
    let in_order = key("320508021020", "SQ.JTBL");
    for (key, reversed) in [(lights(), true), (in_order, false)] {
        let crowd: Vec<DuplicateEntry> = (0..(BUCKET_KEEP + 10) as i64)
            .map(|minute| {
                entry(
                    key.clone(),
                    minute,
                    bands(100 + minute as u64, &request, &[0]),
                )
            })
            .collect();
        let filing: Vec<&DuplicateEntry> = if reversed {
            crowd.iter().rev().collect()
        } else {
            crowd.iter().collect()
        };
        for e in filing {
            index.put(e.clone()).await.unwrap();
        }
        let found = ids(index.candidates(&key, &request, t0(), 1_000).await.unwrap());
        assert_eq!(
            found,
            newest(&crowd),
            "filed {}",
            if reversed {
                "newest first"
            } else {
                "oldest first"
            }
        );
    }
}

/// What keeps it flat when many buckets are crowded: [`LOOKUP_READ`] filings in all, read from
/// the least crowded buckets, so a ticket sharing a rare band is found behind full buckets.
pub async fn a_lookup_reads_its_least_crowded_buckets_first_and_a_bounded_total<
    T: DuplicateIndex,
>(
    index: T,
) {
    index.rebuild(Vec::new()).await.unwrap();
    let request = bands(1, &[], &[]);
    // Bands 0..crowded each hold BUCKET_READ newer tickets sharing that band alone: more than
    // the total bound can read.
    let crowded = LOOKUP_READ / BUCKET_READ + 2;
    let mut crowd = Vec::new();
    for band in 0..crowded {
        for n in 0..BUCKET_READ {
            let seed = 1_000 + (band * BUCKET_READ + n) as u64;
            crowd.push(entry(lights(), 60, bands(seed, &request, &[band])));
        }
    }
    // Older than all of them, in the last band, which nothing else shares.
    let rare = entry(lights(), 0, bands(2, &request, &[BANDS - 1]));
    index.put(rare.clone()).await.unwrap();
    for e in &crowd {
        index.put(e.clone()).await.unwrap();
    }
    let found = ids(index
        .candidates(&lights(), &request, t0(), 10_000)
        .await
        .unwrap());
    assert!(
        found.contains(&rare.ticket),
        "the rare band's ticket was not read"
    );
    assert_eq!(found.len(), LOOKUP_READ);
}

pub async fn rebuild_replaces_everything<T: DuplicateIndex>(index: T) {
    index.rebuild(Vec::new()).await.unwrap();
    let request = bands(1, &[], &[]);
    let stale = entry(lights(), 0, bands(2, &request, &[0]));
    index.put(stale.clone()).await.unwrap();
    let live = entry(lights(), 1, bands(3, &request, &[1]));
    let elsewhere = entry(key("320508021020", "SQ.JTBL"), 1, bands(4, &request, &[1]));
    index
        .rebuild(vec![live.clone(), elsewhere.clone()])
        .await
        .unwrap();
    assert_eq!(index.len().await.unwrap(), 2);
    assert_eq!(
        ids(index
            .candidates(&lights(), &request, t0(), 10)
            .await
            .unwrap()),
        vec![live.ticket]
    );
    assert!(index.filed(&[stale.ticket]).await.unwrap().is_empty());
    assert!(index.remove(live.ticket).await.unwrap());
    index.rebuild(Vec::new()).await.unwrap();
    assert_eq!(index.len().await.unwrap(), 0);
}

/// A rebuild fed page by page (as the router streams the store): lookups see the old index
/// until it finishes, then exactly what every page filed (a ticket filed twice keeps its last
/// entry); one dropped unfinished changes nothing.
pub async fn a_rebuild_fed_in_pages_is_seen_only_whole_once_finished<T: DuplicateIndex>(index: T) {
    index.rebuild(Vec::new()).await.unwrap();
    let request = bands(1, &[], &[]);
    let old = entry(lights(), 0, bands(2, &request, &[0]));
    index.put(old.clone()).await.unwrap();
    let first = entry(lights(), 1, bands(3, &request, &[1]));
    let second = entry(lights(), 2, bands(4, &request, &[2]));
    let mut moved = entry(lights(), 3, bands(5, &request, &[3]));
    let mut rebuild = index.start_rebuild().await.unwrap();
    rebuild
        .add(vec![first.clone(), moved.clone()])
        .await
        .unwrap();
    assert_eq!(
        ids(index
            .candidates(&lights(), &request, t0(), 10)
            .await
            .unwrap()),
        vec![old.ticket],
        "the old index until the new one is whole"
    );
    // A later page files a ticket again, under another key: its last entry wins.
    moved.key = key("320508021020", "SQ.JTBL");
    rebuild
        .add(vec![second.clone(), moved.clone()])
        .await
        .unwrap();
    rebuild.add(Vec::new()).await.unwrap();
    rebuild.finish().await.unwrap();
    assert_eq!(index.len().await.unwrap(), 3);
    assert_eq!(
        ids(index
            .candidates(&lights(), &request, t0(), 10)
            .await
            .unwrap()),
        vec![second.ticket, first.ticket],
        "every page's filings, and only theirs"
    );
    let filed = index.filed(&[moved.ticket, old.ticket]).await.unwrap();
    assert_eq!(filed.len(), 1, "{filed:?}");
    assert_eq!(filed[&moved.ticket].key, moved.key);
    assert_eq!(
        ids(index
            .candidates(&moved.key, &request, t0(), 10)
            .await
            .unwrap()),
        vec![moved.ticket]
    );

    // Dropped before finishing (its router died): the index stays as it was.
    let mut abandoned = index.start_rebuild().await.unwrap();
    abandoned.add(vec![old.clone()]).await.unwrap();
    drop(abandoned);
    assert_eq!(index.len().await.unwrap(), 3);
    assert!(index.filed(&[old.ticket]).await.unwrap().is_empty());
}

macro_rules! duplicate_suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            duplicate_suite!(@tests $make;
                an_index_never_built_refuses_lookups,
                a_ticket_sharing_a_band_is_found_and_one_sharing_none_is_not,
                candidates_rank_by_shared_bands_then_newest_and_stop_at_the_limit,
                tickets_created_before_the_window_are_left_out,
                another_territory_or_category_is_never_matched,
                filing_again_under_another_key_moves_the_ticket,
                a_removed_ticket_is_no_longer_found,
                a_crowded_bucket_gives_only_its_newest_tickets,
                a_lookup_reads_its_least_crowded_buckets_first_and_a_bounded_total,
                rebuild_replaces_everything,
                a_rebuild_fed_in_pages_is_seen_only_whole_once_finished,
            );
        }
    };
    (@tests $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                super::$name($make).await;
            }
        )+
    };
}

duplicate_suite!(memory, hotline_dispatch::MemoryDuplicates::new());
// A fresh key prefix per test: the Redis tests run in parallel on one server.
duplicate_suite!(redis, crate::support::redis_duplicates().await);
duplicate_suite!(redis_cluster, crate::support::cluster_duplicates().await);

/// Redis only: what a flushed Redis looks like to a replica, and that every replica sharing the
/// prefix sees the same filings.
#[tokio::test]
async fn replicas_share_one_index_and_a_flushed_one_asks_for_a_rebuild() {
    support::ensure_redis();
    let prefix = support::fresh_prefix();
    let url = support::redis_url();
    let a = RedisDuplicates::connect(&url, &prefix, "s1").await.unwrap();
    let b = RedisDuplicates::connect(&url, &prefix, "s1").await.unwrap();
    let other_scheme = RedisDuplicates::connect(&url, &prefix, "s2").await.unwrap();
    a.rebuild(Vec::new()).await.unwrap();
    let request = bands(1, &[], &[]);
    let filed_by_a = entry(lights(), 0, bands(2, &request, &[0]));
    a.put(filed_by_a.clone()).await.unwrap();
    assert_eq!(
        ids(b.candidates(&lights(), &request, t0(), 10).await.unwrap()),
        vec![filed_by_a.ticket]
    );
    // Another signature scheme is another index: never built, so not trusted.
    assert!(!other_scheme.is_intact().await.unwrap());
    support::flush_prefix(&prefix).await;
    assert!(!b.is_intact().await.unwrap());
    assert_eq!(
        b.candidates(&lights(), &request, t0(), 10).await.unwrap(),
        None
    );
}

/// The tickets a lookup for `request` in the lights key finds, from `t0()`.
async fn found(index: &RedisDuplicates, request: &[u64], limit: usize) -> Vec<TicketId> {
    ids(index
        .candidates(&lights(), request, t0(), limit)
        .await
        .unwrap())
}

/// Redis only: a rebuild swaps a new generation in (two keys: buckets and records); the one it
/// replaced stays until the sweep deletes it, lookups read the new one throughout, and the
/// sweep never touches the current one.
#[tokio::test]
async fn a_replaced_index_is_deleted_by_the_sweep_and_only_it() {
    support::ensure_redis();
    let prefix = support::fresh_prefix();
    let index = RedisDuplicates::connect(&support::redis_url(), &prefix, "s1")
        .await
        .unwrap();
    let request = bands(1, &[], &[]);
    let old: Vec<DuplicateEntry> = (0..20)
        .map(|i| entry(lights(), i, bands(100 + i as u64, &request, &[0])))
        .collect();
    index.rebuild(old.clone()).await.unwrap();
    let first_keys = support::keys_under(&prefix).await;
    assert_eq!(first_keys.len(), 3, "gen, buckets, records: {first_keys:?}");

    let new: Vec<DuplicateEntry> = (0..5)
        .map(|i| entry(lights(), 30 + i, bands(200 + i as u64, &request, &[0])))
        .collect();
    index.rebuild(new.clone()).await.unwrap();
    // Both generations are in Redis until swept (and the retired one's state), but lookups
    // see only the new one.
    assert_eq!(support::keys_under(&prefix).await.len(), 6);
    let mut expect: Vec<TicketId> = new.iter().rev().map(|e| e.ticket).collect();
    assert_eq!(found(&index, &request, 50).await, expect);

    let now = Utc::now();
    assert_eq!(index.sweep(now).await.unwrap(), 1);
    assert_eq!(index.sweep(now).await.unwrap(), 0, "nothing left to sweep");
    let left = support::keys_under(&prefix).await;
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(
        first_keys
            .iter()
            .all(|k| !left.contains(k) || k.ends_with(":gen")),
        "nothing of the old generation is left: {left:?}"
    );
    assert_eq!(index.len().await.unwrap(), 5);
    assert_eq!(found(&index, &request, 50).await, expect);
    let extra = entry(lights(), 40, bands(300, &request, &[0]));
    index.put(extra.clone()).await.unwrap();
    expect.insert(0, extra.ticket);
    assert_eq!(found(&index, &request, 50).await, expect);
}

/// Redis only: a lookup reads the generation it found current last time in the same round
/// trip as it checks it still is. After another replica rebuilt the index (and the sweep
/// deleted the generation this one remembered), the lookup reads the new one: never the empty
/// remains of the old.
#[tokio::test]
async fn a_lookup_follows_a_rebuild_done_by_another_replica() {
    support::ensure_redis();
    let prefix = support::fresh_prefix();
    let url = support::redis_url();
    let reader = RedisDuplicates::connect(&url, &prefix, "s1").await.unwrap();
    let rebuilder = RedisDuplicates::connect(&url, &prefix, "s1").await.unwrap();
    let request = bands(1, &[], &[]);
    let old = entry(lights(), 0, bands(2, &request, &[3]));
    rebuilder.rebuild(vec![old.clone()]).await.unwrap();
    assert_eq!(found(&reader, &request, 10).await, vec![old.ticket]);

    let new = entry(lights(), 5, bands(3, &request, &[4]));
    rebuilder.rebuild(vec![new.clone()]).await.unwrap();
    assert_eq!(rebuilder.sweep(Utc::now()).await.unwrap(), 1);
    assert_eq!(found(&reader, &request, 10).await, vec![new.ticket]);
    // And filings by either land where the other looks.
    let later = entry(lights(), 6, bands(4, &request, &[5]));
    reader.put(later.clone()).await.unwrap();
    assert_eq!(
        found(&rebuilder, &request, 10).await,
        vec![later.ticket, new.ticket]
    );
}

/// Redis only: a bucket keeps its newest `BUCKET_KEEP` filings. A lookup reads at most
/// `BUCKET_READ` of one, so the older ones only cost memory and time; once the newest are
/// taken out, the bucket holds what is left of its newest, not the ones it let go.
#[tokio::test]
async fn a_crowded_bucket_keeps_only_its_newest_filings() {
    support::ensure_redis();
    let index = support::redis_duplicates().await;
    index.rebuild(Vec::new()).await.unwrap();
    let request = bands(1, &[], &[]);
    let crowd: Vec<DuplicateEntry> = (0..BUCKET_KEEP as i64 + 5)
        .map(|i| entry(lights(), i, bands(1_000 + i as u64, &request, &[0])))
        .collect();
    for e in &crowd {
        index.put(e.clone()).await.unwrap();
    }
    // Every ticket is still filed (its other bands), and the newest are read first.
    assert_eq!(index.len().await.unwrap(), crowd.len());
    assert_eq!(found(&index, &request, 1_000).await, newest(&crowd));
    // Take out all but the 10 oldest the bucket kept: those 10 are what it holds.
    let kept_oldest = crowd.len() - BUCKET_KEEP;
    for e in &crowd[kept_oldest + 10..] {
        assert!(index.remove(e.ticket).await.unwrap());
    }
    let left: Vec<TicketId> = crowd[kept_oldest..kept_oldest + 10]
        .iter()
        .rev()
        .map(|e| e.ticket)
        .collect();
    assert_eq!(found(&index, &request, 1_000).await, left);
}

/// Redis only: a rebuild whose router died (dropped unfinished) is left alone while it could
/// still be alive, deleted once it has been silent for an hour; a rebuild given up that way
/// cannot swap itself in afterwards.
#[tokio::test]
async fn an_abandoned_rebuild_is_swept_after_an_hour_and_cannot_come_back() {
    support::ensure_redis();
    let prefix = support::fresh_prefix();
    // The heartbeats are stamped by the router's clock, which the sweep's `now` comes from.
    let clock = ManualClock::new(t0());
    let index = RedisDuplicates::connect(&support::redis_url(), &prefix, "s1")
        .await
        .unwrap()
        .with_clock(Arc::new(clock.clone()));
    let request = bands(1, &[], &[]);
    let live = entry(lights(), 0, bands(2, &request, &[0]));
    index.rebuild(vec![live.clone()]).await.unwrap();
    let before = support::keys_under(&prefix).await;

    let mut slow = index.start_rebuild().await.unwrap();
    clock.advance(Duration::minutes(30));
    slow.add(vec![entry(lights(), 1, bands(3, &request, &[0]))])
        .await
        .unwrap();
    // An hour after its start but not after its last page: alive.
    let last_page = clock.now();
    assert_eq!(
        index.sweep(t0() + Duration::minutes(61)).await.unwrap(),
        0,
        "still alive"
    );
    assert_eq!(
        index
            .sweep(last_page + Duration::minutes(59))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        index
            .sweep(last_page + Duration::minutes(61))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        support::keys_under(&prefix).await,
        before,
        "only the live index is left"
    );
    assert!(
        slow.add(vec![entry(lights(), 2, bands(4, &request, &[0]))])
            .await
            .is_err(),
        "its filings would be deleted under it"
    );
    assert!(slow.finish().await.is_err());
    assert_eq!(found(&index, &request, 10).await, vec![live.ticket]);
}

/// Redis only: a router upgraded from the layout of one big set finds no generation, rebuilds,
/// and deletes the old layout's keys as it swaps the first generation in.
#[tokio::test]
async fn the_layout_before_generations_is_deleted_by_the_first_rebuild() {
    support::ensure_redis();
    let prefix = support::fresh_prefix();
    let client = ::redis::Client::open(support::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let base = format!("{prefix}:dup:{{{prefix}}}:s1");
    ::redis::pipe()
        .cmd("ZADD")
        .arg(format!("{base}:buckets"))
        .arg(0)
        .arg("old-member")
        .cmd("HSET")
        .arg(format!("{base}:tickets"))
        .arg("t")
        .arg("r")
        .cmd("SET")
        .arg(format!("{base}:built"))
        .arg(1)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let index = RedisDuplicates::connect(&support::redis_url(), &prefix, "s1")
        .await
        .unwrap();
    assert!(
        !index.is_intact().await.unwrap(),
        "the old mark is not trusted"
    );
    index.rebuild(Vec::new()).await.unwrap();
    assert!(index.is_intact().await.unwrap());
    assert_eq!(
        support::keys_under(&prefix).await,
        vec![format!("{base}:gen")]
    );
}
