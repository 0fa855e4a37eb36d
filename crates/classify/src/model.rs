//! The trainable category model: TF-IDF over character 1-3 grams (by default; word n-grams
//! from jieba are optional) with sublinear tf, smooth idf, each block L2-normalised, and a
//! one-vs-rest linear SVM ([`crate::linear`]) over features scaled per label by their
//! naive-Bayes log-count ratio (NB-SVM, folded into the weights), refitted on the 30k
//! strongest features.
//! Training is deterministic for a given seed and input order.
//!
//! Classification allocates nothing but its answer (per-thread scratch buffers), looks each
//! n-gram up once in a compact open-addressing table (bfloat16 idf and weights) and sorts
//! only the few strongest features to explain the top label.
//!
//! Model files are binary (see [`Model::save`]): a magic, a format version, a JSON header
//! (labels, feature settings, user words), the vocabulary, idf and weights, and a checksum,
//! so a damaged or foreign file is refused with a clear error instead of a wrong answer.

use std::io::Read;
use std::path::Path;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::calibration::{Calibration, DEFAULT_SCALE};
use crate::error::ClassifyError;
use crate::features::{self, Analysis, Block, FeatureConfig, Origin, MAX_CHARS};
use crate::linear::{self, Csr, SvmParams};
use crate::segment::Segmenter;

/// One labelled message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub text: String,
    pub label: String,
}

/// Training settings. The defaults are the ones `examples/civic_cv.rs` chose (see `c` below).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub features: FeatureConfig,
    /// SVM cost: larger fits the training set more closely.
    pub c: f64,
    /// Label weighting for macro-F1: each label's positive examples cost
    /// `c * (n / (labels * n_label)) ^ balance`, so 0 weighs every example alike and 1 is
    /// scikit-learn's `class_weight="balanced"`.
    #[serde(default)]
    pub balance: f64,
    /// NB-SVM (Wang & Manning 2012), 0 = off: each label's SVM sees feature `f` scaled by
    /// `|r_f| ^ nb`, where `r_f` is the log ratio of the feature's smoothed document
    /// frequency among the label's examples and among the rest. The scale is folded into the
    /// saved weights, so classification costs the same.
    #[serde(default)]
    pub nb: f64,
    /// Interpolation with the plain SVM (NB-SVM's interpolation, done on whole models): with
    /// `nb > 0`, each label's weights are `(1 - plain_mix) * w_nb + plain_mix * w_plain`, the
    /// plain SVM fitted on the same features without the NB scale. 0 = NB-SVM only. The mix
    /// is folded into the saved weights, so classification costs the same; training twice.
    #[serde(default)]
    pub plain_mix: f64,
    /// Solver stopping tolerance (LIBLINEAR's 0.1).
    pub epsilon: f64,
    pub max_iter: usize,
    /// Drop features seen in fewer documents than this.
    pub min_df: u32,
    pub seed: u64,
    /// Extra words for the segmenter (place names), saved with the model.
    pub user_words: Vec<String>,
    /// Worker threads for feature extraction and the per-class solvers (0 = all cores).
    pub threads: usize,
    /// Keep at most this many features (0 = all): after a first fit, the features with the
    /// largest weight for any label are kept and the model is fitted again on them. A smaller
    /// table is faster to score (fewer cache misses) at a small cost in accuracy.
    pub max_features: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            features: FeatureConfig::default(),
            // Chosen by 5-fold cross-validation on the civic training part only (the 80% that
            // `split::holdout(.., 20, 12345)` leaves), three fold seeds averaged
            // (`examples/civic_cv.rs`): NB-SVM scaling 0.4 and C 0.5 score bodies 0.909,
            // titles 0.864 against 0.901 / 0.858 for the plain SVM with C 1.
            c: 0.5,
            balance: 0.0,
            nb: 0.4,
            plain_mix: 0.0,
            epsilon: 0.1,
            max_iter: 1_000,
            min_df: 2,
            seed: 12_345,
            user_words: Vec::new(),
            threads: 0,
            // Dev splits: 30k features score as well as all ~350k (bodies 0.899 vs 0.897)
            // and the table (1.5 MB) stays in cache.
            max_features: 30_000,
        }
    }
}

/// Reads `text,label` CSV (a header row naming both; other columns are ignored).
pub fn read_examples<R: Read>(reader: R) -> Result<Vec<Example>, ClassifyError> {
    read_examples_with(reader, &[])
}

/// Reads `text,label` CSV and, for each column named in `also_text` (a message's title, say),
/// one more example per non-empty cell with the row's label. A centre's export often carries
/// a short title beside the body; learning from both lets one model serve the operator's
/// short summary and the citizen's long message alike.
pub fn read_examples_with<R: Read>(
    reader: R,
    also_text: &[&str],
) -> Result<Vec<Example>, ClassifyError> {
    Ok(read_grouped(reader, also_text)?.examples)
}

/// Examples with the call each came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labelled {
    pub examples: Vec<Example>,
    /// `groups[i]`: the CSV row example `i` was read from. A body and its title share one, so
    /// cross-validation never trains on one and tests on the other.
    pub groups: Vec<usize>,
}

