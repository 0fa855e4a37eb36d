//! Chinese word segmentation: jieba's dictionary plus the hotline vocabulary
//! (`data/hotline_words.txt`) plus whatever the caller adds (place names from the division
//! directory) through [`Segmenter::add_words`].

use jieba_rs::Jieba;

/// The shipped hotline vocabulary.
const HOTLINE_WORDS: &str = include_str!("../data/hotline_words.txt");

/// A jieba segmenter with the hotline user dictionary. Cloning copies the dictionary.
#[derive(Clone)]
pub struct Segmenter {
    jieba: Jieba,
    /// Words added through [`Segmenter::add_words`], in order (saved with a model).
    added: Vec<String>,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segmenter")
            .field("added_words", &self.added.len())
            .finish_non_exhaustive()
    }
}

impl Default for Segmenter {
    fn default() -> Self {
        Self::new()
    }
}

impl Segmenter {
    /// jieba's default dictionary plus the shipped hotline vocabulary.
    pub fn new() -> Self {
        let mut jieba = Jieba::new();
        for line in HOTLINE_WORDS.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let word = parts.next().unwrap_or_default();
            let freq = parts.next().and_then(|f| f.parse().ok());
            add_one(&mut jieba, word, freq);
        }
        Self {
            jieba,
            added: Vec::new(),
        }
    }

    /// Adds words (place names, local jargon) so they are kept whole. Blank entries and
    /// entries with whitespace are skipped. Returns how many were added.
    pub fn add_words<I, S>(&mut self, words: I) -> usize
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut count = 0;
        for word in words {
            let word = word.as_ref().trim();
            if word.is_empty() || word.chars().any(char::is_whitespace) {
                continue;
            }
            add_one(&mut self.jieba, word, None);
            self.added.push(word.to_owned());
            count += 1;
        }
        count
    }

    /// The words added through [`Segmenter::add_words`].
    pub fn added_words(&self) -> &[String] {
        &self.added
    }

    /// The dictionary itself (jieba's plus the hotline words plus the added ones), for other
    /// tokenizers that must split words exactly as the classifier does (the knowledge index).
    pub fn jieba(&self) -> &Jieba {
        &self.jieba
    }

    /// Splits `text` into words, dropping whitespace and punctuation-only tokens.
    /// Returns byte ranges into `text`.
    pub fn words<'a>(&self, text: &'a str) -> Vec<&'a str> {
        let mut out = Vec::new();
        self.words_into(text, true, |word| out.push(word));
        out
    }

    /// Like [`Segmenter::words`], calling `emit` for each word; `hmm` lets jieba's HMM join
    /// characters the dictionary does not know into new words (slower).
    pub(crate) fn words_into<'a>(&self, text: &'a str, hmm: bool, mut emit: impl FnMut(&'a str)) {
        for token in self.jieba.cut(text, hmm) {
            let word = token.word;
            let keep = match word.as_bytes() {
                // Fast path for the common single-character and CJK cases.
                [b] => b.is_ascii_alphanumeric(),
                _ => word.chars().any(char::is_alphanumeric),
            };
            if keep {
                emit(word);
            }
        }
    }
}

fn add_one(jieba: &mut Jieba, word: &str, freq: Option<usize>) {
    // A suggested frequency makes jieba prefer the whole word over its parts.
    let freq = freq.unwrap_or_else(|| jieba.suggest_freq(word).max(1));
    jieba.add_word(word, Some(freq), None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotline_vocabulary_stays_whole() {
        let segmenter = Segmenter::new();
        let words = segmenter.words("小区门口占道经营严重，窨井盖丢失，物业费太贵！");
        for expected in ["占道经营", "窨井盖", "物业费"] {
            assert!(words.contains(&expected), "{words:?}");
        }
        assert!(!words.iter().any(|w| w.contains('，')), "{words:?}");
    }

    #[test]
    fn added_place_names_stay_whole() {
        let mut segmenter = Segmenter::new();
        let before = segmenter.words("金麟社区门口路灯不亮");
        assert!(!before.contains(&"金麟社区"), "{before:?}");
        assert_eq!(segmenter.add_words(["金麟社区", " ", "a b"]), 1);
        let after = segmenter.words("金麟社区门口路灯不亮");
        assert!(after.contains(&"金麟社区"), "{after:?}");
        assert_eq!(segmenter.added_words(), ["金麟社区"]);
    }
}
