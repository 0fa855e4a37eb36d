//! How text becomes terms: jieba words (through `tantivy-jieba`, with the classifier's
//! dictionary) and character 1- and 2-grams. Both drop punctuation and fold ASCII case.
//!
//! Words carry meaning (物业费, 公积金) but jieba splits unknown names and typos unpredictably;
//! character bigrams match whatever jieba split differently (place names such as 大托新村,
//! a reply quoting the message), so the index holds both and the ranking weighs them.

use std::sync::{Arc, Mutex};

use hotline_classify::segment::Segmenter;
use tantivy::tokenizer::{LowerCaser, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer};
use tantivy_jieba::JiebaTokenizer;

/// The tokenizer names the schema refers to.
pub const WORDS: &str = "kb_words";
pub const UNIGRAMS: &str = "kb_unigrams";
pub const BIGRAMS: &str = "kb_bigrams";
pub const TRIGRAMS: &str = "kb_trigrams";
pub const QUADGRAMS: &str = "kb_quadgrams";

/// `tantivy-jieba`'s tokenizer, shared. tantivy clones a field's tokenizer for every segment
/// writer, query and snippet; cloning a jieba dictionary costs milliseconds, so the clones
/// share one behind a lock held only while a text is cut.
#[derive(Clone)]
pub struct SharedJieba(Arc<Mutex<JiebaTokenizer>>);

impl SharedJieba {
    /// jieba in search mode (a long word also yields its dictionary sub-words, so 公积金贷款
    /// finds 公积金), with the classifier's dictionary.
    pub fn new(segmenter: &Segmenter) -> Self {
        Self(Arc::new(Mutex::new(JiebaTokenizer::with_jieba(
            segmenter.jieba().clone(),
        ))))
    }
}

impl Tokenizer for SharedJieba {
    type TokenStream<'a> = CutTokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CutTokens {
        // The stream borrows the tokenizer for as long as it lives, so the words are collected
        // while the lock is held and handed out afterwards. A poisoned lock only means another
        // thread panicked while cutting: the dictionary is read-only and still whole.
        let mut jieba = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut stream = jieba.token_stream(text);
        let mut tokens = Vec::new();
        while stream.advance() {
            tokens.push(stream.token().clone());
        }
        CutTokens {
            tokens: tokens.into_iter(),
            current: Token::default(),
        }
    }
}

/// The words jieba cut from one text.
pub struct CutTokens {
    tokens: std::vec::IntoIter<Token>,
    current: Token,
}

impl TokenStream for CutTokens {
    fn advance(&mut self) -> bool {
        match self.tokens.next() {
            Some(token) => {
                self.current = token;
                true
            }
            None => false,
        }
    }
    fn token(&self) -> &Token {
        &self.current
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

/// Drops tokens with no letter or digit (punctuation, spaces).
#[derive(Clone, Copy, Debug, Default)]
pub struct DropPunctuation;

impl TokenFilter for DropPunctuation {
    type Tokenizer<T: Tokenizer> = DropPunctuationTokenizer<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> Self::Tokenizer<T> {
        DropPunctuationTokenizer(tokenizer)
    }
}

#[derive(Clone)]
pub struct DropPunctuationTokenizer<T>(T);

impl<T: Tokenizer> Tokenizer for DropPunctuationTokenizer<T> {
    type TokenStream<'a> = DropPunctuationStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        DropPunctuationStream(self.0.token_stream(text))
    }
}

pub struct DropPunctuationStream<S>(S);

impl<S: TokenStream> TokenStream for DropPunctuationStream<S> {
    fn advance(&mut self) -> bool {
        while self.0.advance() {
            if self.0.token().text.chars().any(char::is_alphanumeric) {
                return true;
            }
        }
        false
    }
    fn token(&self) -> &Token {
        self.0.token()
    }
    fn token_mut(&mut self) -> &mut Token {
        self.0.token_mut()
    }
}

/// Character n-grams (n = 1 to 4) inside runs of letters and digits: a gram never spans
/// punctuation or a space, so "路口，马坡岭" gives no "口马".
#[derive(Clone, Copy, Debug)]
pub struct CharGrams {
    n: usize,
}

impl CharGrams {
    pub fn unigrams() -> Self {
        Self { n: 1 }
    }
    pub fn bigrams() -> Self {
        Self { n: 2 }
    }
    pub fn trigrams() -> Self {
        Self { n: 3 }
    }
    pub fn quadgrams() -> Self {
        Self { n: 4 }
    }
}

impl Tokenizer for CharGrams {
    type TokenStream<'a> = CharGramStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CharGramStream<'a> {
        CharGramStream {
            text,
            n: self.n,
            next: 0,
            position: 0,
            token: Token::default(),
        }
    }
}

pub struct CharGramStream<'a> {
    text: &'a str,
    n: usize,
    /// The byte offset where the next gram may start.
    next: usize,
    position: usize,
    token: Token,
}

