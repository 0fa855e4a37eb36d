//! A classifier model file (`Model::from_bytes`), as `hotline serve --model` reads it.
//!
//! The first input byte picks how the rest is used: even, the bytes are the whole file, so
//! every header check is exercised; odd, they are the body of a file and the target adds the
//! magic, the format version and the trailing checksum, so the fuzzer reaches the header JSON,
//! the tables and the scoring instead of stopping at the checksum.
//!
//! Property: never panics; a model it accepts can score text, and writing it out and reading
//! that back gives a model that writes out the same bytes (loading is a fixpoint after one
//! pass, because the tables are kept rounded).
#![no_main]

use hotline_classify::Model;
use libfuzzer_sys::fuzz_target;

/// What every model file starts with and the format this build reads (`classify/src/model.rs`).
const MAGIC: &[u8] = b"HLCLSMDL";
const FORMAT: u32 = 1;

/// The model file's checksum: 64-bit FNV-1a over everything before it.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&FORMAT.to_le_bytes());
        file.extend_from_slice(rest);
        let checksum = fnv1a(&file);
        file.extend_from_slice(&checksum.to_le_bytes());
        file
    };
    let Ok(model) = Model::from_bytes(&file) else {
        return;
    };
    let _ = model.predict("小区门口路灯坏了一个星期，物业不管", 3);
    let _ = model.predict("", 3);
    let written = model.to_bytes();
    let reread = Model::from_bytes(&written).expect("a model reads back what it wrote");
    assert_eq!(reread.to_bytes(), written, "write/read is not a fixpoint");
});
