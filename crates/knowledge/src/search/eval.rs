//! The offline search benchmark of issue 21: every row of an articles file is indexed (its
//! `reply` as the body, no title), every row of a queries file is asked (its `text` or
//! `title`), and the relevant article is the row with the same `message_id`, or any row whose
//! body is identical to that one. The whole base is ranked; ties go by row order. Queries
//! whose id is not among the articles are skipped.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use hotline_classify::segment::Segmenter;

use super::baselines::{Bm25Words, TfidfChars};
use super::index::{Entry, KnowledgeIndex};
use super::ranking::Ranking;
use crate::KnowledgeError;

/// One row of a replies-style CSV (`message_id,title,text,reply,...`).
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub message_id: String,
    pub title: String,
    pub text: String,
    pub reply: String,
}

/// Which column of the queries file is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryField {
    Text,
    Title,
}

impl QueryField {
    pub fn parse(raw: &str) -> Result<Self, KnowledgeError> {
        match raw {
            "text" => Ok(QueryField::Text),
            "title" => Ok(QueryField::Title),
            other => Err(KnowledgeError::Invalid(hotline_core::InvalidInput::new(
                "field",
                format!("{other:?} is not a query field (text or title)"),
            ))),
        }
    }
    fn of(self, row: &Row) -> &str {
        match self {
            QueryField::Text => &row.text,
            QueryField::Title => &row.title,
        }
    }
}

/// Reads a replies-style CSV. `message_id` is required; `title`, `text` and `reply` may be
/// absent (an articles file needs only `reply`, a queries file only the field asked).
pub fn read_rows(path: &Path) -> Result<Vec<Row>, KnowledgeError> {
    let file = path.display().to_string();
    let bad = |line: u64, message: String| KnowledgeError::BadRow {
        file: file.clone(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| bad(1, e.to_string()))?;
    let headers = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').trim() == name)
    };
    let id = column("message_id").ok_or_else(|| bad(1, "no message_id column".into()))?;
    let (title, text, reply) = (column("title"), column("text"), column("reply"));
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(line, e.to_string())
        })?;
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").to_owned();
        rows.push(Row {
            message_id: get(Some(id)),
            title: get(title),
            text: get(text),
            reply: get(reply),
        });
    }
    Ok(rows)
}

/// recall@1/3/10 and MRR over a set of queries.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Metrics {
    pub queries: usize,
    pub recall_1: f64,
    pub recall_3: f64,
    pub recall_10: f64,
    pub mrr: f64,
}

impl Metrics {
    /// The figures from each query's rank (1-based) of its first relevant article.
    pub fn from_ranks(ranks: &[usize]) -> Self {
        let n = ranks.len();
        if n == 0 {
            return Self::default();
        }
        let share = |k: usize| ranks.iter().filter(|&&r| r <= k).count() as f64 / n as f64;
        Self {
            queries: n,
            recall_1: share(1),
            recall_3: share(3),
            recall_10: share(10),
            mrr: ranks.iter().map(|&r| 1.0 / r as f64).sum::<f64>() / n as f64,
        }
    }

    /// The line `hotline knowledge eval` prints, with `name` as its label.
    pub fn line(&self, name: &str) -> String {
        format!(
            "{name}: queries={} recall@1={:.4} recall@3={:.4} recall@10={:.4} mrr={:.4}",
            self.queries, self.recall_1, self.recall_3, self.recall_10, self.mrr
        )
    }
}

impl fmt::Display for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line("knowledge"))
    }
}

/// The articles and queries of one benchmark run, with each query's relevant rows.
pub struct Benchmark<'a> {
    articles: &'a [Row],
    /// (query text, relevant article rows)
    queries: Vec<(&'a str, Vec<usize>)>,
}

impl<'a> Benchmark<'a> {
    pub fn new(articles: &'a [Row], queries: &'a [Row], field: QueryField) -> Self {
        let mut by_id: HashMap<&str, usize> = HashMap::new();
        let mut by_body: HashMap<&str, Vec<usize>> = HashMap::new();
        for (row, article) in articles.iter().enumerate() {
            // A repeated id: the first row is the article (row order breaks ties).
            by_id.entry(article.message_id.as_str()).or_insert(row);
            by_body.entry(article.reply.as_str()).or_default().push(row);
        }
        let queries = queries
            .iter()
            .filter_map(|q| {
                let own = *by_id.get(q.message_id.as_str())?;
                let mut relevant = by_body[articles[own].reply.as_str()].clone();
                if !relevant.contains(&own) {
                    relevant.push(own);
                }
                Some((field.of(q), relevant))
            })
            .collect();
        Self { articles, queries }
    }

    pub fn articles(&self) -> &'a [Row] {
        self.articles
    }

    pub fn queries(&self) -> usize {
        self.queries.len()
    }

    /// Each query's text and its relevant article rows.
    pub fn query_list(&self) -> &[(&'a str, Vec<usize>)] {
        &self.queries
    }

    /// Runs every query through `score` (which returns (score, article row) for the articles
    /// it matched; the rest score 0) and ranks the whole base.
    pub fn run(
        &self,
        mut score: impl FnMut(&str) -> Result<Vec<(f32, usize)>, KnowledgeError>,
    ) -> Result<Metrics, KnowledgeError> {
        let n = self.articles.len();
        let mut ranks = Vec::with_capacity(self.queries.len());
        let mut scores = vec![0f32; n];
        for (text, relevant) in &self.queries {
            scores.iter_mut().for_each(|s| *s = 0.0);
            for (s, row) in score(text)? {
                if row < n {
                    scores[row] = s;
                }
            }
            ranks.push(rank_of_first(&scores, relevant));
        }
        Ok(Metrics::from_ranks(&ranks))
    }
}

