//! The territory crate's integration tests, in one binary:
//! - `address_book`: the 地址库: loading, matching, fuzzy variants, learned aliases.
//! - `accuracy`: generated addresses of all 2,248 communities, and real messages from
//!   elsewhere as false-positive check.
//! - `points`: map points against the real district polygons in `../shared/data/geo`.
//! - `never_panics`: arbitrary text never panics and answers are well-formed.

mod accuracy;
mod address_book;
mod never_panics;
mod points;
