//! Search latency at scale (issue 21's bench): a base of synthetic articles made from a
//! replies-style corpus, searched with what an operator types, with the filters a call has.
//!
//! ```text
//! cargo run --release -p hotline-knowledge --example bench -- replies.csv [articles] [queries] [long]
//! ```
//! Articles (100,000 by default) recombine the corpus's reply sentences (3-8 each, in random
//! order) under a message title with a random variation, with random categories (one or two of
//! twelve), territories (the city, one of ten districts, or one of a hundred streets) and
//! dates (a tenth expired, a fifth with a review date before the query's day). Queries (2,000 by
//! default, after 200 to warm up) are message titles, or the first 5-50 characters of a
//! message body, cut to 50 characters; each asks for the top 5 with a category, a caller's
//! community (so the street, district and city chain) and the day. Prints the index build time
//! and search latency (p50, p90, p99, max) on one line each; the target is p99 <= 20 ms.
//! With `long` (or `long:DEPTH`, to rerank that many instead), every query is instead the first 60-300 characters of a message body: a
//! caller's message read into the box, which takes the ranking's long profile.
//!
//! The corpus is test input with no licence: pass its path, never commit it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use hotline_classify::segment::Segmenter;
use hotline_core::{CategoryCode, DivisionCode};
use hotline_knowledge::search::eval::read_rows;
use hotline_knowledge::search::{Entry, KnowledgeIndex, Ranking, SearchRequest};

const CATEGORIES: [&str; 12] = [
    "CJ.WY", "CJ.GJ", "JT.GJ", "JT.DL", "SB.GJJ", "SB.YL", "HB.ZS", "HB.LJ", "JY.XQ", "WS.YY",
    "GA.HJ", "SC.JG",
];

/// xorshift64*: a fixed seed makes every run the same base and the same queries.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn district(i: usize) -> String {
    format!("3205{:02}", i % 10 + 1)
}

fn street(i: usize) -> String {
    format!("{}{:03}", district(i / 10), i % 10 + 1)
}

fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        current.push(c);
        if matches!(c, '。' | '！' | '？' | '；' | '\n') {
            let s = current.trim().to_owned();
            if s.chars().count() >= 6 {
                out.push(s);
            }
            current.clear();
        }
    }
    let s = current.trim().to_owned();
    if s.chars().count() >= 6 {
        out.push(s);
    }
    out
}

fn prefix(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let corpus = PathBuf::from(
        args.next()
            .ok_or("usage: bench replies.csv [articles] [queries]")?,
    );
    let articles: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let queries: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2_000);
    // `long` or `long:DEPTH` (the long profile's rerank depth instead of the default's).
    let mode = args.next().unwrap_or_default();
    let long = mode.starts_with("long");
    let mut ranking = Ranking::default();
    if let Some(depth) = mode.strip_prefix("long:") {
        ranking.long.rerank_depth = depth.parse()?;
    }
    let rows = read_rows(&corpus)?;
    let pool: Vec<String> = rows.iter().flat_map(|r| sentences(&r.reply)).collect();
    let titles: Vec<&str> = rows
        .iter()
        .map(|r| r.title.trim())
        .filter(|t| !t.is_empty())
        .collect();
    if pool.is_empty() || titles.is_empty() {
        return Err("the corpus has no replies or no titles".into());
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let on = NaiveDate::from_ymd_opt(2025, 3, 1).ok_or("date")?;
    let variations = [
        "",
        "怎么办",
        "的问题",
        "咨询",
        "如何办理",
        "在哪里",
        "投诉",
        "政策",
    ];

    let made = Instant::now();
    let mut entries = Vec::with_capacity(articles);
    for i in 0..articles {
        let n = 3 + rng.below(6);
        let answer: String = (0..n).map(|_| rng.pick(&pool).as_str()).collect();
        let title = format!("{}{}", rng.pick(&titles), rng.pick(&variations));
        let mut categories = vec![rng.pick(&CATEGORIES).to_string()];
        if rng.chance(30) {
            categories.push(rng.pick(&CATEGORIES).to_string());
        }
        let territory = match rng.below(10) {
            0..=1 => "3205".to_owned(),
            2..=6 => district(rng.below(10)),
            _ => street(rng.below(100)),
        };
        let from = on - chrono::Days::new(rng.below(1000) as u64);
        let until = rng
            .chance(10)
            .then(|| on - chrono::Days::new(1 + rng.below(100) as u64));
        let review_on = if rng.chance(20) {
            Some(on - chrono::Days::new(1 + rng.below(100) as u64))
        } else {
            Some(on + chrono::Days::new(1 + rng.below(700) as u64))
        };
        entries.push(Entry {
            key: i.to_string(),
            version: 1,
            title,
            alt_questions: Vec::new(),
            answer,
            categories,
            territories: vec![territory],
            effective_from: Some(from),
            effective_until: until,
            review_on,
        });
    }
    eprintln!("synthesised {articles} articles in {:?}", made.elapsed());

    let segmenter = Segmenter::new();
    let index = KnowledgeIndex::new(&segmenter, ranking)?;
    let built = Instant::now();
    index.replace_all(&entries)?;
    let build = built.elapsed();
    drop(entries);
    println!(
        "knowledge bench: articles={} build={:.1}s",
        index.len(),
        build.as_secs_f64()
    );

    let codes: Vec<CategoryCode> = CATEGORIES
        .iter()
        .map(|c| CategoryCode::parse("category", c))
        .collect::<Result<_, _>>()?;
    let mut asked = Vec::with_capacity(queries + 200);
    for _ in 0..queries + 200 {
        let row = rng.pick(&rows);
        let text = if long {
            prefix(row.text.trim(), 60 + rng.below(241))
        } else if rng.chance(50) && !row.title.trim().is_empty() {
            prefix(row.title.trim(), 50)
        } else {
            prefix(row.text.trim(), 5 + rng.below(46))
        };
        let community = DivisionCode::parse("d", &format!("{}{:03}", street(rng.below(100)), 1))?;
        let category = rng.pick(&codes).clone();
        asked.push((text, community, category));
    }
    let mut latencies = Vec::with_capacity(queries);
    let mut found = 0usize;
    let mut chars = 0usize;
    for (i, (text, community, category)) in asked.iter().enumerate() {
        let started = Instant::now();
        let hits = index.search(&SearchRequest {
            text,
            categories: std::slice::from_ref(category),
            territory: Some(community),
            on,
            limit: 5,
        })?;
        let took = started.elapsed();
        if i >= 200 {
            latencies.push(took);
            found += usize::from(!hits.is_empty());
            chars += text.chars().count();
        }
    }
    latencies.sort();
    println!(
        "knowledge bench: queries={} mean_chars={:.1} with_hits={:.3} p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms",
        latencies.len(),
        chars as f64 / latencies.len().max(1) as f64,
        found as f64 / latencies.len().max(1) as f64,
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.90)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().ok_or("no queries")?),
    );
    Ok(())
}
