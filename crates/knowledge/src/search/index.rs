//! The search index: a tantivy index in RAM holding one document per live article, derived
//! from the store and rebuilt from it at will. Filters (category, territory chain, effective
//! on the call's date and not past its review date) are applied when a query runs, because
//! the date moves without any change in the store.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Mutex;

use chrono::{Datelike, NaiveDate};
use hotline_classify::segment::Segmenter;
use hotline_core::{CategoryCode, DivisionCode};
use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use super::ranking::{Ranking, Weights, FEATURE_COUNT};
use super::tokens::{self, Analyzers};
use crate::domain::{division_chain, ArticleId, Level, Version};
use crate::KnowledgeError;

/// The writer's memory budget. 50 MB holds a 100,000-article base in one or two segments.
const WRITER_MEMORY: usize = 50_000_000;
/// Snippet length in characters: about what an operator reads at a glance.
const SNIPPET_CHARS: usize = 120;

/// What the index holds of one article.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The article id (or, offline, any unique key).
    pub key: String,
    pub version: u32,
    pub title: String,
    pub alt_questions: Vec<String>,
    pub answer: String,
    pub categories: Vec<String>,
    pub territories: Vec<String>,
    pub effective_from: Option<NaiveDate>,
    pub effective_until: Option<NaiveDate>,
    /// The day the owner must look at it again; from the day after, it is not suggested.
    pub review_on: Option<NaiveDate>,
}

impl Entry {
    pub fn of(version: &Version) -> Self {
        let c = &version.content;
        Self {
            key: version.article.to_string(),
            version: version.number,
            title: c.title.clone(),
            alt_questions: c.alt_questions.clone(),
            answer: c.answer.clone(),
            categories: c.categories.iter().map(|c| c.as_str().to_owned()).collect(),
            territories: c
                .territories
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            effective_from: Some(c.effective_from),
            effective_until: c.effective_until,
            review_on: c.review_on,
        }
    }
}

/// What a search looks for.
#[derive(Debug, Clone)]
pub struct SearchRequest<'a> {
    /// What the operator typed, or the caller's message.
    pub text: &'a str,
    /// Articles of any of these categories; empty: any category.
    pub categories: &'a [CategoryCode],
    /// The caller's division: articles of its street, district or city. `None` (territory not
    /// resolved): city-wide articles only.
    pub territory: Option<&'a DivisionCode>,
    /// The call's date: articles in effect that day.
    pub on: NaiveDate,
    pub limit: usize,
}

/// One article found.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub key: String,
    pub version: u32,
    pub title: String,
    pub score: f32,
    /// The passage of the answer that matches best, as plain text.
    pub fragment: String,
    /// Byte ranges of `fragment` to highlight.
    pub highlighted: Vec<std::ops::Range<usize>>,
    /// `fragment` with the matches in `<b>`, everything else HTML-escaped (an article's own
    /// markup is shown as text).
    pub snippet_html: String,
}

impl Hit {
    pub fn article(&self) -> Result<ArticleId, KnowledgeError> {
        ArticleId::parse("key", &self.key).map_err(|e| KnowledgeError::Corrupt(e.message))
    }
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    key: Field,
    version: Field,
    seq: Field,
    title: Field,
    question_words: Field,
    question_bigrams: Field,
    answer_words: Field,
    answer_bigrams: Field,
    answer_unigrams: Field,
    answer_trigrams: Field,
    answer_quadgrams: Field,
    categories: Field,
    territories: Field,
    levels: Field,
    from_day: Field,
    until_day: Field,
    review_day: Field,
}

