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
    /// How many of BM25's best are scored again with the cosine (0: none).
    pub rerank_depth: usize,
    /// The cosine's share of the second stage's score (0..=1).
    pub cosine: f32,
}

/// The two profiles and where one ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranking {
    pub short: Weights,
    pub long: Weights,
    /// A query of at least this many characters uses the long profile.
    pub long_from: usize,
}

impl Ranking {
    pub fn profile(&self, text: &str) -> &Weights {
        if text.chars().count() >= self.long_from {
            &self.long
        } else {
            &self.short
        }
    }
}

/// Chosen by five-fold cross-validation on the civic replies corpus (folds by
/// `message_id mod 5`, fold 4 held out; `examples/tune.rs`): bigrams carry the first stage,
/// jieba words add nothing measurable there (0.3 is within 0.003 recall@3 of 0, and keeps
/// the words in the query so snippets highlight whole words), unigrams and trigrams lowered
/// recall, a linear query tf was best, and a second stage weighing the character TF-IDF
/// cosine at 0.9 over BM25's best 30 added about 0.02 recall@3 on bodies and titles alike.
/// The profiles are the same today; they stay apart because typed queries and read-out
/// messages are different tasks and a centre's own data may tell them apart.
impl Default for Ranking {
    fn default() -> Self {
        let weights = Weights {
            answer_words: 0.3,
            answer_bigrams: 1.0,
            answer_unigrams: 0.0,
            answer_trigrams: 0.0,
            question_words: 0.3,
            question_bigrams: 1.0,
            query_tf: QueryTf::Linear,
            rerank_depth: 30,
            cosine: 0.9,
        };
        Self {
            short: weights,
            long: weights,
            long_from: 60,
        }
    }
}