/// [`read_examples_with`], keeping each example's row (see [`Labelled::groups`]).
pub fn read_grouped<R: Read>(reader: R, also_text: &[&str]) -> Result<Labelled, ClassifyError> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers = csv.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().trim_start_matches('\u{feff}') == name)
            .ok_or_else(|| {
                ClassifyError::Data(format!("the header has no `{name}` column: {headers:?}"))
            })
    };
    let text_at = column("text")?;
    let label_at = column("label")?;
    let also_at = also_text
        .iter()
        .map(|name| column(name).map(|at| (*name, at)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut examples = Vec::new();
    let mut groups = Vec::new();
    let mut also = Vec::new();
    let mut also_groups = Vec::new();
    for (row, record) in csv.records().enumerate() {
        let record = record?;
        let line = row + 2;
        let text = record
            .get(text_at)
            .ok_or_else(|| ClassifyError::Data(format!("row {line}: no text column")))?;
        let label = record
            .get(label_at)
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| ClassifyError::Data(format!("row {line}: no label")))?;
        examples.push(Example {
            text: text.to_owned(),
            label: label.to_owned(),
        });
        groups.push(row);
        // A short row (the CSV is flexible) or an empty cell simply adds nothing: many
        // messages have a body but no title.
        for (_, at) in &also_at {
            if let Some(extra) = record.get(*at).filter(|t| !t.trim().is_empty()) {
                also.push(Example {
                    text: extra.to_owned(),
                    label: label.to_owned(),
                });
                also_groups.push(row);
            }
        }
    }
    // Bodies first, then the extra texts, as `examples/civic_eval.rs` trains.
    examples.extend(also);
    groups.extend(also_groups);
    Ok(Labelled { examples, groups })
}

/// Trains a model from `text,label` CSV.
pub fn train<R: Read>(csv: R, options: &TrainOptions) -> Result<Model, ClassifyError> {
    train_examples(&read_examples(csv)?, options)
}

/// Trains a model from a `text,label` CSV file.
pub fn train_path(path: impl AsRef<Path>, options: &TrainOptions) -> Result<Model, ClassifyError> {
    let path = path.as_ref();
    let file = std::fs::File::open(path)
        .map_err(|e| ClassifyError::io(format!("opening {}", path.display()), e))?;
    train(std::io::BufReader::new(file), options)
}

/// Trains a model from examples already in memory.
pub fn train_examples(
    examples: &[Example],
    options: &TrainOptions,
) -> Result<Model, ClassifyError> {
    let mut labels: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
    labels.sort();
    labels.dedup();
    if labels.len() < 2 {
        return Err(ClassifyError::Data(format!(
            "need at least two labels to train, found {}",
            labels.len()
        )));
    }
    let mut segmenter = Segmenter::new();
    segmenter.add_words(&options.user_words);
    let threads = worker_threads(options.threads);

    // 1. Count each document's features (in parallel, order kept).
    let docs: Vec<Vec<(u64, Block, u32)>> = parallel_map(examples, threads, |example| {
        count_features(&options.features, &segmenter, &example.text)
    });

    // 2. Vocabulary (sorted keys: deterministic indices) and smooth idf.
    let mut df: FxHashMap<u64, u32> = FxHashMap::default();
    for doc in &docs {
        for &(key, _, _) in doc {
            *df.entry(key).or_insert(0) += 1;
        }
    }
    let mut keys: Vec<u64> = df
        .iter()
        .filter(|(_, &n)| n >= options.min_df.max(1))
        .map(|(&k, _)| k)
        .collect();
    keys.sort_unstable();
    let (keys, weights, bias) = fit(examples, &labels, &docs, &df, keys, options, threads);
    let (keys, weights, bias) = if options.max_features > 0 && keys.len() > options.max_features {
        let k = labels.len();
        let mut strength: Vec<(f32, u64)> = keys
            .iter()
            .enumerate()
            .map(|(f, &key)| {
                let max = weights[f * k..(f + 1) * k]
                    .iter()
                    .fold(0.0_f32, |m, w| m.max(w.abs()));
                (max, key)
            })
            .collect();
        strength.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut kept: Vec<u64> = strength[..options.max_features]
            .iter()
            .map(|&(_, key)| key)
            .collect();
        kept.sort_unstable();
        fit(examples, &labels, &docs, &df, kept, options, threads)
    } else {
        (keys, weights, bias)
    };
    let n_docs = docs.len() as f32;
    let idf: Vec<f32> = keys
        .iter()
        .map(|key| ((1.0 + n_docs) / (1.0 + df[key] as f32)).ln() + 1.0)
        .collect();
    let k = labels.len();
    let table = FeatureTable::build(&keys, &idf, &weights, k);
    let mut model = Model {
        header: Header {
            labels,
            features: options.features.clone(),
            user_words: options.user_words.clone(),
            trained_on: examples.len(),
            c: options.c,
            calibration: None,
            taxonomy: None,
            rules_fallback: Vec::new(),
        },
        segmenter,
        table,
        keys,
        bias,
        version: String::new(),
    };
    model.stamp_version();
    Ok(model)
}

