//! The operators' knowledge base (知识库, issue 21): one right answer, found while the caller is
//! on the line.
//!
//! Articles live in the system of record (the ticket store's database, migration 0009): every
//! version of their content is kept with who wrote it and when, and every change (created,
//! edited, submitted, approved, rejected, withdrawn) is logged. An article is a draft, in
//! review, published or withdrawn; while an edit of a published article is a draft or in
//! review, the published version stays the one callers are read. Every write checks the
//! version the writer read: a stale one is refused, naming the current version, and nothing
//! is overwritten.
//!
//! Search is a tantivy index in RAM derived from the store (rebuilt on start, followed by
//! revision), with jieba words from the classifier's dictionary beside character bigrams, and
//! filters applied per query: category, the caller's division chain (street, district, city;
//! city-wide only when the territory is unresolved), published, in effect on the call's date
//! and not past its review date.
//!
//! # Layout
//! - [`domain`]: [`Content`] and its validation against a [`Catalogue`], [`Status`],
//!   [`Article`], [`Version`], [`HistoryEntry`], the territory chain.
//! - [`store`]: [`KnowledgeStore`], with SQLite and PostgreSQL implementations.
//! - [`service`]: [`Knowledge`], the lifecycle (create, update, submit, approve, reject,
//!   withdraw) and the reads.
//! - [`feedback`]: "did not fit" marks and dissatisfied callbacks ([`Feedback`], migration
//!   0010), and the owners' review list ([`ReviewDue`]: review date come, expired, feedback).
//! - [`search`]: the index ([`KnowledgeIndex`]), its tokenizers and ranking, its sync with the
//!   store ([`IndexSync`]), and the offline benchmark with the baselines.
//! - [`redact`]: a station's public reply as a draft article, with the caller's handle, name,
//!   phone, ID-card and house numbers and e-mail taken out ([`redact::strip_personal`]).
//! - [`transfer`]: import from CSV (UTF-8, UTF-8 with BOM, GB18030) and Excel, all or nothing,
//!   updating by external key; export in the same format ([`ImportRow`], [`ImportReport`]).
//! - [`cli`]: `hotline knowledge eval`, the offline search benchmark.
//! - [`error`]: [`KnowledgeError`] and its closed [`ErrorCode`].

pub mod cli;
pub mod domain;
pub mod error;
pub mod feedback;
pub mod redact;
pub mod search;
pub mod service;
pub mod store;
pub mod transfer;

pub use domain::{
    Action, Article, ArticleId, Catalogue, Content, DueReason, Feedback, FeedbackKind,
    FixedCatalogue, HistoryEntry, ReviewDue, Source, Status, Version,
};
pub use error::{ErrorCode, KnowledgeError};
pub use search::{Hit, IndexSync, KnowledgeIndex, Ranking, SearchRequest};
pub use service::Knowledge;
pub use store::{KnowledgeStore, PgKnowledge, SqliteKnowledge};
pub use transfer::{ImportReport, ImportRow};
