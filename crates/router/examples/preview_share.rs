//! The knowledge suggestions' share of the route preview (issue 21's bench), in process on the
//! embedded default: a base of synthetic published articles made from a replies-style corpus,
//! then the preview's three steps timed per typed query: the routing decision (classify,
//! resolve, catalogue), the live-duplicate lookup, and the suggestions (two searches, with and
//! without the classified category, and the store's live versions).
//!
//! ```sh
//! cargo run --release -p hotline-router --example preview_share -- replies.csv [articles] [queries]
//! ```
//! Prints one line per step (p50, p99 in ms) and the suggestions' share of the preview's total.
//! The corpus is test input with no licence: pass its path, never commit it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hotline_core::{CategoryCode, DivisionCode, StaffId, StationId};
use hotline_knowledge::{Content, Source};
use hotline_router::config::ServeArgs;

/// xorshift64*: the same base and queries on every run.
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
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn line(name: &str, mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let (p50, p99) = (percentile(&samples, 0.5), percentile(&samples, 0.99));
    let mean =
        samples.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / samples.len() as f64;
    println!("{name}: p50={p50:.2}ms p99={p99:.2}ms mean={mean:.2}ms");
    (mean, p99)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut argv = std::env::args().skip(1);
    let corpus = argv
        .next()
        .context("usage: preview_share replies.csv [articles] [queries]")?;
    let articles: usize = argv.next().map_or(Ok(100_000), |a| a.parse())?;
    let queries: usize = argv.next().map_or(Ok(1_000), |a| a.parse())?;
    let rows = hotline_knowledge::search::eval::read_rows(std::path::Path::new(&corpus))?;
    anyhow::ensure!(!rows.is_empty(), "{corpus} has no rows");

    let dir = tempfile::tempdir()?;
    let args = ServeArgs::parse_from([
        "--data-dir".to_owned(),
        dir.path().display().to_string(),
        "--direct-callback-share".to_owned(),
        "0".to_owned(),
    ])?;
    let hotline = hotline_router::server::build(&args, Arc::new(hotline_core::SystemClock)).await?;
    let knowledge = hotline.knowledge().context("a knowledge room")?.clone();
    let routing = hotline.routing().context("routing")?.clone();

    // The centre's own vocabulary, so every article passes the catalogue.
    let taxonomy = routing.engine().classifier().taxonomy().clone();
    let categories: Vec<CategoryCode> = taxonomy
        .categories()
        .iter()
        .filter(|c| c.parent.is_some())
        .map(|c| c.code.clone())
        .collect();
    let directory = hotline.directory().clone();
    let places: Vec<DivisionCode> = directory
        .divisions()
        .filter(|d| matches!(d.code.as_str().len(), 4 | 6 | 9))
        .map(|d| d.code.clone())
        .collect();
    let communities: Vec<DivisionCode> = directory
        .divisions()
        .filter(|d| d.code.as_str().len() == 12)
        .map(|d| d.code.clone())
        .collect();

    let editor = StaffId::parse("login", "bench-editor")?;
    let service = knowledge.service();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let started = Instant::now();
    let mut batch = Vec::new();
    for i in 0..articles {
        let row = &rows[rng.below(rows.len())];
        let other = &rows[rng.below(rows.len())];
        // A reply with a sentence of another appended: articles differ even where the
        // corpus repeats itself.
        let tail: String = other
            .reply
            .split('。')
            .next()
            .unwrap_or_default()
            .to_owned();
        let content = Content {
            title: format!(
                "{}（{}）",
                row.title.chars().take(60).collect::<String>(),
                i % 97
            ),
            alt_questions: Vec::new(),
            answer: format!(
                "{}{}。",
                row.reply.chars().take(2_000).collect::<String>(),
                tail
            ),
            internal_note: String::new(),
            categories: vec![categories[rng.below(categories.len())].clone()],
            territories: vec![places[rng.below(places.len())].clone()],
            source: Source::default(),
            effective_from: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("a date"),
            effective_until: None,
            owner: StationId::parse("owner", "320508021-office")?,
            review_on: None,
        };
        batch.push(service.new_article(&editor, content, None, true)?);
        if batch.len() == 1_000 {
            service.store().apply_all(&batch, &[]).await?;
            batch.clear();
        }
    }
    service.store().apply_all(&batch, &[]).await?;
    let indexed = knowledge.sync().rebuild(service.store().as_ref()).await?;
    eprintln!(
        "preview_share: {indexed} articles stored and indexed in {:.1?}",
        started.elapsed()
    );

    let (mut decide, mut duplicate, mut suggest, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let today = knowledge.today();
    for q in 0..queries + 100 {
        let row = &rows[rng.below(rows.len())];
        // What an operator has typed so far: a title, or the start of the caller's words.
        let text: String = if q % 2 == 0 {
            row.title.chars().take(50).collect()
        } else {
            row.text.chars().take(5 + rng.below(46)).collect()
        };
        let request = hotline_routing::RouteRequest {
            text: text.clone(),
            address: None,
            location: None,
            kiosk: None,
            category: None,
            nature: None,
            urgency: None,
            division: Some(communities[rng.below(communities.len())].clone()),
        };
        let t0 = Instant::now();
        let decision = routing.decide_request(&request);
        let t1 = Instant::now();
        routing
            .find_duplicate(
                hotline.store(),
                hotline.queues(),
                &text,
                &decision,
                hotline.now(),
            )
            .await?;
        let t2 = Instant::now();
        knowledge
            .suggest(
                &text,
                decision.categories.first().map(|c| &c.code),
                decision.territory.division.as_ref(),
                today,
                hotline_router::knowledge::SUGGESTIONS,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let t3 = Instant::now();
        if q >= 100 {
            decide.push(t1 - t0);
            duplicate.push(t2 - t1);
            suggest.push(t3 - t2);
            total.push(t3 - t0);
        }
    }
    line("route_decision", decide);
    line("duplicate_lookup", duplicate);
    let (suggest_mean, suggest_p99) = line("suggestions", suggest);
    let (total_mean, total_p99) = line("preview_total", total);
    println!(
        "suggestions_share: mean={:.0}% (p99 {:.2}ms of {:.2}ms)",
        100.0 * suggest_mean / total_mean,
        suggest_p99,
        total_p99
    );
    Ok(())
}
