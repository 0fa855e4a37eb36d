//! The crate's errors. Text resolution never fails (it answers `Unresolved` with a reason);
//! only loading the district polygons or the address book can.

use std::path::PathBuf;

use hotline_core::DivisionCode;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TerritoryError {
    /// A file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The polygon file is not the GeoJSON we expect. `origin` is the path or a label.
    #[error("{origin}: {problem}")]
    GeoJson { origin: String, problem: String },
    /// A line of the address book is refused; nothing of the book is used.
    #[error("{origin}:{line}: {problem}")]
    AddressBook {
        origin: String,
        /// 1-based line of the file (0 when the file has no header at all).
        line: u64,
        problem: BookProblem,
    },
}

/// What is wrong with a line of the address book, said so that whoever keeps the file can fix
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BookProblem {
    #[error("the header must be `kind,name,range,parity,community,aliases`, found `{found}`")]
    Header { found: String },
    #[error("{found} fields, expected 6 (kind,name,range,parity,community,aliases)")]
    FieldCount { found: usize },
    #[error("not CSV: {0}")]
    Csv(String),
    #[error("unknown kind `{found}`: name, road or landmark")]
    Kind { found: String },
    #[error("the name is empty")]
    EmptyName,
    #[error("unknown community code `{code}`: not a community or village of the directory")]
    UnknownCommunity { code: String },
    #[error("`{code}` is {name}, not a community or village (社区/村)")]
    NotACommunity { code: String, name: String },
    #[error("`{alias}` already points to {other} (line {other_line}): one name, one community")]
    TwoWays {
        alias: String,
        other_line: u64,
        other: DivisionCode,
    },
    #[error("bad range `{found}`: write FROM-TO with whole numbers, 1 <= FROM <= TO (e.g. 1-99)")]
    Range { found: String },
    #[error("unknown parity `{found}`: 单号, 双号 or 全部 (odd, even, all)")]
    Parity { found: String },
    #[error("a range and parity belong to road rows only")]
    RangeOnNonRoad,
    #[error("a road row has no aliases: add the other spelling as a road row of its own")]
    AliasOnRoad,
    #[error("{road}: this range shares house numbers with line {other_line}, which names {other}")]
    Overlap {
        road: String,
        other_line: u64,
        other: DivisionCode,
    },
}
