//! Duplicate-index lookups at 1,000 and 100,000 live tickets in one key: is the cost flat?
//!
//! Compares, per backend (in-process; Redis when one answers), the time of one lookup
//! (`DuplicateIndex::candidates` with the router's bounds) and how many candidates it hands to
//! the exact check, at both sizes; plus the cost of signing a request, and of what the index
//! replaces, comparing the request exactly with every live ticket of the key. Planted
//! near-copies of filed tickets check that the bounds keep finding duplicates at size.
//!
//! Two kinds of live tickets, from the civic messages (`../shared/data/civic/train.csv`):
//! - `markov`: 30-120 characters drawn from the messages' character bigrams (a first-order
//!   chain): the common words of complaints at their real frequencies, no two texts about the
//!   same matter. The background a lookup must not pay for.
//! - `clauses`: three to six clauses of random messages each. With ~60,000 clauses, 100,000
//!   such texts reuse each clause several times, so a request shares whole clauses with more
//!   tickets the more there are: the crowded case, where the per-bucket read bound is reached.
//!
//! A lookup reads at most `LOOKUP_READ` (128) filings, from its least crowded buckets (before,
//! `bands x BUCKET_READ` = 1,600, so its cost rose with the live tickets until every bucket it
//! read was full); the exact scan it replaces keeps growing.
//!
//! Measured 2026-12-06 on the 2-core build machine (shared, so ±30 %), µs per lookup,
//! in-process / Redis (one Redis on localhost, a round trip included), markov texts, before
//! the total bound:
//! 1,000 live: 2.3 / 191; 10,000: 7.9 / 447; 100,000: 31 / 1,254; 300,000: 46 / (not run).
//! Candidates handed to the exact check: 3.1, 15.8, 30.0, 31.6. Planted re-posts found: all.
//! The exact scan of every live ticket: 2.0 ms, 20 ms, 342 ms, 1,321 ms. Signing a request:
//! 13-20 µs. Redis memory: ~7.7-8.2 KB per live ticket.
//!
//! With the Redis layout of 2026-12-06 (two hashes per generation: bucket -> packed filings,
//! one HMGET a lookup), same machine, idle, µs per lookup in process / Redis: markov 1,000
//! live 1.7 / 135; 10,000: 5.1 / 154; 100,000: 12.9 / 265; clauses 1.7 / 145, 6.2 / 152,
//! 15.8 / 205. Rebuild of 100,000: 14 s. Redis memory: 4.3-5.1 KB per live ticket. Planted
//! re-posts found: all.
//!
//! Run: `cargo run --release -p hotline-dispatch --example dup_index_bench`
//! (`HOTLINE_BENCH_REDIS_URL`, default database 15 of the local Redis; `--no-redis` to skip it).

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, TimeZone, Utc};
use hotline_core::{CategoryCode, DivisionCode, TicketId};
use hotline_dispatch::duplicates::VERIFY_LIMIT;
use hotline_dispatch::{
    DuplicateEntry, DuplicateIndex, DuplicateKey, MemoryDuplicates, RedisDuplicates,
};
use hotline_routing::{minhash, similarity, DuplicateSettings};

const TRAIN_CSV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/civic/train.csv"
);
const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 300_000];
/// Redis holds ~8 KB per filed ticket: the largest size runs in process only.
const REDIS_UP_TO: usize = 100_000;
const LOOKUPS: usize = 2_000;
const PLANTED: usize = 200;

struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize % n
    }
}

fn clauses() -> Vec<String> {
    let mut reader = csv::Reader::from_path(TRAIN_CSV)
        .unwrap_or_else(|e| panic!("{TRAIN_CSV} (the shared data): {e}"));
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.unwrap();
        for clause in record[0].split(['，', '。', '！', '？', '；', ',', '.', ';', '\n']) {
            if clause.chars().count() >= 6 {
                out.push(clause.to_owned());
            }
        }
    }
    out
}