fn text_field(
    builder: &mut tantivy::schema::SchemaBuilder,
    name: &str,
    tokenizer: &str,
    stored: bool,
) -> Field {
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(tokenizer)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let mut options = TextOptions::default().set_indexing_options(indexing);
    if stored {
        options = options.set_stored();
    }
    builder.add_text_field(name, options)
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        key: b.add_text_field("key", STRING | STORED),
        version: b.add_u64_field("version", STORED),
        seq: b.add_u64_field("seq", FAST),
        title: b.add_text_field("title", STORED),
        question_words: text_field(&mut b, "question_words", tokens::WORDS, false),
        question_bigrams: text_field(&mut b, "question_bigrams", tokens::BIGRAMS, false),
        answer_words: text_field(&mut b, "answer_words", tokens::WORDS, true),
        answer_bigrams: text_field(&mut b, "answer_bigrams", tokens::BIGRAMS, false),
        answer_unigrams: text_field(&mut b, "answer_unigrams", tokens::UNIGRAMS, false),
        answer_trigrams: text_field(&mut b, "answer_trigrams", tokens::TRIGRAMS, false),
        answer_quadgrams: text_field(&mut b, "answer_quadgrams", tokens::QUADGRAMS, false),
        categories: b.add_text_field("categories", STRING),
        territories: b.add_text_field("territories", STRING),
        levels: b.add_text_field("levels", STRING),
        from_day: b.add_i64_field("from_day", INDEXED | FAST),
        until_day: b.add_i64_field("until_day", INDEXED | FAST),
        review_day: b.add_i64_field("review_day", INDEXED | FAST),
    };
    (b.build(), fields)
}

/// A character gram of the second stage: (its length n, the gram).
type Gram = (u8, String);

/// A text's grams with their unit TF-IDF weight and (for a query) their unit tf·idf² weight.
type GramVector = Vec<(Gram, f32, f32)>;

fn day(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

/// The runs of two or more digits in `text`, each once: house, bus-line and policy numbers.
fn numbers(text: &str) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            if run.len() >= 2 {
                out.insert(std::mem::take(&mut run));
            }
            run.clear();
        }
    }
    out.into_iter().collect()
}

/// Whether a jieba word names a place: a word of three or more characters ending in one of
/// the suffixes of estates, roads, streets, towns and villages (a bare 小区 names none).
fn is_place(word: &str) -> bool {
    const SUFFIXES: [&str; 16] = [
        "小区", "社区", "花园", "新村", "街道", "大道", "公寓", "广场", "路", "街", "镇", "村",
        "巷", "苑", "园", "桥",
    ];
    word.chars().count() >= 3 && SUFFIXES.iter().any(|s| word.ends_with(s))
}

/// The highlight ranges that lie within `fragment` on character boundaries, sorted, with
/// overlaps merged. jieba's search mode yields a word and its sub-words at overlapping
/// offsets, and tantivy (0.26) can then compute a range starting before the fragment, which
/// underflows to a huge offset and makes its own `Snippet::to_html` panic; such a range is
/// dropped here instead.
fn valid_ranges(fragment: &str, ranges: &[std::ops::Range<usize>]) -> Vec<std::ops::Range<usize>> {
    let mut valid: Vec<std::ops::Range<usize>> = ranges
        .iter()
        .filter(|r| {
            r.start < r.end
                && r.end <= fragment.len()
                && fragment.is_char_boundary(r.start)
                && fragment.is_char_boundary(r.end)
        })
        .cloned()
        .collect();
    valid.sort_by_key(|r| (r.start, r.end));
    let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(valid.len());
    for range in valid {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// `fragment` with `ranges` (from [`valid_ranges`]) in `<b>`, everything else escaped.
fn snippet_html(fragment: &str, ranges: &[std::ops::Range<usize>]) -> String {
    let mut html = String::with_capacity(fragment.len() + ranges.len() * 7);
    let mut from = 0;
    for range in ranges {
        escape_html(&fragment[from..range.start], &mut html);
        html.push_str("<b>");
        escape_html(&fragment[range.clone()], &mut html);
        html.push_str("</b>");
        from = range.end;
    }
    escape_html(&fragment[from..], &mut html);
    html
}

/// The index and its writer. Searches take no lock; writes are serialised.
pub struct KnowledgeIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    analyzers: Analyzers,
    ranking: Ranking,
    next_seq: Mutex<u64>,
    /// The idf of every gram a second stage has looked up, for the searcher generation it
    /// was read from. A gram's document frequency is a term-dictionary lookup, and a long
    /// query's 100 candidates have thousands of distinct grams, most of them met before.
    idf_cache: std::sync::RwLock<(u64, std::collections::HashMap<Gram, f32>)>,
}

/// Past this many grams the idf cache starts over, so that its memory stays bounded (about
/// 50 MB).
const IDF_CACHE_GRAMS: usize = 1_000_000;

impl std::fmt::Debug for KnowledgeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeIndex")
            .field("ranking", &self.ranking)
            .finish_non_exhaustive()
    }
}