impl TokenStream for CharGramStream<'_> {
    fn advance(&mut self) -> bool {
        while self.next < self.text.len() {
            let rest = &self.text[self.next..];
            let mut chars = rest.char_indices();
            let Some((_, first)) = chars.next() else {
                return false;
            };
            let start = self.next;
            self.next += first.len_utf8();
            if !first.is_alphanumeric() {
                continue;
            }
            let mut end = start + first.len_utf8();
            let mut taken = 1;
            for (_, c) in chars {
                if taken == self.n || !c.is_alphanumeric() {
                    break;
                }
                end += c.len_utf8();
                taken += 1;
            }
            if taken < self.n {
                // The run ends here, too short for an n-gram.
                continue;
            }
            self.token.text.clear();
            self.token.text.push_str(&self.text[start..end]);
            self.token.offset_from = start;
            self.token.offset_to = end;
            self.token.position = self.position;
            self.token.position_length = 1;
            self.position += 1;
            return true;
        }
        false
    }
    fn token(&self) -> &Token {
        &self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// The analyzers, built once and cloned cheaply.
#[derive(Clone)]
pub struct Analyzers {
    pub words: TextAnalyzer,
    pub unigrams: TextAnalyzer,
    pub bigrams: TextAnalyzer,
    pub trigrams: TextAnalyzer,
    pub quadgrams: TextAnalyzer,
}

impl Analyzers {
    pub fn new(segmenter: &Segmenter) -> Self {
        Self {
            words: TextAnalyzer::builder(SharedJieba::new(segmenter))
                .filter(DropPunctuation)
                .filter(LowerCaser)
                .build(),
            unigrams: TextAnalyzer::builder(CharGrams::unigrams())
                .filter(LowerCaser)
                .build(),
            bigrams: TextAnalyzer::builder(CharGrams::bigrams())
                .filter(LowerCaser)
                .build(),
            trigrams: TextAnalyzer::builder(CharGrams::trigrams())
                .filter(LowerCaser)
                .build(),
            quadgrams: TextAnalyzer::builder(CharGrams::quadgrams())
                .filter(LowerCaser)
                .build(),
        }
    }

    /// Registers the analyzers under the names the schema uses.
    pub fn register(&self, index: &tantivy::Index) {
        let manager = index.tokenizers();
        manager.register(WORDS, self.words.clone());
        manager.register(UNIGRAMS, self.unigrams.clone());
        manager.register(BIGRAMS, self.bigrams.clone());
        manager.register(TRIGRAMS, self.trigrams.clone());
        manager.register(QUADGRAMS, self.quadgrams.clone());
    }
}

/// The terms `analyzer` makes of `text`, in order.
pub fn terms(analyzer: &TextAnalyzer, text: &str) -> Vec<String> {
    let mut analyzer = analyzer.clone();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigrams_stay_inside_runs_of_letters() {
        let analyzers = Analyzers::new(&Segmenter::new());
        assert_eq!(
            terms(&analyzers.bigrams, "路口，马坡岭 A2区"),
            ["路口", "马坡", "坡岭", "a2", "2区"]
        );
        assert_eq!(terms(&analyzers.unigrams, "路口，A"), ["路", "口", "a"]);
        assert_eq!(
            terms(&analyzers.trigrams, "马坡岭小，路口"),
            ["马坡岭", "坡岭小"]
        );
        assert_eq!(terms(&analyzers.quadgrams, "马坡岭小，路口"), ["马坡岭小"]);
    }

    #[test]
    fn words_use_the_classifier_dictionary_and_drop_punctuation() {
        let analyzers = Analyzers::new(&Segmenter::new());
        let words = terms(&analyzers.words, "小区窨井盖丢失，物业费太贵！");
        for expected in ["窨井盖", "物业费"] {
            assert!(words.iter().any(|w| w == expected), "{words:?}");
        }
        assert!(!words.iter().any(|w| w == "，" || w == "！"), "{words:?}");
    }
}