/// Which characters follow which in the messages (with repeats: a weighted choice).
fn chain() -> (Vec<char>, std::collections::HashMap<char, Vec<char>>) {
    let mut reader = csv::Reader::from_path(TRAIN_CSV)
        .unwrap_or_else(|e| panic!("{TRAIN_CSV} (the shared data): {e}"));
    let mut next: std::collections::HashMap<char, Vec<char>> = Default::default();
    let mut starts = Vec::new();
    for record in reader.records() {
        let chars: Vec<char> = record.unwrap()[0].chars().collect();
        if let Some(first) = chars.first() {
            starts.push(*first);
        }
        for pair in chars.windows(2) {
            next.entry(pair[0]).or_default().push(pair[1]);
        }
    }
    (starts, next)
}

fn markov(
    (starts, next): &(Vec<char>, std::collections::HashMap<char, Vec<char>>),
    rng: &mut Lcg,
) -> String {
    let len = 30 + rng.below(91);
    let mut ch = starts[rng.below(starts.len())];
    let mut out = String::new();
    for _ in 0..len {
        out.push(ch);
        ch = match next.get(&ch) {
            Some(following) => following[rng.below(following.len())],
            None => starts[rng.below(starts.len())],
        };
    }
    out
}

fn text(clauses: &[String], rng: &mut Lcg) -> String {
    let parts = 3 + rng.below(4);
    (0..parts)
        .map(|_| clauses[rng.below(clauses.len())].as_str())
        .collect::<Vec<_>>()
        .join("，")
}

/// A re-post: the same text with a clause of another message added and a date in front.
fn repost(original: &str, clauses: &[String], rng: &mut Lcg) -> String {
    format!(
        "3月{}日：{original}，{}",
        1 + rng.below(28),
        clauses[rng.below(clauses.len())]
    )
}

struct Run {
    per_lookup: StdDuration,
    candidates: f64,
    planted_found: usize,
}

