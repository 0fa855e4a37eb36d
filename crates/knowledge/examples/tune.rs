//! Chooses the ranking weights by cross-validation on a replies-style corpus, and reports the
//! chosen weights beside both baselines on a held-out split.
//!
//! ```text
//! cargo run --release -p hotline-knowledge --example tune -- replies.csv [split-dir]
//! ```
//! Every reply is an article (no title). Messages are split into five folds by
//! `message_id mod 5`; fold 4 is held out. Each grid point is scored on folds 0-3 (mean
//! recall@3 over the four folds, MRR breaking ties), separately for bodies (the long profile)
//! and titles (the short one); the best of each is then measured once on fold 4, beside the
//! baselines. With `split-dir`, the held-out messages are written there as `heldout.csv` (for
//! `hotline knowledge eval --queries`): they are the corpus's rows, so keep them out of the
//! repository.

use std::path::{Path, PathBuf};

use hotline_classify::segment::Segmenter;
use hotline_knowledge::search::eval::{
    evaluate_baselines, evaluate_weights, index_articles, read_rows, Benchmark, Metrics,
    QueryField, Row,
};
use hotline_knowledge::search::{QueryTf, Ranking, Weights};

const FOLDS: u64 = 5;
const HELD_OUT: u64 = 4;

fn fold(row: &Row) -> u64 {
    row.message_id.trim().parse::<u64>().unwrap_or_else(|_| {
        // Non-numeric ids: a stable sum of bytes is enough to spread them.
        row.message_id.bytes().map(u64::from).sum()
    }) % FOLDS
}

/// The grid searched last (earlier, wider runs over word, unigram and trigram weights and the
/// query's tf found trigrams and unigrams no help and linear query tf slightly best).
/// Weights relative to the bigram field's (scaling every weight alike ranks alike), with the
/// question fields weighed like the answer's (the corpus has no titles to tell them apart).
fn grid() -> Vec<Weights> {
    let mut out = Vec::new();
    for answer_words in [0.0, 0.3] {
        for answer_trigrams in [0.0] {
            for (rerank_depth, cosine) in [(0, 0.0), (30, 0.6), (30, 0.9)] {
                {
                    out.push(Weights {
                        answer_words,
                        answer_bigrams: 1.0,
                        answer_unigrams: 0.0,
                        answer_trigrams,
                        question_words: answer_words,
                        question_bigrams: 1.0,
                        query_tf: QueryTf::Linear,
                        rerank_depth,
                        cosine,
                    });
                }
            }
        }
    }
    out
}

fn write_rows(path: &Path, rows: &[&Row]) -> Result<(), Box<dyn std::error::Error>> {
    let mut writer = csv::Writer::from_path(path)?;
    writer.write_record(["message_id", "title", "text", "reply"])?;
    for row in rows {
        writer.write_record([&row.message_id, &row.title, &row.text, &row.reply])?;
    }
    writer.flush()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let corpus = PathBuf::from(args.next().ok_or("usage: tune replies.csv [split-dir]")?);
    let split_dir = args.next().map(PathBuf::from);
    let rows = read_rows(&corpus)?;
    let segmenter = Segmenter::new();
    let started = std::time::Instant::now();
    let index = index_articles(&segmenter, Ranking::default(), &rows)?;
    eprintln!("indexed {} articles in {:?}", rows.len(), started.elapsed());

    let folds: Vec<Vec<Row>> = (0..FOLDS)
        .map(|k| rows.iter().filter(|r| fold(r) == k).cloned().collect())
        .collect();
    let held_out = &folds[HELD_OUT as usize];
    if let Some(dir) = &split_dir {
        std::fs::create_dir_all(dir)?;
        write_rows(
            &dir.join("heldout.csv"),
            &held_out.iter().collect::<Vec<_>>(),
        )?;
    }

    let mut chosen = Vec::new();
    for field in [QueryField::Text, QueryField::Title] {
        let benches: Vec<Benchmark<'_>> = (0..FOLDS)
            .filter(|&k| k != HELD_OUT)
            .map(|k| Benchmark::new(&rows, &folds[k as usize], field))
            .collect();
        let mut scored: Vec<(f64, f64, Weights)> = Vec::new();
        for weights in grid() {
            let mut recall = 0.0;
            let mut mrr = 0.0;
            for bench in &benches {
                let m = evaluate_weights(bench, &index, &weights)?;
                recall += m.recall_3 / benches.len() as f64;
                mrr += m.mrr / benches.len() as f64;
            }
            eprintln!("{field:?} {weights:?}: cv recall@3={recall:.4} mrr={mrr:.4}");
            scored.push((recall, mrr, weights));
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.total_cmp(&a.1)));
        for (recall, mrr, weights) in scored.iter().take(5) {
            println!("{field:?} top: cv recall@3={recall:.4} mrr={mrr:.4} {weights:?}");
        }
        chosen.push((field, scored[0].2));
    }

    for (field, weights) in chosen {
        let bench = Benchmark::new(&rows, held_out, field);
        let ours: Metrics = evaluate_weights(&bench, &index, &weights)?;
        let (bm25, tfidf) = evaluate_baselines(&bench, &segmenter)?;
        println!("held-out fold {HELD_OUT}, {field:?} queries, chosen {weights:?}");
        println!("  {}", ours.line("knowledge"));
        println!("  {}", bm25.line("bm25-words"));
        println!("  {}", tfidf.line("tfidf-chars"));
    }
    Ok(())
}