/// The 1-based rank of the best-placed relevant row when rows are sorted by score (highest
/// first), ties by row order: the number of rows that come before it, plus one.
fn rank_of_first(scores: &[f32], relevant: &[usize]) -> usize {
    relevant
        .iter()
        .map(|&r| {
            let s = scores[r];
            let before = scores
                .iter()
                .enumerate()
                .filter(|&(i, &other)| other > s || (other == s && i < r))
                .count();
            before + 1
        })
        .min()
        .unwrap_or(usize::MAX)
}

/// Indexes the articles' bodies (no title) in a [`KnowledgeIndex`] with `ranking`.
pub fn index_articles(
    segmenter: &Segmenter,
    ranking: Ranking,
    articles: &[Row],
) -> Result<KnowledgeIndex, KnowledgeError> {
    let index = KnowledgeIndex::new(segmenter, ranking)?;
    let entries: Vec<Entry> = articles
        .iter()
        .enumerate()
        .map(|(row, a)| Entry {
            key: row.to_string(),
            answer: a.reply.clone(),
            ..Entry::default()
        })
        .collect();
    index.replace_all(&entries)?;
    Ok(index)
}

/// The knowledge index's figures on a benchmark.
pub fn evaluate_index(
    bench: &Benchmark<'_>,
    index: &KnowledgeIndex,
) -> Result<Metrics, KnowledgeError> {
    // `replace_all` numbers documents in row order, so a document's order is its row.
    bench.run(|text| {
        Ok(index
            .score_all(text)?
            .into_iter()
            .map(|(s, seq)| (s, usize::try_from(seq).unwrap_or(usize::MAX)))
            .collect())
    })
}

/// The knowledge index's figures on a benchmark with the given weights for every query.
pub fn evaluate_weights(
    bench: &Benchmark<'_>,
    index: &KnowledgeIndex,
    weights: &super::ranking::Weights,
) -> Result<Metrics, KnowledgeError> {
    bench.run(|text| {
        Ok(index
            .score_all_with(text, weights)?
            .into_iter()
            .map(|(s, seq)| (s, usize::try_from(seq).unwrap_or(usize::MAX)))
            .collect())
    })
}

/// The figures of the two baselines the issue names, on the same benchmark.
pub fn evaluate_baselines(
    bench: &Benchmark<'_>,
    segmenter: &Segmenter,
) -> Result<(Metrics, Metrics), KnowledgeError> {
    let bodies: Vec<&str> = bench.articles().iter().map(|a| a.reply.as_str()).collect();
    let bm25 = Bm25Words::new(segmenter, &bodies);
    let bm25_metrics = bench.run(|text| Ok(bm25.scores(text)))?;
    let tfidf = TfidfChars::new(&bodies);
    let tfidf_metrics = bench.run(|text| Ok(tfidf.scores(text)))?;
    Ok((bm25_metrics, tfidf_metrics))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_by_row_order_and_identical_bodies_count() {
        // Rows 1 and 3 tie with the relevant row 2: row 1 comes first, row 3 after.
        let scores = [0.5, 2.0, 2.0, 2.0, 0.0];
        assert_eq!(rank_of_first(&scores, &[2]), 2);
        // An identical body in row 4 does not help when row 2 is placed better.
        assert_eq!(rank_of_first(&scores, &[2, 4]), 2);
        assert_eq!(rank_of_first(&scores, &[4, 0]), 4);
    }

    #[test]
    fn metrics_count_each_cutoff_and_the_reciprocal_rank() {
        let m = Metrics::from_ranks(&[1, 2, 4, 20]);
        assert_eq!(m.queries, 4);
        assert_eq!(m.recall_1, 0.25);
        assert_eq!(m.recall_3, 0.5);
        assert_eq!(m.recall_10, 0.75);
        assert!((m.mrr - (1.0 + 0.5 + 0.25 + 0.05) / 4.0).abs() < 1e-12);
        assert_eq!(
            m.line("knowledge"),
            "knowledge: queries=4 recall@1=0.2500 recall@3=0.5000 recall@10=0.7500 mrr=0.4500"
        );
    }

    #[test]
    fn queries_without_an_article_are_skipped() {
        let row = |id: &str, reply: &str| Row {
            message_id: id.into(),
            title: format!("title {id}"),
            text: format!("text {id}"),
            reply: reply.into(),
        };
        let articles = [row("1", "a"), row("2", "b"), row("3", "a")];
        let queries = [row("3", ""), row("9", "")];
        let bench = Benchmark::new(&articles, &queries, QueryField::Title);
        assert_eq!(bench.queries(), 1);
        // Query 3's own article is row 2, and row 0 has the same body: both are relevant.
        assert_eq!(bench.queries[0].0, "title 3");
        let mut relevant = bench.queries[0].1.clone();
        relevant.sort_unstable();
        assert_eq!(relevant, [0, 2]);
    }
}