/// Fits the per-label SVMs on the features `keys` (sorted). Returns the keys, the
/// feature-major weights and the biases.
fn fit(
    examples: &[Example],
    labels: &[String],
    docs: &[Vec<(u64, Block, u32)>],
    df: &FxHashMap<u64, u32>,
    keys: Vec<u64>,
    options: &TrainOptions,
    threads: usize,
) -> (Vec<u64>, Vec<f32>, Vec<f32>) {
    let vocab: FxHashMap<u64, u32> = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| (k, i as u32))
        .collect();
    let n_docs = docs.len() as f32;
    let idf: Vec<f32> = keys
        .iter()
        .map(|k| ((1.0 + n_docs) / (1.0 + df[k] as f32)).ln() + 1.0)
        .collect();

    // 3. TF-IDF rows.
    let mut x = Csr::new();
    for doc in docs {
        let mut row: Vec<(u32, f32, Block)> = doc
            .iter()
            .filter_map(|&(key, block, count)| {
                vocab
                    .get(&key)
                    .map(|&i| (i, features::sublinear_tf(count) * idf[i as usize], block))
            })
            .collect();
        normalise_blocks(&mut row, options.features.word_weight);
        row.sort_unstable_by_key(|&(i, _, _)| i);
        x.push_row(row.into_iter().map(|(i, v, _)| (i, v)));
    }

    // 4. One binary SVM per label.
    let n_features = keys.len();
    let per_label: Vec<(Vec<f64>, f64)> = parallel_map(labels, threads, |label| {
        let positive: Vec<bool> = examples.iter().map(|e| &e.label == label).collect();
        let share = positive.iter().filter(|&&p| p).count() as f64 / examples.len() as f64;
        let params = SvmParams {
            c: options.c,
            positive_weight: (1.0 / (labels.len() as f64 * share)).powf(options.balance),
            epsilon: options.epsilon,
            max_iter: options.max_iter,
            seed: options.seed,
        };
        let scale = (options.nb > 0.0).then(|| nb_scale(&x, &positive, n_features, options.nb));
        let (mut w, mut b) =
            linear::train_binary(&x, &positive, n_features, scale.as_deref(), params);
        if scale.is_some() && options.plain_mix > 0.0 {
            let mix = options.plain_mix;
            let (plain, plain_bias) = linear::train_binary(&x, &positive, n_features, None, params);
            for (w, p) in w.iter_mut().zip(&plain) {
                *w = (1.0 - mix) * *w + mix * p;
            }
            b = (1.0 - mix) * b + mix * plain_bias;
        }
        (w, b)
    });
    let k = labels.len();
    let mut weights = vec![0.0_f32; n_features * k];
    let mut bias = vec![0.0_f32; k];
    for (class, (w, b)) in per_label.iter().enumerate() {
        for (f, &value) in w.iter().enumerate() {
            weights[f * k + class] = value as f32;
        }
        bias[class] = *b as f32;
    }
    (keys, weights, bias)
}

/// NB-SVM feature scales for one label: `|r_f| ^ power` with `r_f` the log ratio of the
/// feature's document frequency (plus one) among the positive rows and among the negative
/// rows, each as a share of its side's total.
fn nb_scale(x: &Csr, positive: &[bool], n_features: usize, power: f64) -> Vec<f64> {
    let mut p = vec![1.0_f64; n_features];
    let mut q = vec![1.0_f64; n_features];
    for (i, &is_positive) in positive.iter().enumerate() {
        let side = if is_positive { &mut p } else { &mut q };
        for &f in &x.indices[x.offsets[i]..x.offsets[i + 1]] {
            side[f as usize] += 1.0;
        }
    }
    let p_total: f64 = p.iter().sum();
    let q_total: f64 = q.iter().sum();
    p.iter()
        .zip(&q)
        .map(|(a, b)| ((a / p_total) / (b / q_total)).ln().abs().powf(power))
        .collect()
}

/// L2-normalises the word and character blocks separately and weights the word block.
fn normalise_blocks<T>(row: &mut [(T, f32, Block)], word_weight: f32) {
    let mut sums = [0.0_f32; 2];
    for (_, v, block) in row.iter() {
        sums[*block as usize] += v * v;
    }
    let scale = block_scales(sums, word_weight);
    for (_, v, block) in row.iter_mut() {
        *v *= scale[*block as usize];
    }
}

/// The factors that L2-normalise each block given its sum of squares.
fn block_scales(sums: [f32; 2], word_weight: f32) -> [f32; 2] {
    [
        if sums[0] > 0.0 {
            word_weight / sums[0].sqrt()
        } else {
            0.0
        },
        if sums[1] > 0.0 {
            1.0 / sums[1].sqrt()
        } else {
            0.0
        },
    ]
}

fn count_features(
    config: &FeatureConfig,
    segmenter: &Segmenter,
    text: &str,
) -> Vec<(u64, Block, u32)> {
    let mut raw: Vec<(u64, Block)> = Vec::new();
    let normalised = features::normalise(text, config.fold_digits);
    let mut analysis = Analysis::default();
    features::extract(
        config,
        segmenter,
        &normalised,
        &mut analysis,
        |block, key, _| raw.push((key, block)),
    );
    raw.sort_unstable_by_key(|&(key, _)| key);
    let mut counted: Vec<(u64, Block, u32)> = Vec::with_capacity(raw.len());
    for (key, block) in raw {
        match counted.last_mut() {
            Some((last, _, count)) if *last == key => *count += 1,
            _ => counted.push((key, block, 1)),
        }
    }
    counted
}

pub(crate) fn worker_threads(requested: usize) -> usize {
    if requested > 0 {
        requested
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Maps `items` on `threads` scoped threads, keeping the order.
pub(crate) fn parallel_map<T: Sync, U: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> U + Sync,
) -> Vec<U> {
    if threads <= 1 || items.len() < 2 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let f = &f;
                scope.spawn(move || part.iter().map(f).collect::<Vec<U>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a training worker panicked"))
            .collect()
    })
}

/// A distinct known feature of the text being scored.
#[derive(Debug, Clone, Copy)]
struct Found {
    slot: u32,
    count: u32,
    /// TF-IDF, then block-normalised.
    value: f32,
    block: Block,
    /// The first occurrence (for explanations).
    origin: Origin,
}

/// Buffers reused by every prediction on a thread, so classifying allocates only its answer.
#[derive(Default)]
struct Scratch {
    text: String,
    analysis: Analysis,
    /// Every feature occurrence of the text, before lookup.
    keys: Vec<(u64, Block, Origin)>,
    found: Vec<Found>,
    /// `(generation, index into found)`.
    seen: Vec<(u32, u32)>,
    generation: u32,
    scores: Vec<f32>,
    candidates: Vec<(f32, Origin)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// What a model file says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    labels: Vec<String>,
    features: FeatureConfig,
    user_words: Vec<String>,
    trained_on: usize,
    c: f64,
    /// Out-of-fold calibration (`hotline train` fits it); absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    calibration: Option<Calibration>,
    /// The taxonomy version the labels were checked against when training, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    taxonomy: Option<String>,
    /// Categories the training history had too few examples of: the keyword rules answer for
    /// them (see [`Model::with_rules_fallback`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rules_fallback: Vec<String>,
}

