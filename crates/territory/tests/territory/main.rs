//! The territory crate's integration tests, in one binary:
//! - `accuracy`: generated addresses of all 2,248 communities, and real messages from
//!   elsewhere as false-positive check.
//! - `points`: map points against the real district polygons in `../shared/data/geo`.
//! - `never_panics`: arbitrary text never panics and answers are well-formed.

mod accuracy;
mod never_panics;
mod points;
