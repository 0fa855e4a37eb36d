//! Text -> sparse features: normalisation, word 1-2 grams (jieba) and character n-grams,
//! each feature identified by a 64-bit FNV-1a hash of its text so no string is allocated per
//! feature. The vocabulary and idf weights live in the model; this module only enumerates.

use serde::{Deserialize, Serialize};

use crate::segment::Segmenter;

/// Texts longer than this many characters are cut before classification and training: the
/// subject of a message is stated early, and it bounds the cost of a pathological input.
pub const MAX_CHARS: usize = 4_000;

/// Which n-grams to extract. Saved in the model so training and classification agree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Longest word n-gram (0 = no word features).
    pub word_ngrams: usize,
    /// Shortest and longest character n-gram (`char_max` 0 = no character features).
    pub char_min: usize,
    pub char_max: usize,
    /// Map ASCII digits to `0` so dates, phone and case numbers share features.
    pub fold_digits: bool,
    /// Weight of the (separately L2-normalised) word block relative to the character block.
    pub word_weight: f32,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            word_ngrams: 2,
            char_min: 1,
            char_max: 3,
            fold_digits: false,
            word_weight: 1.0,
        }
    }
}

/// Which block a feature belongs to (each block is L2-normalised on its own, as a
/// scikit-learn `FeatureUnion` of two vectorisers does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Block {
    Word,
    Char,
}

/// Where a feature came from, to show the words that drove a decision.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin {
    /// Word n-gram: `n` words starting at word index `start`.
    Words { start: u32, n: u8 },
    /// Character n-gram: `n` kept characters starting at index `start`.
    Chars { start: u32, n: u8 },
}

/// The normalised text of one message and its words, kept to rebuild feature texts.
pub(crate) struct Analysed {
    pub chars: Vec<char>,
    pub words: Vec<String>,
}

impl Analysed {
    pub fn feature_text(&self, origin: Origin) -> String {
        match origin {
            Origin::Words { start, n } => {
                let start = start as usize;
                self.words[start..start + n as usize].join(" ")
            }
            Origin::Chars { start, n } => {
                let start = start as usize;
                self.chars[start..start + n as usize].iter().collect()
            }
        }
    }
}

/// Lower-cases ASCII, maps full-width ASCII to half-width, drops control characters, and
/// truncates to [`MAX_CHARS`].
pub(crate) fn normalise(text: &str, fold_digits: bool) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_CHARS * 3));
    for ch in text.chars().take(MAX_CHARS) {
        let mut ch = match ch {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFEE0).unwrap_or(ch),
            _ => ch,
        };
        if ch.is_control() {
            ch = ' ';
        }
        ch = ch.to_ascii_lowercase();
        if fold_digits && ch.is_ascii_digit() {
            ch = '0';
        }
        out.push(ch);
    }
    out
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

#[inline]
fn fnv_bytes(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// Enumerates the features of `text` (with repeats: the caller counts them), calling
/// `emit(block, key, origin)`. Returns the analysed text for explanations.
pub(crate) fn extract(
    config: &FeatureConfig,
    segmenter: &Segmenter,
    text: &str,
    mut emit: impl FnMut(Block, u64, Origin),
) -> Analysed {
    let normalised = normalise(text, config.fold_digits);
    let mut words_out = Vec::new();
    if config.word_ngrams > 0 {
        let words = segmenter.words(&normalised);
        let hashes: Vec<u64> = words
            .iter()
            .map(|w| fnv_bytes(fnv_bytes(FNV_OFFSET, b"w"), w.as_bytes()))
            .collect();
        for start in 0..hashes.len() {
            let mut key = fnv_bytes(FNV_OFFSET, b"W");
            for n in 1..=config.word_ngrams.min(hashes.len() - start) {
                key = fnv_bytes(key, &hashes[start + n - 1].to_le_bytes());
                let key = if n == 1 { hashes[start] } else { key };
                emit(
                    Block::Word,
                    key,
                    Origin::Words {
                        start: start as u32,
                        n: n as u8,
                    },
                );
            }
        }
        words_out = words.into_iter().map(str::to_owned).collect();
    }
    let chars: Vec<char> = normalised.chars().filter(|c| !c.is_whitespace()).collect();
    if config.char_max > 0 {
        let base = fnv_bytes(FNV_OFFSET, b"c");
        for start in 0..chars.len() {
            let mut key = base;
            for n in 1..=config.char_max.min(chars.len() - start) {
                key = fnv_bytes(key, &(chars[start + n - 1] as u32).to_le_bytes());
                if n >= config.char_min {
                    emit(
                        Block::Char,
                        key,
                        Origin::Chars {
                            start: start as u32,
                            n: n as u8,
                        },
                    );
                }
            }
        }
    }
    Analysed {
        chars,
        words: words_out,
    }
}

/// Sublinear term frequency, as scikit-learn's `sublinear_tf=True`.
#[inline]
pub(crate) fn sublinear_tf(count: u32) -> f32 {
    1.0 + (count as f32).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_folds_width_case_and_truncates() {
        assert_eq!(normalise("ＡＢＣ１２３　x", false), "abc123 x");
        assert_eq!(normalise("a1b22", true), "a0b00");
        let long = "字".repeat(MAX_CHARS + 10);
        assert_eq!(normalise(&long, false).chars().count(), MAX_CHARS);
    }

    #[test]
    fn the_same_ngram_gets_the_same_key_wherever_it_occurs() {
        let segmenter = Segmenter::new();
        let config = FeatureConfig::default();
        let mut keys = Vec::new();
        let analysed = extract(
            &config,
            &segmenter,
            "路灯 路灯",
            |block, key, origin| {
                keys.push((block, key, origin));
            },
        );
        let chars: Vec<_> = keys
            .iter()
            .filter(|(b, _, _)| *b == Block::Char)
            .map(|(_, key, origin)| (*key, analysed.feature_text(*origin)))
            .collect();
        let lu: Vec<_> = chars.iter().filter(|(_, t)| t == "路灯").collect();
        assert_eq!(lu.len(), 2);
        assert_eq!(lu[0].0, lu[1].0);
        let words: Vec<_> = keys
            .iter()
            .filter(|(b, _, _)| *b == Block::Word)
            .map(|(_, _, origin)| analysed.feature_text(*origin))
            .collect();
        assert_eq!(words, ["路灯", "路灯 路灯", "路灯"]);
    }
}