/// A feature that pushed the text towards its top label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Driver {
    /// The word, word pair (`"拖欠 工资"`) or character n-gram.
    pub feature: String,
    /// Its contribution to the top label's decision value.
    pub weight: f32,
}

/// The model's answer for one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// `(label index, decision value)`, best first.
    pub ranked: Vec<(usize, f32)>,
    /// The features that contributed most to the best label, strongest first.
    pub drivers: Vec<Driver>,
    /// How many of the text's features the model knows (0 = nothing to go on).
    pub known_features: usize,
}

/// A trained category model. `Send + Sync`; classification takes `&self`.
#[derive(Clone)]
pub struct Model {
    header: Header,
    segmenter: Segmenter,
    /// Feature key -> idf and per-label weights, one cache line per lookup.
    table: FeatureTable,
    /// The vocabulary, sorted (the file order).
    keys: Vec<u64>,
    bias: Vec<f32>,
    /// `m-` and the first 12 hex digits of the file's checksum: the same file, the same
    /// version, on every replica.
    version: String,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("labels", &self.header.labels)
            .field("features", &self.keys.len())
            .field("trained_on", &self.header.trained_on)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

const MAGIC: &[u8; 8] = b"HLCLSMDL";
/// Feature tables above this size get their slots touched ahead of lookup (see `score`).
const TOUCH_ABOVE_BYTES: usize = 4 << 20;
const FORMAT: u32 = 1;

impl Model {
    /// The labels, in the order [`Prediction::ranked`] indexes them.
    pub fn labels(&self) -> &[String] {
        &self.header.labels
    }

    /// Number of features in the vocabulary.
    pub fn feature_count(&self) -> usize {
        self.keys.len()
    }

    /// How many examples the model was trained on.
    pub fn trained_on(&self) -> usize {
        self.header.trained_on
    }

    /// A short name for this exact model (`m-` and 12 hex digits of its file's checksum), as
    /// recorded in every routing decision and exported in the metrics.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The out-of-fold calibration, when the model was trained with one.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.header.calibration.as_ref()
    }

    /// The softmax scale that turns decision values into probabilities.
    pub fn scale(&self) -> f32 {
        self.header
            .calibration
            .as_ref()
            .map_or(DEFAULT_SCALE, |c| c.scale)
    }

    /// The top-label probability at which the router dispatches on its own, when the model
    /// was trained for a target misroute rate.
    pub fn threshold(&self) -> Option<f32> {
        self.header
            .calibration
            .as_ref()
            .and_then(|c| c.selective)
            .map(|s| s.threshold)
    }

    /// The same model with `calibration` stored in it (a new version).
    pub fn with_calibration(mut self, calibration: Calibration) -> Self {
        self.header.calibration = Some(calibration);
        self.stamp_version();
        self
    }

    /// The taxonomy version the model was trained for, if recorded.
    pub fn taxonomy_version(&self) -> Option<&str> {
        self.header.taxonomy.as_deref()
    }

    /// The same model marked as trained for taxonomy `version` (a new version).
    pub fn with_taxonomy_version(mut self, version: impl Into<String>) -> Self {
        self.header.taxonomy = Some(version.into());
        self.stamp_version();
        self
    }

    /// The categories (taxonomy codes) the keyword rules answer for, because the history had
    /// too few examples of them to learn.
    pub fn rules_fallback(&self) -> &[String] {
        &self.header.rules_fallback
    }

    /// The same model with the keyword rules answering for `categories` (a new version).
    pub fn with_rules_fallback(mut self, categories: Vec<String>) -> Self {
        self.header.rules_fallback = categories;
        self.stamp_version();
        self
    }

    /// The best label and its probability (no explanation; the fast path for evaluation).
    pub fn predict_top(&self, text: &str) -> (&str, f32) {
        let (best, probability) = SCRATCH.with(|scratch| {
            let scratch = &mut *scratch.borrow_mut();
            features::normalise_into(text, self.header.features.fold_digits, &mut scratch.text);
            let text = std::mem::take(&mut scratch.text);
            self.score(&text, scratch);
            scratch.text = text;
            let best = argmax(&scratch.scores);
            let scale = self.scale();
            let top = scratch.scores[best] * scale;
            let total: f32 = scratch.scores.iter().map(|m| (m * scale - top).exp()).sum();
            (best, 1.0 / total)
        });
        (&self.header.labels[best], probability)
    }

