//! How the fields and the query's terms are weighed. tantivy scores each field with BM25; the
//! weights here say how much each field counts and how a term repeated in the query counts.
//!
//! Operators type a few words; a caller's message read into the box is a paragraph. The two
//! behave differently (a short query needs every gram it has; a long one is full of words
//! that say nothing), so there are two weight profiles, chosen by the query's length. The
//! figures were chosen by cross-validation on the civic replies corpus: see
//! `examples/tune.rs` and the README's knowledge section.

/// How a term's count in the query scales its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryTf {
    /// Every distinct term once.
    Binary,
    /// 1 + ln(count).
    Log,
    /// The count itself (BM25's usual sum over the query's terms).
    Linear,
}

impl QueryTf {
    pub fn weight(self, count: u32) -> f32 {
        match self {
            QueryTf::Binary => 1.0,
            QueryTf::Log => 1.0 + (count.max(1) as f32).ln(),
            QueryTf::Linear => count as f32,
        }
    }
}

/// The weight of each field (0: not searched).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    pub answer_words: f32,
    pub answer_bigrams: f32,
    pub answer_unigrams: f32,
    pub answer_trigrams: f32,
    /// Title and 同义问法.
    pub question_words: f32,
    pub question_bigrams: f32,
    pub query_tf: QueryTf,
    /// How many of BM25's best are scored again by the second stage (0: none).
    pub rerank_depth: usize,
    /// The second stage's score of a candidate: the sum of its features (see [`FEATURES`])
    /// times these weights.
    pub features: [f32; FEATURE_COUNT],
}

/// How many features the second stage computes per candidate.
pub const FEATURE_COUNT: usize = 9;

/// The second stage's features of a candidate answer, in the order of
/// [`Weights::features`]. Every one is computed for each of the first stage's best
/// `rerank_depth`, whatever its weight, so that a tuner can weigh them from one pass.
pub const FEATURES: [&str; FEATURE_COUNT] = [
    // The first stage's BM25 score over the best one's.
    "bm25",
    // Cosine of the character 1-2-gram TF-IDF vectors (sublinear tf, the index's idf).
    "cos12",
    // The same over character 3- and 4-grams: a reply that restates the message's phrases.
    "cos34",
    // The share of the query's numbers (runs of two or more digits) found in the answer.
    "numbers",
    // The share of the query's place-like words (jieba words ending in 小区, 路, 街道, 镇...)
    // found in the answer.
    "places",
    // ln(1 + the answer's length in characters) / 10.
    "length",
    // 1 / the first stage's rank.
    "rank",
    // cos12 with the query's grams weighed by idf² instead of idf: its rare grams count more.
    "cos12_idf2",
    // cos34 likewise.
    "cos34_idf2",
];

/// The two profiles and where one ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranking {
    pub short: Weights,
    pub long: Weights,
    /// A query of at least this many characters uses the long profile.
    pub long_from: usize,
}

impl Ranking {
    /// Whether a profile weighs the 3-4-gram cosines, so that the index must hold each
    /// answer's 4-grams (they double the time to build a large base, so they are left out
    /// when nothing reads them).
    pub fn needs_quadgrams(&self) -> bool {
        [&self.short, &self.long]
            .iter()
            .any(|w| w.features[2] != 0.0 || w.features[8] != 0.0)
    }

    pub fn profile(&self, text: &str) -> &Weights {
        if text.chars().count() >= self.long_from {
            &self.long
        } else {
            &self.short
        }
    }
}

/// Chosen by five-fold cross-validation on the civic replies corpus (folds by
/// `message_id mod 5`, fold 4 held out; `examples/tune.rs`). The first stage: bigrams carry
/// it, jieba words add nothing measurable (0.3 is within 0.003 recall@3 of 0, and keeps the
/// words in the query so snippets highlight whole words), unigrams and trigrams lowered
/// recall, a linear query tf was best. The second stage's weights were learned by coordinate
/// ascent on recall@3 over folds 0-3 and kept only where a richer model beat a simpler one by
/// more than 0.005 cross-validated recall@3:
/// - a caller's message (the long profile): the character 1-2-gram cosine alone over BM25's
///   best 100 (0.7949, against 0.7755 for the former blend over the best 30). 3-4-gram
///   cosines (+0.003), numbers, place words, length, rank and idf²-weighted query vectors
///   added nothing beyond noise;
/// - a typed query (the short profile): 0.1 BM25 + 0.9 cosine over the best 30 (0.7403); every
///   learned combination of the other features stayed within 0.004 of it.
impl Default for Ranking {
    fn default() -> Self {
        let short = Weights {
            answer_words: 0.3,
            answer_bigrams: 1.0,
            answer_unigrams: 0.0,
            answer_trigrams: 0.0,
            question_words: 0.3,
            question_bigrams: 1.0,
            query_tf: QueryTf::Linear,
            rerank_depth: 30,
            features: [0.1, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        };
        let long = Weights {
            rerank_depth: 100,
            features: [0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            ..short
        };
        Self {
            short,
            long,
            long_from: 60,
        }
    }
}