async fn measure(
    index: &dyn DuplicateIndex,
    key: &DuplicateKey,
    queries: &[(Vec<u64>, Option<TicketId>)],
    since: chrono::DateTime<Utc>,
) -> Run {
    let mut candidates = 0usize;
    let mut planted_found = 0;
    let started = Instant::now();
    for (bands, planted) in queries {
        let found = index
            .candidates(key, bands, since, VERIFY_LIMIT)
            .await
            .unwrap()
            .expect("built");
        candidates += found.len();
        if let Some(original) = planted {
            if found.iter().any(|c| c.ticket == *original) {
                planted_found += 1;
            }
        }
    }
    Run {
        per_lookup: started.elapsed() / queries.len() as u32,
        candidates: candidates as f64 / queries.len() as f64,
        planted_found,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let use_redis = !std::env::args().any(|a| a == "--no-redis");
    let clauses = clauses();
    let chain = chain();
    let key = DuplicateKey::new(
        DivisionCode::parse("division", "320508021019").unwrap(),
        CategoryCode::parse("category", "SQ.JTBL").unwrap(),
    );
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let settings = DuplicateSettings::default();
    println!(
        "duplicate index, one key, {} lookups per size, limit {VERIFY_LIMIT}, {} bands x {} rows",
        LOOKUPS,
        minhash::BANDS,
        minhash::ROWS
    );
    for (kind, size) in ["markov", "clauses"]
        .into_iter()
        .flat_map(|kind| SIZES.map(|size| (kind, size)))
    {
        let mut rng = Lcg(size as u64);
        let make = |rng: &mut Lcg| match kind {
            "markov" => markov(&chain, rng),
            _ => text(&clauses, rng),
        };
        let texts: Vec<String> = (0..size).map(|_| make(&mut rng)).collect();
        let ids: Vec<TicketId> = (0..size).map(|_| TicketId::new()).collect();
        let sign_started = Instant::now();
        let entries: Vec<DuplicateEntry> = texts
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                Some(DuplicateEntry {
                    ticket: ids[i],
                    key: key.clone(),
                    // All inside the week, spread over it.
                    created_at: t0 + Duration::seconds((i * 600_000 / size) as i64),
                    bands: minhash::bands(t)?.as_slice().to_vec(),
                })
            })
            .collect();
        let per_sign = sign_started.elapsed() / size as u32;
        // Lookups: unrelated new requests, and re-posts of filed tickets (the planted ones).
        let mut queries: Vec<(Vec<u64>, Option<TicketId>)> = Vec::new();
        let mut planted_texts = Vec::new();
        for n in 0..LOOKUPS {
            if n < PLANTED {
                let original = rng.below(size);
                let again = repost(&texts[original], &clauses, &mut rng);
                if similarity(&again, &texts[original]) >= settings.min_similarity {
                    planted_texts.push(again.clone());
                    queries.push((
                        minhash::bands(&again).unwrap().as_slice().to_vec(),
                        Some(ids[original]),
                    ));
                    continue;
                }
            }
            let fresh = make(&mut rng);
            queries.push((minhash::bands(&fresh).unwrap().as_slice().to_vec(), None));
        }
        let planted = queries.iter().filter(|q| q.1.is_some()).count();
        let since = t0 - Duration::days(1);

        // What the index replaces: the request compared exactly with every live ticket.
        let scan_started = Instant::now();
        let scans = 5;
        for text in planted_texts.iter().take(scans) {
            let best = texts
                .iter()
                .map(|t| similarity(text, t))
                .fold(0.0f32, f32::max);
            std::hint::black_box(best);
        }
        let per_scan = scan_started.elapsed() / scans as u32;

        let memory = MemoryDuplicates::new();
        memory.rebuild(entries.clone()).await.unwrap();
        let run = measure(&memory, &key, &queries, since).await;
        println!(
            "{kind:>7} {size:>7} live | in-process: {:>8.1} µs/lookup, {:>5.1} candidates, planted \
             re-posts found {}/{planted} | sign a request {:>6.1} µs | exact scan of every \
             live ticket {:>9.1} µs",
            run.per_lookup.as_secs_f64() * 1e6,
            run.candidates,
            run.planted_found,
            per_sign.as_secs_f64() * 1e6,
            per_scan.as_secs_f64() * 1e6,
        );
        drop(memory);

        if use_redis && size <= REDIS_UP_TO {
            let url = std::env::var("HOTLINE_BENCH_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379/15".to_owned());
            let prefix = format!("bench:{}", uuid_like(&mut rng));
            let redis = match RedisDuplicates::connect(&url, &prefix, "bench").await {
                Ok(redis) => redis,
                Err(err) => {
                    println!("        (no Redis at {url}: {err})");
                    continue;
                }
            };
            let before = used_memory(&url).await;
            let rebuild_started = Instant::now();
            redis.rebuild(entries).await.unwrap();
            let rebuilt = rebuild_started.elapsed();
            let memory_bytes = used_memory(&url).await.saturating_sub(before);
            let run = measure(&redis, &key, &queries, since).await;
            println!(
                "{kind:>7} {size:>7} live | Redis:      {:>8.1} µs/lookup, {:>5.1} candidates, planted \
                 re-posts found {}/{planted} | rebuild {:.1} s | {:.0} bytes per live ticket",
                run.per_lookup.as_secs_f64() * 1e6,
                run.candidates,
                run.planted_found,
                rebuilt.as_secs_f64(),
                memory_bytes as f64 / size as f64,
            );
            redis.rebuild(Vec::new()).await.unwrap();
            // The replaced generation, as a router's sweep deletes it.
            redis.sweep(Utc::now()).await.unwrap();
            drop_keys(&url, &prefix).await;
        } else {
            drop(entries);
        }
    }
}

fn uuid_like(rng: &mut Lcg) -> String {
    format!(
        "{:08x}{:08x}",
        rng.below(u32::MAX as usize),
        rng.below(u32::MAX as usize)
    )
}

async fn keys_under(conn: &mut redis::aio::MultiplexedConnection, prefix: &str) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(conn)
        .await
        .unwrap()
}

/// The server's `used_memory` (the index's size is the difference a rebuild makes; the bench
/// database is its own, but the server is shared, so the figure is approximate).
async fn used_memory(url: &str) -> u64 {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

async fn drop_keys(url: &str, prefix: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys = keys_under(&mut conn, prefix).await;
    if !keys.is_empty() {
        // UNLINK: a big hash is freed off Redis's main thread (DEL of one outlives the
        // client's response timeout).
        let _: () = redis::cmd("UNLINK")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}