    /// Adds words to the segmenter (see [`Segmenter::add_words`]); words the model never saw
    /// in training only help by keeping neighbouring words intact.
    pub fn add_words<I, S>(&mut self, words: I) -> usize
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.segmenter.add_words(words)
    }

    /// The label with the highest decision value (no explanation; the fast path for evaluation).
    pub fn predict_label(&self, text: &str) -> &str {
        let best = SCRATCH.with(|scratch| {
            let scratch = &mut *scratch.borrow_mut();
            features::normalise_into(text, self.header.features.fold_digits, &mut scratch.text);
            let text = std::mem::take(&mut scratch.text);
            self.score(&text, scratch);
            scratch.text = text;
            argmax(&scratch.scores)
        });
        &self.header.labels[best]
    }

    /// Ranks every label and explains the best one with up to `drivers` features.
    pub fn predict(&self, text: &str, drivers: usize) -> Prediction {
        SCRATCH.with(|scratch| {
            let scratch = &mut *scratch.borrow_mut();
            features::normalise_into(text, self.header.features.fold_digits, &mut scratch.text);
            let text = std::mem::take(&mut scratch.text);
            let prediction = self.predict_scratch(&text, drivers, scratch);
            scratch.text = text;
            prediction
        })
    }

    /// [`Model::predict`] for text that went through [`features::normalise`] with
    /// `fold_digits = false` (the rules' normalisation), saving a second pass.
    pub(crate) fn predict_normalised(&self, normalised: &str, drivers: usize) -> Prediction {
        if self.header.features.fold_digits {
            return self.predict(normalised, drivers);
        }
        SCRATCH.with(|scratch| self.predict_scratch(normalised, drivers, &mut scratch.borrow_mut()))
    }

    fn predict_scratch(
        &self,
        normalised: &str,
        drivers: usize,
        scratch: &mut Scratch,
    ) -> Prediction {
        let known = self.score(normalised, scratch);
        let mut ranked: Vec<(usize, f32)> = scratch.scores.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let best = ranked[0].0;
        let picked = if drivers == 0 {
            Vec::new()
        } else {
            self.drivers(normalised, best, drivers, scratch)
        };
        Prediction {
            ranked,
            drivers: picked,
            known_features: known,
        }
    }

    /// The features that pushed the text most towards label `best`: overlapping features are
    /// shown once (the longer), single characters not at all. Sorts only the strongest few.
    fn drivers(
        &self,
        normalised: &str,
        best: usize,
        drivers: usize,
        scratch: &mut Scratch,
    ) -> Vec<Driver> {
        let candidates = &mut scratch.candidates;
        candidates.clear();
        candidates.extend(
            scratch
                .found
                .iter()
                // Single characters say little to a reader.
                .filter(|f| !matches!(f.origin, Origin::Chars { n: 1, .. }))
                .map(|f| (f.value * self.table.weight(f.slot as usize, best), f.origin))
                .filter(|(c, _)| *c > 0.0),
        );
        let by_weight = |a: &(f32, Origin), b: &(f32, Origin)| b.0.total_cmp(&a.0);
        let mut picked: Vec<Driver> = Vec::with_capacity(drivers);
        let mut sorted = 0;
        let mut next = 0;
        while picked.len() < drivers && next < candidates.len() {
            if next == sorted {
                // Sort the next batch of strongest candidates only.
                let batch = (8 * drivers).max(16);
                let rest = &mut candidates[sorted..];
                if rest.len() > batch {
                    rest.select_nth_unstable_by(batch, by_weight);
                    rest[..batch].sort_unstable_by(by_weight);
                    sorted += batch;
                } else {
                    rest.sort_unstable_by(by_weight);
                    sorted = candidates.len();
                }
            }
            let (weight, origin) = candidates[next];
            next += 1;
            let feature = scratch.analysis.feature_text(normalised, origin);
            // Overlapping features: show the longer one once.
            if let Some(shorter) = picked.iter_mut().find(|p| feature.contains(&p.feature)) {
                shorter.feature = feature;
                continue;
            }
            if picked.iter().any(|p| p.feature.contains(&feature)) {
                continue;
            }
            picked.push(Driver { feature, weight });
        }
        picked
    }

    /// Scores `normalised` into `scratch.scores` (decision values per label) and leaves the
    /// known features with their normalised values in `scratch.found`. Returns how many
    /// distinct known features the text has.
    fn score(&self, normalised: &str, scratch: &mut Scratch) -> usize {
        let Scratch {
            analysis,
            keys,
            found,
            seen,
            scores,
            generation,
            ..
        } = scratch;
        found.clear();
        // Distinct known features: a small open-addressing set over table slots, stamped with
        // a generation so it never needs clearing. Sized for the worst case of this text.
        let chars = normalised.len(); // bytes >= characters
        let config = &self.header.features;
        let bound = chars.min(MAX_CHARS).saturating_mul(
            config.char_max.saturating_sub(config.char_min) + 1 + config.word_ngrams,
        );
        let capacity = (bound * 2).next_power_of_two().max(64);
        if seen.len() < capacity {
            seen.clear();
            seen.resize(capacity, (0, 0));
            *generation = 0;
        }
        *generation = generation.wrapping_add(1);
        if *generation == 0 {
            seen.iter_mut().for_each(|e| *e = (0, 0));
            *generation = 1;
        }
        let generation = *generation;
        let mask = capacity - 1;
        let shift = 64 - capacity.trailing_zeros();
        keys.clear();
        features::extract(
            config,
            &self.segmenter,
            normalised,
            analysis,
            |block, key, origin| {
                keys.push((key, block, origin));
            },
        );
        // A table larger than the caches: touch every home slot first with loads that nothing
        // waits on, so the misses overlap instead of queueing one by one.
        if self.table.slots.len() * 2 > TOUCH_ABOVE_BYTES {
            self.table.touch(keys.iter().map(|k| k.0));
        }
        for &(key, block, origin) in keys.iter() {
            let Some(slot) = self.table.find(key) else {
                continue;
            };
            let slot = slot as u32;
            let mut at =
                (u64::from(slot).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize & mask;
            loop {
                let entry = &mut seen[at];
                if entry.0 != generation {
                    *entry = (generation, found.len() as u32);
                    found.push(Found {
                        slot,
                        count: 1,
                        value: 0.0,
                        block,
                        origin,
                    });
                    break;
                }
                let f = &mut found[entry.1 as usize];
                if f.slot == slot {
                    f.count += 1;
                    break;
                }
                at = (at + 1) & mask;
            }
        }
        let mut sums = [0.0_f32; 2];
        for f in found.iter_mut() {
            f.value = features::sublinear_tf(f.count) * self.table.idf(f.slot as usize);
            sums[f.block as usize] += f.value * f.value;
        }
        let scale = block_scales(sums, config.word_weight);
        scores.clear();
        scores.extend_from_slice(&self.bias);
        for f in found.iter_mut() {
            f.value *= scale[f.block as usize];
            for (score, weight) in scores.iter_mut().zip(self.table.weights(f.slot as usize)) {
                *score += f.value * weight;
            }
        }
        found.len()
    }

    /// Writes the model to `path` (see the module docs for the format).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ClassifyError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_bytes())
            .map_err(|e| ClassifyError::io(format!("writing model {}", path.display()), e))
    }

    /// Reads a model written by [`Model::save`]; anything else is a [`ClassifyError::Model`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ClassifyError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| ClassifyError::io(format!("reading model {}", path.display()), e))?;
        Self::from_bytes(&bytes).map_err(|problem| ClassifyError::Model {
            path: path.to_owned(),
            problem,
        })
    }

    /// The model file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("the header serialises");
        let mut out =
            Vec::with_capacity(32 + header.len() + self.keys.len() * (12 + 4 * self.bias.len()));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT.to_le_bytes());
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&(self.keys.len() as u64).to_le_bytes());
        for key in &self.keys {
            out.extend_from_slice(&key.to_le_bytes());
        }
        let slots: Vec<usize> = self
            .keys
            .iter()
            .map(|&key| {
                self.table
                    .find(key)
                    .expect("every vocabulary key is in the table")
            })
            .collect();
        let idf = slots.iter().map(|&slot| self.table.idf(slot));
        let weights = slots.iter().flat_map(|&slot| self.table.weights(slot));
        for value in idf.chain(weights).chain(self.bias.iter().copied()) {
            out.extend_from_slice(&value.to_le_bytes());
        }
        let checksum = checksum(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }

    /// Parses a model file's bytes; the error says what is wrong with them.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err("not a hotline classifier model (bad magic)".into());
        }
        if bytes.len() < MAGIC.len() + 12 + 8 {
            return Err("truncated: shorter than the fixed header".into());
        }
        let (body, tail) = bytes.split_at(bytes.len() - 8);
        let stored = u64::from_le_bytes(tail.try_into().expect("8 bytes"));
        let mut reader = Reader {
            bytes: body,
            at: MAGIC.len(),
        };
        let format = reader.u32()?;
        if format != FORMAT {
            return Err(format!(
                "format version {format}; this build reads version {FORMAT}"
            ));
        }
        if checksum(body) != stored {
            return Err("checksum mismatch: the file is damaged or truncated".into());
        }
        let header_len = usize::try_from(reader.u64()?).map_err(|_| "header length overflows")?;
        let header: Header = serde_json::from_slice(reader.take(header_len)?)
            .map_err(|e| format!("bad header: {e}"))?;
        let k = header.labels.len();
        if k < 2 {
            return Err(format!("{k} labels; a model needs at least two"));
        }
        let n = usize::try_from(reader.u64()?).map_err(|_| "feature count overflows")?;
        let expected = n
            .checked_mul(8 + 4 + 4 * k)
            .and_then(|v| v.checked_add(4 * k))
            .ok_or("feature count overflows")?;
        if reader.remaining() != expected {
            return Err(format!(
                "{} bytes of tables for {n} features and {k} labels; expected {expected}",
                reader.remaining()
            ));
        }
        let mut keys = Vec::with_capacity(n);
        for _ in 0..n {
            keys.push(reader.u64()?);
        }
        if keys.windows(2).any(|w| w[0] >= w[1]) {
            return Err("the vocabulary is not strictly sorted".into());
        }
        let mut floats = Vec::with_capacity(n * (k + 1) + k);
        while reader.remaining() > 0 {
            let value = f32::from_le_bytes(reader.take(4)?.try_into().expect("4 bytes"));
            if !value.is_finite() {
                return Err("a weight is not a finite number".into());
            }
            floats.push(value);
        }
        let bias = floats.split_off(n * (k + 1));
        let weights = floats.split_off(n);
        let idf = floats;
        let table = FeatureTable::build(&keys, &idf, &weights, k);
        let mut segmenter = Segmenter::new();
        segmenter.add_words(&header.user_words);
        Ok(Self {
            header,
            segmenter,
            table,
            keys,
            bias,
            version: version_of(stored),
        })
    }

    /// Recomputes the version after the header changed.
    fn stamp_version(&mut self) {
        let bytes = self.to_bytes();
        let stored = u64::from_le_bytes(bytes[bytes.len() - 8..].try_into().expect("8 bytes"));
        self.version = version_of(stored);
    }
}

