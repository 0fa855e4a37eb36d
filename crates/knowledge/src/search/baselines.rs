//! The two baselines issue 21 measured, rebuilt here so they run on the same split in the same
//! run as the index (they are measuring sticks, not the search):
//! - [`Bm25Words`]: Okapi BM25 with `rank_bm25`'s defaults (k1 = 1.5, b = 0.75, ε = 0.25: a
//!   negative idf is replaced by ε times the mean idf) over jieba words without punctuation,
//!   the query's words summed with repeats;
//! - [`TfidfChars`]: scikit-learn's `TfidfVectorizer(analyzer="char", ngram_range=(1, 2),
//!   sublinear_tf=True)` fitted on the articles: lower-cased, runs of whitespace folded to one
//!   space, smooth idf ln((1 + n) / (1 + df)) + 1, tf 1 + ln(tf), L2-normalised, cosine.
//!
//! Words come from the classifier's dictionary (jieba's plus the hotline words), so the BM25
//! figure can differ slightly from the issue's, which used Python jieba's dictionary alone.

use std::collections::HashMap;

use hotline_classify::segment::Segmenter;

const K1: f32 = 1.5;
const B: f32 = 0.75;
const EPSILON: f32 = 0.25;

/// Okapi BM25 over jieba words.
pub struct Bm25Words<'s> {
    segmenter: &'s Segmenter,
    /// word -> (article row, count)
    postings: HashMap<String, Vec<(usize, u32)>>,
    idf: HashMap<String, f32>,
    lengths: Vec<f32>,
    mean_length: f32,
}

impl<'s> Bm25Words<'s> {
    pub fn new(segmenter: &'s Segmenter, bodies: &[&str]) -> Self {
        let mut postings: HashMap<String, Vec<(usize, u32)>> = HashMap::new();
        let mut lengths = Vec::with_capacity(bodies.len());
        for (row, body) in bodies.iter().enumerate() {
            let words = segmenter.words(body);
            lengths.push(words.len() as f32);
            let mut counts: HashMap<&str, u32> = HashMap::new();
            for word in words {
                *counts.entry(word).or_default() += 1;
            }
            for (word, count) in counts {
                postings
                    .entry(word.to_owned())
                    .or_default()
                    .push((row, count));
            }
        }
        let n = bodies.len() as f32;
        let mut idf: HashMap<String, f32> = postings
            .iter()
            .map(|(w, p)| {
                let df = p.len() as f32;
                (w.clone(), (n - df + 0.5).ln() - (df + 0.5).ln())
            })
            .collect();
        let mean_idf = idf.values().sum::<f32>() / idf.len().max(1) as f32;
        for value in idf.values_mut() {
            if *value < 0.0 {
                *value = EPSILON * mean_idf;
            }
        }
        let mean_length = lengths.iter().sum::<f32>() / lengths.len().max(1) as f32;
        Self {
            segmenter,
            postings,
            idf,
            lengths,
            mean_length,
        }
    }

    /// (score, row) of every article sharing a word with `query`.
    pub fn scores(&self, query: &str) -> Vec<(f32, usize)> {
        let mut scores: HashMap<usize, f32> = HashMap::new();
        for word in self.segmenter.words(query) {
            let (Some(postings), Some(idf)) = (self.postings.get(word), self.idf.get(word)) else {
                continue;
            };
            for &(row, count) in postings {
                let tf = count as f32;
                let norm = K1 * (1.0 - B + B * self.lengths[row] / self.mean_length);
                *scores.entry(row).or_default() += idf * tf * (K1 + 1.0) / (tf + norm);
            }
        }
        scores.into_iter().map(|(row, s)| (s, row)).collect()
    }
}