impl KnowledgeIndex {
    /// An empty index in RAM: it is derived from the store and rebuilt at start, so nothing
    /// is gained by keeping it on disk.
    pub fn new(segmenter: &Segmenter, ranking: Ranking) -> Result<Self, KnowledgeError> {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        let analyzers = Analyzers::new(segmenter);
        analyzers.register(&index);
        // One indexing thread: the machine's cores belong to the router; a rebuild of a
        // 100,000-article base still takes seconds.
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            reader,
            writer: Mutex::new(writer),
            fields,
            analyzers,
            ranking,
            next_seq: Mutex::new(0),
            idf_cache: Default::default(),
        })
    }

    pub fn ranking(&self) -> &Ranking {
        &self.ranking
    }

    /// How many articles the index holds.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn document(&self, entry: &Entry, seq: u64) -> TantivyDocument {
        let f = &self.fields;
        let mut doc = TantivyDocument::new();
        doc.add_text(f.key, &entry.key);
        doc.add_u64(f.version, u64::from(entry.version));
        doc.add_u64(f.seq, seq);
        doc.add_text(f.title, &entry.title);
        for question in std::iter::once(&entry.title).chain(&entry.alt_questions) {
            if question.is_empty() {
                continue;
            }
            doc.add_text(f.question_words, question);
            doc.add_text(f.question_bigrams, question);
        }
        doc.add_text(f.answer_words, &entry.answer);
        doc.add_text(f.answer_bigrams, &entry.answer);
        doc.add_text(f.answer_unigrams, &entry.answer);
        doc.add_text(f.answer_trigrams, &entry.answer);
        if self.ranking.needs_quadgrams() {
            doc.add_text(f.answer_quadgrams, &entry.answer);
        }
        for category in &entry.categories {
            doc.add_text(f.categories, category);
        }
        for territory in &entry.territories {
            doc.add_text(f.territories, territory);
            let level = DivisionCode::parse("territory", territory)
                .ok()
                .and_then(|code| Level::of(&code));
            if level == Some(Level::City) {
                doc.add_text(f.levels, "city");
            }
        }
        doc.add_i64(f.from_day, entry.effective_from.map_or(i64::MIN, day));
        doc.add_i64(f.until_day, entry.effective_until.map_or(i64::MAX, day));
        doc.add_i64(f.review_day, entry.review_on.map_or(i64::MAX, day));
        doc
    }

    /// Replaces the whole content with `entries` (a rebuild).
    pub fn replace_all(&self, entries: &[Entry]) -> Result<(), KnowledgeError> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut seq = self.next_seq.lock().unwrap_or_else(|e| e.into_inner());
        writer.delete_all_documents()?;
        for entry in entries {
            writer.add_document(self.document(entry, *seq))?;
            *seq += 1;
        }
        writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Adds or replaces the given entries and removes the given keys, in one commit.
    pub fn update(&self, upserts: &[Entry], removals: &[String]) -> Result<(), KnowledgeError> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut seq = self.next_seq.lock().unwrap_or_else(|e| e.into_inner());
        for key in removals {
            writer.delete_term(Term::from_field_text(self.fields.key, key));
        }
        for entry in upserts {
            writer.delete_term(Term::from_field_text(self.fields.key, &entry.key));
            writer.add_document(self.document(entry, *seq))?;
            *seq += 1;
        }
        writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// The ranking query for `text`: every distinct term of each weighted field, boosted by
    /// the field's weight and the term's count in the text. `None` if `text` has no term.
    fn text_query(&self, text: &str, weights: &Weights) -> Option<Box<dyn Query>> {
        let f = &self.fields;
        let a = &self.analyzers;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut by_analyzer = |analyzer: &tantivy::tokenizer::TextAnalyzer,
                               targets: &[(Field, f32)]| {
            if targets.iter().all(|(_, w)| *w <= 0.0) {
                return;
            }
            let mut counts: BTreeMap<String, u32> = BTreeMap::new();
            for term in tokens::terms(analyzer, text) {
                *counts.entry(term).or_default() += 1;
            }
            for (term, count) in &counts {
                let weight = weights.query_tf.weight(*count);
                for &(field, boost) in targets {
                    if boost <= 0.0 {
                        continue;
                    }
                    let query = TermQuery::new(
                        Term::from_field_text(field, term),
                        IndexRecordOption::WithFreqs,
                    );
                    clauses.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(query), boost * weight)),
                    ));
                }
            }
        };
        by_analyzer(
            &a.words,
            &[
                (f.answer_words, weights.answer_words),
                (f.question_words, weights.question_words),
            ],
        );
        by_analyzer(
            &a.bigrams,
            &[
                (f.answer_bigrams, weights.answer_bigrams),
                (f.question_bigrams, weights.question_bigrams),
            ],
        );
        by_analyzer(&a.unigrams, &[(f.answer_unigrams, weights.answer_unigrams)]);
        by_analyzer(&a.trigrams, &[(f.answer_trigrams, weights.answer_trigrams)]);
        if clauses.is_empty() {
            return None;
        }
        Some(Box::new(BooleanQuery::new(clauses)))
    }

    fn filters(&self, request: &SearchRequest<'_>) -> Vec<Box<dyn Query>> {
        let f = &self.fields;
        let any_of = |field: Field, values: &mut dyn Iterator<Item = String>| -> Box<dyn Query> {
            let clauses: Vec<(Occur, Box<dyn Query>)> = values
                .map(|v| {
                    let q: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_field_text(field, &v),
                        IndexRecordOption::Basic,
                    ));
                    (Occur::Should, q)
                })
                .collect();
            Box::new(BooleanQuery::new(clauses))
        };
        let mut filters: Vec<Box<dyn Query>> = Vec::new();
        if !request.categories.is_empty() {
            filters.push(any_of(
                f.categories,
                &mut request.categories.iter().map(|c| c.as_str().to_owned()),
            ));
        }
        let chain = request.territory.map(division_chain).unwrap_or_default();
        if chain.is_empty() {
            filters.push(any_of(f.levels, &mut std::iter::once("city".to_owned())));
        } else {
            filters.push(any_of(f.territories, &mut chain.into_iter()));
        }
        let on = day(request.on);
        filters.push(Box::new(RangeQuery::new(
            Bound::Unbounded,
            Bound::Included(Term::from_field_i64(f.from_day, on)),
        )));
        filters.push(Box::new(RangeQuery::new(
            Bound::Included(Term::from_field_i64(f.until_day, on)),
            Bound::Unbounded,
        )));
        // An answer past its review date may be out of date: it goes to the owner's review
        // list (`Knowledge::review_due`) instead of to callers. Like the effective dates, this
        // is the call's date, not the build's: an index built yesterday drops it today.
        filters.push(Box::new(RangeQuery::new(
            Bound::Included(Term::from_field_i64(f.review_day, on)),
            Bound::Unbounded,
        )));
        filters
    }

    /// The best `request.limit` live articles for the request, best first, with snippets.
    pub fn search(&self, request: &SearchRequest<'_>) -> Result<Vec<Hit>, KnowledgeError> {
        let Some(text) = self.text_query(request.text, self.ranking.profile(request.text)) else {
            return Ok(Vec::new());
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text)];
        for filter in self.filters(request) {
            // A filter selects; it must not change the ranking.
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let weights = self.ranking.profile(request.text);
        let first = searcher.search(
            &query,
            &TopDocs::with_limit(request.limit.max(weights.rerank_depth).max(1)).order_by_score(),
        )?;
        let mut top = self.rerank(&searcher, request.text, weights, first)?;
        top.truncate(request.limit.max(1));
        let mut snippets = SnippetGenerator::create(&searcher, &query, self.fields.answer_words)?;
        snippets.set_max_num_chars(SNIPPET_CHARS);
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text_of = |field: Field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let snippet = snippets.snippet_from_doc(&doc);
            let highlighted = valid_ranges(snippet.fragment(), snippet.highlighted());
            hits.push(Hit {
                key: text_of(self.fields.key),
                version: doc
                    .get_first(self.fields.version)
                    .and_then(|v| v.as_u64())
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or_default(),
                title: text_of(self.fields.title),
                score,
                snippet_html: snippet_html(snippet.fragment(), &highlighted),
                fragment: snippet.fragment().to_owned(),
                highlighted,
            });
        }
        Ok(hits)
    }

    /// The second stage: the first `weights.rerank_depth` documents BM25 found are scored
    /// again by a linear combination of their features ([`super::ranking::FEATURES`]). BM25
    /// rewards long answers that repeat a query's grams; the cosines normalise both sides,
    /// which the civic corpus showed to matter. The reranked documents stay ahead of the
    /// rest, whose order is BM25's.
    fn rerank(
        &self,
        searcher: &tantivy::Searcher,
        text: &str,
        weights: &Weights,
        first: Vec<(f32, tantivy::DocAddress)>,
    ) -> Result<Vec<(f32, tantivy::DocAddress)>, KnowledgeError> {
        let best = first.first().map_or(0.0, |(s, _)| *s);
        if weights.rerank_depth == 0 || weights.features.iter().all(|w| *w == 0.0) || best <= 0.0 {
            return Ok(first);
        }
        let needed = weights.features.map(|w| w != 0.0);
        let features = self.features(searcher, text, weights.rerank_depth, &first, needed)?;
        let blended: Vec<f32> = features
            .iter()
            .map(|f| f.iter().zip(&weights.features).map(|(x, w)| x * w).sum())
            .collect();
        let low = blended.iter().copied().fold(f32::INFINITY, f32::min);
        let high = blended.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let span = (high - low).max(1e-6);
        // Reranked scores in [2, 3], the rest keep BM25's over the best in (0, 1]: the order
        // of the two groups never mixes, and every score stays positive.
        let mut reranked: Vec<(f32, tantivy::DocAddress)> = blended
            .iter()
            .zip(&first)
            .map(|(b, &(_, address))| (2.0 + (b - low) / span, address))
            .collect();
        reranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let depth = reranked.len();
        reranked.extend(first[depth..].iter().map(|&(s, a)| (s / best, a)));
        Ok(reranked)
    }

    /// The second stage's features of the first `depth` of `first` (BM25's order). Only the
    /// `needed` ones are computed (the rest are 0): every query pays for the 3-4-gram
    /// vectors of its candidates or jieba on itself only when a weight uses them.
    fn features(
        &self,
        searcher: &tantivy::Searcher,
        text: &str,
        depth: usize,
        first: &[(f32, tantivy::DocAddress)],
        needed: [bool; FEATURE_COUNT],
    ) -> Result<Vec<[f32; FEATURE_COUNT]>, KnowledgeError> {
        let groups = [needed[1] || needed[7], needed[2] || needed[8]];
        let needs_answer = groups[0] || groups[1] || needed[3] || needed[4] || needed[5];
        let depth = depth.min(first.len());
        let best = first
            .first()
            .map_or(0.0, |(s, _)| *s)
            .max(f32::MIN_POSITIVE);
        let n = searcher.num_docs() as f32;
        let a = &self.analyzers;
        let f = &self.fields;
        let generation = searcher.generation().generation_id();
        let cache = self.idf_cache.read().unwrap_or_else(|e| e.into_inner());
        let shared = (cache.0 == generation).then_some(&cache.1);
        let mut idf: std::collections::HashMap<Gram, f32> = Default::default();
        // (grams of the short group, grams of the long group) as unit TF-IDF vectors.
        let mut vectors = |text: &str, query: bool| -> Result<[GramVector; 2], KnowledgeError> {
            let mut out: [GramVector; 2] = Default::default();
            for (group, sizes) in [(0usize, [1u8, 2]), (1, [3, 4])] {
                if !groups[group] {
                    continue;
                }
                let mut counts: BTreeMap<Gram, u32> = BTreeMap::new();
                for size in sizes {
                    let analyzer = match size {
                        1 => &a.unigrams,
                        2 => &a.bigrams,
                        3 => &a.trigrams,
                        _ => &a.quadgrams,
                    };
                    for gram in tokens::terms(analyzer, text) {
                        *counts.entry((size, gram)).or_default() += 1;
                    }
                }
                let vector = &mut out[group];
                vector.reserve(counts.len());
                for (key, count) in counts {
                    let weight = match shared.and_then(|c| c.get(&key)).or_else(|| idf.get(&key)) {
                        Some(w) => *w,
                        None => {
                            let field = match key.0 {
                                1 => f.answer_unigrams,
                                2 => f.answer_bigrams,
                                3 => f.answer_trigrams,
                                _ => f.answer_quadgrams,
                            };
                            let df =
                                searcher.doc_freq(&Term::from_field_text(field, &key.1))? as f32;
                            let w = ((1.0 + n) / (1.0 + df)).ln() + 1.0;
                            idf.insert(key.clone(), w);
                            w
                        }
                    };
                    let tf = 1.0 + (count as f32).ln();
                    // The second weight (idf²) only matters on the query's side.
                    let squared = if query { tf * weight * weight } else { 0.0 };
                    vector.push((key, tf * weight, squared));
                }
                for pick in [0, 1] {
                    let norm = vector
                        .iter()
                        .map(|v| if pick == 0 { v.1 * v.1 } else { v.2 * v.2 })
                        .sum::<f32>()
                        .sqrt();
                    if norm > 0.0 {
                        for v in vector.iter_mut() {
                            if pick == 0 {
                                v.1 /= norm;
                            } else {
                                v.2 /= norm;
                            }
                        }
                    }
                }
            }
            Ok(out)
        };
        let [short, long] = vectors(text, true)?;
        let short: std::collections::HashMap<Gram, (f32, f32)> =
            short.into_iter().map(|(k, w, s)| (k, (w, s))).collect();
        let long: std::collections::HashMap<Gram, (f32, f32)> =
            long.into_iter().map(|(k, w, s)| (k, (w, s))).collect();
        let numbers = if needed[3] { numbers(text) } else { Vec::new() };
        let places: Vec<String> = if needed[4] {
            tokens::terms(&a.words, text)
                .into_iter()
                .filter(|w| is_place(w))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect()
        } else {
            Vec::new()
        };
        let mut out = Vec::with_capacity(depth);
        for (rank, &(score, address)) in first[..depth].iter().enumerate() {
            if !needs_answer {
                out.push([
                    score / best,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    1.0 / (rank + 1) as f32,
                    0.0,
                    0.0,
                ]);
                continue;
            }
            let doc: TantivyDocument = searcher.doc(address)?;
            let answer = doc
                .get_first(f.answer_words)
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            let [s, l] = vectors(answer, false)?;
            let dot = |query: &std::collections::HashMap<Gram, (f32, f32)>,
                       doc: &[(Gram, f32, f32)]| {
                doc.iter()
                    .filter_map(|(key, w, _)| query.get(key).map(|q| (q.0 * w, q.1 * w)))
                    .fold((0.0, 0.0), |acc, x| (acc.0 + x.0, acc.1 + x.1))
            };
            let (cos12, cos12_2) = dot(&short, &s);
            let (cos34, cos34_2) = dot(&long, &l);
            let share = |items: &[String]| {
                if items.is_empty() {
                    0.0
                } else {
                    items
                        .iter()
                        .filter(|i| answer.contains(String::as_str(i)))
                        .count() as f32
                        / items.len() as f32
                }
            };
            out.push([
                score / best,
                cos12,
                cos34,
                share(&numbers),
                share(&places),
                (1.0 + answer.chars().count() as f32).ln() / 10.0,
                1.0 / (rank + 1) as f32,
                cos12_2,
                cos34_2,
            ]);
        }
        drop(cache);
        if !idf.is_empty() {
            let mut cache = self.idf_cache.write().unwrap_or_else(|e| e.into_inner());
            if cache.0 != generation || cache.1.len() + idf.len() > IDF_CACHE_GRAMS {
                // A newer index (or a full cache): the frequencies start over. A query still
                // on an older searcher just refills it; idf drifts little between commits.
                *cache = (generation, Default::default());
            }
            cache.1.extend(idf);
        }
        Ok(out)
    }

    /// The second stage's features of BM25's best `weights.rerank_depth` for `text`, as
    /// (insertion order, features), in BM25's order (for tuning the features' weights).
    pub fn candidate_features(
        &self,
        text: &str,
        weights: &Weights,
    ) -> Result<Vec<(u64, [f32; FEATURE_COUNT])>, KnowledgeError> {
        let Some(query) = self.text_query(text, weights) else {
            return Ok(Vec::new());
        };
        let searcher = self.reader.searcher();
        let first = searcher.search(
            &query,
            &TopDocs::with_limit(weights.rerank_depth.max(1)).order_by_score(),
        )?;
        let features = self.features(
            &searcher,
            text,
            weights.rerank_depth,
            &first,
            [true; FEATURE_COUNT],
        )?;
        let seqs = self.seqs(&searcher, first.iter().map(|(_, a)| *a))?;
        Ok(seqs.into_iter().zip(features).collect())
    }

    fn seqs(
        &self,
        searcher: &tantivy::Searcher,
        addresses: impl Iterator<Item = tantivy::DocAddress>,
    ) -> Result<Vec<u64>, KnowledgeError> {
        let mut columns = Vec::with_capacity(searcher.segment_readers().len());
        for segment in searcher.segment_readers() {
            columns.push(segment.fast_fields().u64("seq")?);
        }
        Ok(addresses
            .map(|address| {
                columns[address.segment_ord as usize]
                    .first(address.doc_id)
                    .unwrap_or(u64::MAX)
            })
            .collect())
    }

    /// Every document that matches `text`, as (score, insertion order) with no filter: the
    /// offline evaluation ranks the whole base.
    pub fn score_all(&self, text: &str) -> Result<Vec<(f32, u64)>, KnowledgeError> {
        self.score_all_with(text, self.ranking.profile(text))
    }

    /// [`KnowledgeIndex::score_all`] with the given weights instead of the index's own (for
    /// tuning them).
    pub fn score_all_with(
        &self,
        text: &str,
        weights: &Weights,
    ) -> Result<Vec<(f32, u64)>, KnowledgeError> {
        let Some(query) = self.text_query(text, weights) else {
            return Ok(Vec::new());
        };
        let searcher = self.reader.searcher();
        let limit = usize::try_from(searcher.num_docs())
            .unwrap_or(usize::MAX)
            .max(1);
        let first = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        let top = self.rerank(&searcher, text, weights, first)?;
        let mut columns = Vec::with_capacity(searcher.segment_readers().len());
        for segment in searcher.segment_readers() {
            columns.push(segment.fast_fields().u64("seq")?);
        }
        Ok(top
            .into_iter()
            .filter_map(|(score, address)| {
                columns[address.segment_ord as usize]
                    .first(address.doc_id)
                    .map(|seq| (score, seq))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_runs_of_two_or_more_digits_and_places_end_in_a_place_suffix() {
        assert_eq!(numbers("A2区12栋，2019年4月，1路"), ["12", "2019"]);
        assert!(is_place("桂花坪街道"));
        assert!(is_place("景蓉华苑"));
        assert!(!is_place("小区"));
        assert!(!is_place("物业费"));
    }

    #[test]
    fn four_grams_are_indexed_only_when_a_profile_weighs_them() {
        let mut ranking = Ranking::default();
        assert!(!ranking.needs_quadgrams());
        ranking.long.features[2] = 0.3;
        assert!(ranking.needs_quadgrams());
    }

    #[test]
    fn a_highlight_out_of_the_fragment_is_dropped_not_a_panic() {
        let fragment = "烟雨阁<醉东江>";
        let underflowed = 3..usize::MAX - 5;
        let ranges = valid_ranges(fragment, &[6..9, underflowed, 0..4, 0..6, 3..6, 13..16]);
        assert_eq!(ranges, [0..9, 13..16]);
        assert_eq!(
            snippet_html(fragment, &ranges),
            "<b>烟雨阁</b>&lt;醉<b>东</b>江&gt;"
        );
    }
}