fn version_of(checksum: u64) -> String {
    format!("m-{:012x}", checksum >> 16)
}

/// An open-addressing table (linear probing, load <= 1/2) whose slots hold the key, the idf
/// and the label weights side by side, so scoring a feature costs one cache miss instead of
/// one each for a hash map, the idf and the weight rows. Idf and weights are kept as bfloat16
/// (the upper half of an `f32`): a slot is 24 bytes for 7 labels instead of 40, and the
/// table of a model trained on the civic set fits far better in the caches. Saved models
/// hold these rounded values, so a loaded model scores exactly like the trained one.
#[derive(Clone)]
struct FeatureTable {
    /// `[key as 4 x u16, idf, weight per label]`; idf 0 marks an empty slot (a real idf is
    /// at least 1).
    slots: Vec<u16>,
    stride: usize,
    labels: usize,
    shift: u32,
    mask: usize,
    /// One bit per 8 keys' worth of hash space, set for every key: most n-grams of a text
    /// are not in the table, and this small, cache-resident filter answers most of those
    /// without touching the table (false positives ~12%, then the table decides).
    filter: Vec<u64>,
    filter_mask: usize,
}

/// FNV keys of similar n-grams differ in few bits: finish them like SplitMix64.
#[inline]
fn mix(key: u64) -> u64 {
    let mut z = key ^ (key >> 30);
    z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 27;
    z.wrapping_mul(0x94D0_49BB_1331_11EB)
}

/// `f32` -> bfloat16, rounding to nearest even.
fn to_bf16(value: f32) -> u16 {
    let bits = value.to_bits();
    let rounded = bits.wrapping_add(0x7FFF + ((bits >> 16) & 1));
    (rounded >> 16) as u16
}