/// The character 1- and 2-grams scikit-learn's char analyzer makes.
fn char_grams(text: &str) -> HashMap<String, u32> {
    let lowered = text.to_lowercase();
    // Folds every run of two or more whitespace characters into one space, as `\s\s+` does.
    let mut chars: Vec<char> = Vec::with_capacity(lowered.len());
    let mut in_space_run = 0;
    for c in lowered.chars() {
        if c.is_whitespace() {
            in_space_run += 1;
            if in_space_run == 2 {
                chars.pop();
                chars.push(' ');
                continue;
            }
            if in_space_run > 2 {
                continue;
            }
        } else {
            in_space_run = 0;
        }
        chars.push(c);
    }
    let mut counts: HashMap<String, u32> = HashMap::new();
    for n in 1..=2 {
        for window in chars.windows(n) {
            *counts.entry(window.iter().collect()).or_default() += 1;
        }
    }
    counts
}

/// TF-IDF (sublinear tf) cosine over character 1- and 2-grams.
pub struct TfidfChars {
    idf: HashMap<String, f32>,
    /// gram -> (article row, weight in the normalised vector)
    postings: HashMap<String, Vec<(usize, f32)>>,
}

impl TfidfChars {
    pub fn new(bodies: &[&str]) -> Self {
        let grams: Vec<HashMap<String, u32>> = bodies.iter().map(|b| char_grams(b)).collect();
        let mut df: HashMap<&str, u32> = HashMap::new();
        for doc in &grams {
            for gram in doc.keys() {
                *df.entry(gram.as_str()).or_default() += 1;
            }
        }
        let n = bodies.len() as f32;
        let idf: HashMap<String, f32> = df
            .iter()
            .map(|(g, &d)| ((*g).to_owned(), ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0))
            .collect();
        let mut postings: HashMap<String, Vec<(usize, f32)>> = HashMap::new();
        for (row, doc) in grams.iter().enumerate() {
            let vector = weigh(doc, &idf);
            for (gram, weight) in vector {
                postings.entry(gram).or_default().push((row, weight));
            }
        }
        Self { idf, postings }
    }

    /// (cosine, row) of every article sharing a gram with `query`.
    pub fn scores(&self, query: &str) -> Vec<(f32, usize)> {
        let mut scores: HashMap<usize, f32> = HashMap::new();
        for (gram, weight) in weigh(&char_grams(query), &self.idf) {
            if let Some(postings) = self.postings.get(&gram) {
                for &(row, w) in postings {
                    *scores.entry(row).or_default() += weight * w;
                }
            }
        }
        scores.into_iter().map(|(row, s)| (s, row)).collect()
    }
}

/// The L2-normalised sublinear tf-idf vector of `counts`; grams without an idf are dropped.
fn weigh(counts: &HashMap<String, u32>, idf: &HashMap<String, f32>) -> Vec<(String, f32)> {
    let mut vector: Vec<(String, f32)> = counts
        .iter()
        .filter_map(|(g, &c)| {
            idf.get(g)
                .map(|idf| (g.clone(), (1.0 + (c as f32).ln()) * idf))
        })
        .collect();
    let norm = vector.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|(_, w)| *w /= norm);
    }
    vector
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_grams_fold_whitespace_runs_like_scikit_learn() {
        let grams = char_grams("Ab  c");
        // "ab c": a, b, ' ', c, ab, "b ", " c"
        assert_eq!(grams.len(), 7);
        assert_eq!(grams["b "], 1);
        assert!(!grams.contains_key("  "));
    }

    #[test]
    fn tfidf_ranks_the_article_sharing_rare_grams_first() {
        let tfidf = TfidfChars::new(&["公积金贷款", "路灯不亮", "公交站点"]);
        let mut scores = tfidf.scores("路灯坏了");
        scores.sort_by(|a, b| b.0.total_cmp(&a.0));
        assert_eq!(scores[0].1, 1);
    }

    #[test]
    fn bm25_scores_only_articles_sharing_a_word() {
        let segmenter = Segmenter::new();
        let bm25 = Bm25Words::new(&segmenter, &["物业费太贵", "路灯不亮", "公交站点"]);
        let scores = bm25.scores("晚上路灯不亮");
        assert_eq!(scores.len(), 1);
        assert_eq!(scores[0].1, 1);
        assert!(scores[0].0 > 0.0);
    }
}
