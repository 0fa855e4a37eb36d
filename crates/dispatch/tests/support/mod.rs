//! Shared by the test binaries that talk to Redis; the helpers live in the library so the
//! end-to-end tests use the same ones.

#![allow(unused_imports)] // each test binary uses a different part

pub use hotline_dispatch::testing::*;
