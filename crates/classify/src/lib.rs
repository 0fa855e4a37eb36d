//! Classify a citizen's message for routing: subject category (top-k with scores and the
//! words that drove the decision), nature (咨询/求助/投诉/举报/建议/表扬), urgency
//! (一般/紧急/特急) and emergency hand-off (110/119/120/122).
//!
//! # Layout
//! - [`taxonomy`]: the versioned category tree, loaded from a file (default shipped).
//! - [`segment`]: jieba segmentation with the hotline user dictionary and `add_words`.
//! - [`features`]: normalisation, truncation ([`MAX_CHARS`]) and n-gram features.
//! - [`linear`] (private): the dual coordinate-descent linear SVM.
//! - [`model`]: train / save / load the category model from a centre's labelled history.
//! - [`calibration`]: out-of-fold probabilities (temperature scaling), the reliability table
//!   and ECE, and the dispatch threshold for a target misroute rate.
//! - [`history`]: labels from the centre's handled tickets (corrections count, disputed
//!   categories do not).
//! - [`eval`]: precision, recall, F1, confusion matrix, macro-F1.
//! - [`split`]: the deterministic stratified hold-out split used by tests, benches and the
//!   Python baseline.
//! - [`rules`]: the editable keyword rules (cold-start categories, nature, urgency,
//!   emergencies); default shipped.
//! - [`classifier`]: puts them together: [`Classifier::classify`].
//! - [`error`]: the crate's errors.

pub mod calibration;
pub mod classifier;
pub mod error;
pub mod eval;
pub mod features;
pub mod history;
mod linear;
pub mod model;
pub mod rules;
pub mod segment;
pub mod split;
pub mod taxonomy;

pub use calibration::{CalibrateOptions, Calibration, CalibrationReport, Selective};
pub use classifier::{
    CategoryScore, CategorySource, Classification, Classifier, Status, UnclassifiedReason,
    DEFAULT_TOP_K,
};
pub use error::ClassifyError;
pub use eval::{evaluate, evaluate_examples, evaluate_path, ClassMetrics, EvalReport};
pub use features::{FeatureConfig, MAX_CHARS};
pub use model::{
    read_examples, read_examples_with, read_grouped, train, train_examples, train_path, Driver,
    Example, Labelled, Model, Prediction, TrainOptions,
};
pub use rules::{EmergencyFlag, RuleHits, Rules};
pub use segment::Segmenter;
pub use taxonomy::{Category, Taxonomy};
