//! `hotline knowledge ...`: the offline commands. `eval` runs the search benchmark of issue 21
//! on CSV files and needs no store; it prints exactly one line on stdout (more with
//! `--baselines`, one per baseline), everything else goes to stderr.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use hotline_classify::segment::Segmenter;

use crate::search::eval::{
    evaluate_baselines, evaluate_index, index_articles, read_rows, Benchmark, QueryField,
};
use crate::search::Ranking;
use crate::KnowledgeError;

#[derive(Debug, Clone, Args)]
pub struct KnowledgeArgs {
    #[command(subcommand)]
    pub command: KnowledgeCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum KnowledgeCommand {
    /// Search quality on a replies-style CSV: every row of --articles is indexed (its `reply`
    /// as the body, no title), every row of --queries is asked; prints
    /// `knowledge: queries=N recall@1=... recall@3=... recall@10=... mrr=...`.
    Eval(EvalArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Field {
    Text,
    Title,
}

#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// CSV with `message_id` and `reply` columns: the articles.
    #[arg(long)]
    pub articles: PathBuf,
    /// CSV with `message_id` and the --field column: the queries.
    #[arg(long)]
    pub queries: PathBuf,
    /// Which column of --queries to ask.
    #[arg(long, value_enum)]
    pub field: Field,
    /// Also measure the two baselines (BM25 over jieba words; TF-IDF over character
    /// 1-2-grams) on the same files, one more line each (`bm25-words: ...`, `tfidf-chars: ...`).
    #[arg(long)]
    pub baselines: bool,
}

/// Runs a `hotline knowledge` command.
pub fn run(args: &KnowledgeArgs) -> Result<(), KnowledgeError> {
    match &args.command {
        KnowledgeCommand::Eval(eval) => run_eval(eval),
    }
}

fn run_eval(args: &EvalArgs) -> Result<(), KnowledgeError> {
    let articles = read_rows(&args.articles)?;
    let queries = read_rows(&args.queries)?;
    let field = match args.field {
        Field::Text => QueryField::Text,
        Field::Title => QueryField::Title,
    };
    let segmenter = Segmenter::new();
    let started = std::time::Instant::now();
    let index = index_articles(&segmenter, Ranking::default(), &articles)?;
    eprintln!(
        "knowledge eval: indexed {} articles in {:.1?}",
        articles.len(),
        started.elapsed()
    );
    let bench = Benchmark::new(&articles, &queries, field);
    let skipped = queries.len() - bench.queries();
    if skipped > 0 {
        eprintln!(
            "knowledge eval: {skipped} queries have no article with their message_id; skipped"
        );
    }
    let started = std::time::Instant::now();
    let metrics = evaluate_index(&bench, &index)?;
    eprintln!(
        "knowledge eval: {} queries in {:.1?}",
        bench.queries(),
        started.elapsed()
    );
    println!("{}", metrics.line("knowledge"));
    if args.baselines {
        let (bm25, tfidf) = evaluate_baselines(&bench, &segmenter)?;
        println!("{}", bm25.line("bm25-words"));
        println!("{}", tfidf.line("tfidf-chars"));
    }
    Ok(())
}
