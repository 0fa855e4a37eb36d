//! The address resolver on arbitrary text (a caller's address, or the whole message when no
//! address is given). Property: never panics, and a reported span is the byte range of the
//! input it quotes.
#![no_main]

use std::sync::{Arc, OnceLock};

use hotline_directory::Directory;
use hotline_territory::Resolver;
use libfuzzer_sys::fuzz_target;

// Building the resolver (2,248 communities' name forms) takes far longer than one resolution;
// build it once per process, as the router does.
fn resolver() -> &'static Resolver {
    static RESOLVER: OnceLock<Resolver> = OnceLock::new();
    RESOLVER.get_or_init(|| Resolver::new(Arc::new(Directory::suzhou())))
}

fuzz_target!(|text: &str| {
    let resolution = resolver().resolve_text(text);
    if let Some(span) = &resolution.span {
        assert_eq!(
            text.get(span.start..span.end),
            Some(span.text.as_str()),
            "the span must quote the input"
        );
    }
    assert!(
        (0.0..=1.0).contains(&resolution.confidence),
        "confidence {} out of range",
        resolution.confidence
    );
    if resolution.is_resolved() {
        assert!(resolution.division.is_some(), "resolved without a division");
    }
});
