//! Text -> sparse features: normalisation, optional word n-grams (jieba) and character n-grams,
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
    /// Let jieba's HMM join unknown characters into words (slower; only matters with word
    /// features). Models saved before this setting existed used it.
    #[serde(default = "yes")]
    pub hmm: bool,
}

fn yes() -> bool {
    true
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            // Character 1-3 grams alone score as well as with jieba's word 1-2 grams on the
            // civic dev splits (bodies 0.899 vs 0.900, titles 0.866 vs 0.864) and classify
            // about 3x faster: segmentation and the word features' table misses dominated.
            word_ngrams: 0,
            char_min: 1,
            char_max: 3,
            fold_digits: false,
            word_weight: 1.0,
            hmm: true,
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

/// Per-text buffers, reused from one text to the next: the kept (non-whitespace)
/// characters and the words (byte ranges into the normalised text), from which the text of
/// any feature can be rebuilt for explanations.
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    pub chars: Vec<char>,
    pub words: Vec<(u32, u32)>,
    hashes: Vec<u64>,
}

impl Analysis {
    /// The text of the feature at `origin` (`normalised` is the text given to [`extract`]).
    pub fn feature_text(&self, normalised: &str, origin: Origin) -> String {
        match origin {
            Origin::Words { start, n } => {
                let start = start as usize;
                let mut out = String::new();
                for (i, &(from, to)) in self.words[start..start + n as usize].iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(&normalised[from as usize..to as usize]);
                }
                out
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
    let mut out = String::new();
    normalise_into(text, fold_digits, &mut out);
    out
}

/// [`normalise`] into a reused buffer.
pub(crate) fn normalise_into(text: &str, fold_digits: bool, out: &mut String) {
    out.clear();
    out.reserve(text.len().min(MAX_CHARS * 4));
    for ch in text.chars().take(MAX_CHARS) {
        if ch.is_ascii() {
            let mut b = ch as u8;
            if b.is_ascii_control() {
                b = b' ';
            }
            b = b.to_ascii_lowercase();
            if fold_digits && b.is_ascii_digit() {
                b = b'0';
            }
            out.push(b as char);
            continue;
        }
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

/// Enumerates the features of `normalised` (the output of [`normalise`]), with repeats (the
/// caller counts them), calling `emit(block, key, origin)`. Fills `analysis` so feature texts
/// can be rebuilt for explanations. Allocates nothing once `analysis` has grown.
pub(crate) fn extract(
    config: &FeatureConfig,
    segmenter: &Segmenter,
    normalised: &str,
    analysis: &mut Analysis,
    mut emit: impl FnMut(Block, u64, Origin),
) {
    analysis.words.clear();
    analysis.hashes.clear();
    analysis.chars.clear();
    if config.word_ngrams > 0 {
        let base_ptr = normalised.as_ptr() as usize;
        let word_seed = fnv_bytes(FNV_OFFSET, b"w");
        let words = &mut analysis.words;
        let hashes = &mut analysis.hashes;
        segmenter.words_into(normalised, config.hmm, |word| {
            let from = (word.as_ptr() as usize - base_ptr) as u32;
            words.push((from, from + word.len() as u32));
            hashes.push(fnv_bytes(word_seed, word.as_bytes()));
        });
        let hashes = &analysis.hashes;
        let bigram_seed = fnv_bytes(FNV_OFFSET, b"W");
        for start in 0..hashes.len() {
            let mut key = bigram_seed;
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
    }
    analysis
        .chars
        .extend(normalised.chars().filter(|c| !c.is_whitespace()));
    if config.char_max > 0 {
        let chars = &analysis.chars;
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
}

/// Sublinear term frequency, as scikit-learn's `sublinear_tf=True`.
#[inline]
pub(crate) fn sublinear_tf(count: u32) -> f32 {
    static TABLE: std::sync::OnceLock<[f32; 64]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| std::array::from_fn(|n| 1.0 + (n.max(1) as f32).ln()));
    match table.get(count as usize) {
        Some(&value) => value,
        None => 1.0 + (count as f32).ln(),
    }
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
        let config = FeatureConfig {
            word_ngrams: 2,
            ..FeatureConfig::default()
        };
        let mut keys = Vec::new();
        let mut analysed = Analysis::default();
        let text = normalise("路灯 路灯", false);
        extract(
            &config,
            &segmenter,
            &text,
            &mut analysed,
            |block, key, origin| {
                keys.push((block, key, origin));
            },
        );
        let chars: Vec<_> = keys
            .iter()
            .filter(|(b, _, _)| *b == Block::Char)
            .map(|(_, key, origin)| (*key, analysed.feature_text(&text, *origin)))
            .collect();
        let lu: Vec<_> = chars.iter().filter(|(_, t)| t == "路灯").collect();
        assert_eq!(lu.len(), 2);
        assert_eq!(lu[0].0, lu[1].0);
        let words: Vec<_> = keys
            .iter()
            .filter(|(b, _, _)| *b == Block::Word)
            .map(|(_, _, origin)| analysed.feature_text(&text, *origin))
            .collect();
        assert_eq!(words, ["路灯", "路灯 路灯", "路灯"]);
    }
}