#[inline]
fn from_bf16(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

impl FeatureTable {
    /// `weights` is feature-major: `weights[f * labels + class]`.
    fn build(keys: &[u64], idf: &[f32], weights: &[f32], labels: usize) -> Self {
        let capacity = (keys.len() * 2).next_power_of_two().max(16);
        let stride = 5 + labels;
        let filter_bits = (keys.len() * 8).next_power_of_two().max(4096);
        let mut table = Self {
            slots: vec![0; capacity * stride],
            stride,
            labels,
            shift: 64 - capacity.trailing_zeros(),
            mask: capacity - 1,
            filter: vec![0; filter_bits / 64],
            filter_mask: filter_bits - 1,
        };
        for (f, &key) in keys.iter().enumerate() {
            let bit = table.filter_bit(mix(key));
            table.filter[bit / 64] |= 1 << (bit % 64);
            let mut slot = table.home(key);
            while table.slots[slot * stride + 4] != 0 {
                slot = (slot + 1) & table.mask;
            }
            let base = slot * stride;
            for part in 0..4 {
                table.slots[base + part] = (key >> (16 * part)) as u16;
            }
            table.slots[base + 4] = to_bf16(idf[f]).max(1);
            for (class, &w) in weights[f * labels..(f + 1) * labels].iter().enumerate() {
                table.slots[base + 5 + class] = to_bf16(w);
            }
        }
        table
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        (mix(key) >> self.shift) as usize
    }

    /// The filter bit of a mixed key: low bits, independent of the home slot's high bits.
    #[inline]
    fn filter_bit(&self, mixed: u64) -> usize {
        (mixed >> 8) as usize & self.filter_mask
    }

    /// Loads the home slot of every key without using the values, so the cache misses of a
    /// whole text are in flight together before [`FeatureTable::find`] walks them in order.
    #[inline]
    fn touch(&self, keys: impl Iterator<Item = u64>) {
        let mut sink = 0_u16;
        for key in keys {
            sink ^= self.slots[self.home(key) * self.stride + 4];
        }
        std::hint::black_box(sink);
    }

    /// The slot holding `key`.
    #[inline]
    fn find(&self, key: u64) -> Option<usize> {
        let mixed = mix(key);
        let bit = self.filter_bit(mixed);
        if self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
            return None;
        }
        let mut slot = (mixed >> self.shift) as usize;
        loop {
            let s = &self.slots[slot * self.stride..slot * self.stride + 5];
            if s[4] == 0 {
                return None;
            }
            let stored = u64::from(s[0])
                | u64::from(s[1]) << 16
                | u64::from(s[2]) << 32
                | u64::from(s[3]) << 48;
            if stored == key {
                return Some(slot);
            }
            slot = (slot + 1) & self.mask;
        }
    }

    #[inline]
    fn idf(&self, slot: usize) -> f32 {
        from_bf16(self.slots[slot * self.stride + 4])
    }

    #[inline]
    fn weight(&self, slot: usize, class: usize) -> f32 {
        from_bf16(self.slots[slot * self.stride + 5 + class])
    }

    #[inline]
    fn weights(&self, slot: usize) -> impl Iterator<Item = f32> + '_ {
        let base = slot * self.stride + 5;
        self.slots[base..base + self.labels]
            .iter()
            .map(|&bits| from_bf16(bits))
    }
}

/// The index of the largest value (the first of equals).
pub(crate) fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

