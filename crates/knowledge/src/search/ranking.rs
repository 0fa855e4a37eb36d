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

impl Default for Ranking {
    fn default() -> Self {
        Self {
            short: Weights {
                answer_words: 1.0,
                answer_bigrams: 1.0,
                answer_unigrams: 0.0,
                answer_trigrams: 0.0,
                question_words: 1.0,
                question_bigrams: 1.0,
                query_tf: QueryTf::Log,
            },
            long: Weights {
                answer_words: 1.0,
                answer_bigrams: 1.0,
                answer_unigrams: 0.0,
                answer_trigrams: 0.0,
                question_words: 1.0,
                question_bigrams: 1.0,
                query_tf: QueryTf::Log,
            },
            long_from: 60,
        }
    }
}