fn checksum(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("truncated")?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Toy sets are tiny: keep features seen once.
    fn toy_options() -> TrainOptions {
        TrainOptions {
            min_df: 1,
            ..TrainOptions::default()
        }
    }

    fn toy() -> Vec<Example> {
        let rows = [
            ("小区路灯不亮了，晚上出行不便", "城乡建设"),
            ("窨井盖丢失，存在安全隐患", "城乡建设"),
            ("物业费收费过高，物业公司不作为", "城乡建设"),
            ("公司拖欠工资三个月", "劳动和社会保障"),
            ("社保卡办理需要什么材料", "劳动和社会保障"),
            ("单位不给缴纳养老保险", "劳动和社会保障"),
        ];
        rows.iter()
            .map(|(t, l)| Example {
                text: (*t).into(),
                label: (*l).into(),
            })
            .collect()
    }

    #[test]
    fn a_toy_model_learns_and_explains() {
        let model = train_examples(&toy(), &toy_options()).unwrap();
        assert_eq!(model.predict_label("路灯坏了"), "城乡建设");
        assert_eq!(model.predict_label("老板拖欠工资"), "劳动和社会保障");
        let prediction = model.predict("老板拖欠工资", 3);
        assert!(!prediction.drivers.is_empty());
        assert!(
            prediction
                .drivers
                .iter()
                .any(|d| d.feature.contains("工资") || d.feature.contains("拖欠")),
            "{:?}",
            prediction.drivers
        );
    }

    #[test]
    fn reused_scratch_buffers_do_not_leak_between_texts() {
        let model = train_examples(&toy(), &toy_options()).unwrap();
        let short = model.predict("路灯坏了", 3);
        let long = "公司拖欠工资三个月，社保卡办理需要什么材料".repeat(200);
        let _ = model.predict(&long, 3);
        assert_eq!(model.predict("路灯坏了", 3), short);
        assert_eq!(model.predict_label("路灯坏了"), "城乡建设");
        // bfloat16 storage rounds to nearest and keeps the sign and scale.
        for value in [1.0_f32, -0.3, 7.25, 1e-3] {
            assert!((from_bf16(to_bf16(value)) - value).abs() <= value.abs() / 128.0);
        }
    }

    #[test]
    fn nb_scales_are_powers_of_the_log_count_ratios() {
        // Feature 0 only in the two positive rows, 1 in every row, 2 in one negative row.
        let mut x = Csr::new();
        x.push_row([(0, 0.5), (1, 0.5)]);
        x.push_row([(0, 0.9), (1, 0.1)]);
        x.push_row([(1, 0.7), (2, 0.7)]);
        x.push_row([(1, 1.0)]);
        let positive = [true, true, false, false];
        // Smoothed document counts: p = [3, 3, 1] (total 7), q = [1, 3, 2] (total 6).
        let r = |p: f64, q: f64| ((p / 7.0) / (q / 6.0)).ln().abs();
        let full = nb_scale(&x, &positive, 3, 1.0);
        let half = nb_scale(&x, &positive, 3, 0.5);
        for (f, (p, q)) in [(3.0, 1.0), (3.0, 3.0), (1.0, 2.0)].into_iter().enumerate() {
            assert!((full[f] - r(p, q)).abs() < 1e-12, "{f}: {}", full[f]);
            assert!((half[f] - r(p, q).sqrt()).abs() < 1e-12, "{f}: {}", half[f]);
        }
        // The label's own feature counts most, the shared one least.
        assert!(full[0] > full[2] && full[2] > full[1]);
    }

    #[test]
    fn nb_and_balance_are_folded_into_the_saved_weights() {
        let plain = TrainOptions {
            nb: 0.0,
            balance: 0.0,
            ..toy_options()
        };
        // Unequal labels, so balancing has something to do.
        let mut examples = toy();
        examples.push(Example {
            text: "小区垃圾没人清理".into(),
            label: "城乡建设".into(),
        });
        let a = train_examples(&examples, &plain).unwrap();
        for options in [
            TrainOptions {
                nb: 1.0,
                ..plain.clone()
            },
            TrainOptions {
                balance: 1.0,
                ..plain.clone()
            },
        ] {
            let b = train_examples(&examples, &options).unwrap();
            assert_ne!(a.to_bytes(), b.to_bytes(), "{options:?} changed nothing");
            // Scores without any setting at classification time: a loaded model agrees.
            let again = Model::from_bytes(&b.to_bytes()).unwrap();
            assert_eq!(again.predict("路灯坏了", 2), b.predict("路灯坏了", 2));
            assert_eq!(b.predict_label("老板拖欠工资"), "劳动和社会保障");
        }
    }

    #[test]
    fn plain_mix_interpolates_between_the_nb_and_the_plain_svm() {
        let plain = TrainOptions {
            nb: 0.0,
            ..toy_options()
        };
        let nb = TrainOptions {
            nb: 1.0,
            ..toy_options()
        };
        let mixed = |mix: f64| {
            train_examples(
                &toy(),
                &TrainOptions {
                    plain_mix: mix,
                    ..nb.clone()
                },
            )
            .unwrap()
            .to_bytes()
        };
        let plain_bytes = train_examples(&toy(), &plain).unwrap().to_bytes();
        let nb_bytes = train_examples(&toy(), &nb).unwrap().to_bytes();
        assert_eq!(mixed(0.0), nb_bytes);
        assert_eq!(mixed(1.0), plain_bytes);
        let half = mixed(0.5);
        assert_ne!(half, nb_bytes);
        assert_ne!(half, plain_bytes);
    }

    #[test]
    fn training_is_deterministic() {
        let a = train_examples(&toy(), &toy_options()).unwrap();
        let b = train_examples(&toy(), &toy_options()).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
    }

    #[test]
    fn a_model_round_trips_through_its_file_format() {
        let model = train_examples(&toy(), &toy_options()).unwrap();
        let again = Model::from_bytes(&model.to_bytes()).unwrap();
        assert_eq!(again.to_bytes(), model.to_bytes());
        assert_eq!(again.predict("路灯坏了", 2), model.predict("路灯坏了", 2));
    }

    #[test]
    fn a_damaged_model_file_is_refused_with_a_reason() {
        let bytes = train_examples(&toy(), &toy_options()).unwrap().to_bytes();
        assert!(Model::from_bytes(b"hello").unwrap_err().contains("magic"));
        let truncated = &bytes[..bytes.len() - 100];
        assert!(Model::from_bytes(truncated)
            .unwrap_err()
            .contains("checksum"));
        let mut flipped = bytes.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x40;
        assert!(Model::from_bytes(&flipped)
            .unwrap_err()
            .contains("checksum"));
        let mut future = bytes;
        future[8] = 9;
        assert!(Model::from_bytes(&future).unwrap_err().contains("version"));
    }

    #[test]
    fn one_label_is_not_enough_to_train() {
        let one: Vec<Example> = toy().into_iter().take(3).collect();
        assert!(matches!(
            train_examples(&one, &toy_options()),
            Err(ClassifyError::Data(_))
        ));
    }

    #[test]
    fn csv_without_a_label_column_is_refused() {
        let err = read_examples("text,title\na,b\n".as_bytes()).unwrap_err();
        assert!(err.to_string().contains("label"), "{err}");
    }

    #[test]
    fn an_extra_text_column_adds_one_example_per_non_empty_cell() {
        let csv = "text,label,title\n路灯坏了好几天,城乡建设,路灯不亮\n拖欠工资三个月,劳动,\n学校收费,教育,乱收费\n";
        let plain = read_examples(csv.as_bytes()).unwrap();
        assert_eq!(plain.len(), 3);
        let both = read_examples_with(csv.as_bytes(), &["title"]).unwrap();
        let texts: Vec<(&str, &str)> = both
            .iter()
            .map(|e| (e.text.as_str(), e.label.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                ("路灯坏了好几天", "城乡建设"),
                ("拖欠工资三个月", "劳动"),
                ("学校收费", "教育"),
                ("路灯不亮", "城乡建设"),
                ("乱收费", "教育"),
            ]
        );
        let err = read_examples_with(csv.as_bytes(), &["subject"]).unwrap_err();
        assert!(err.to_string().contains("`subject`"), "{err}");
    }
}
