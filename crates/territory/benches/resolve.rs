//! Resolutions per second of `Resolver::resolve_text`, on one core.
//!
//! Compares three inputs: short addresses (every community written as 区+街道+社区, the
//! common case at intake), the same addresses inside a sentence, and real citizen messages
//! (~1 KB each, read from ../shared/data/civic/train.csv if present; skipped otherwise, as the
//! file has no licence and is not shipped). Criterion reports elements/s: one element is one
//! resolution. Target (issue): >= 50,000 resolutions/s per core on addresses.
//!
//! Run: `cargo bench -p hotline-territory --bench resolve`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hotline_directory::{Directory, Level};
use hotline_territory::Resolver;

fn addresses(directory: &Directory) -> Vec<String> {
    directory
        .divisions_at(Level::Community)
        .map(|community| {
            let names: Vec<&str> = directory
                .ancestors(&community.code)
                .filter(|d| d.level != Level::City)
                .map(|d| d.short_name.as_str())
                .collect();
            names.into_iter().rev().collect::<String>()
        })
        .collect()
}

fn civic_messages() -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/civic/train.csv");
    let Ok(mut reader) = csv::Reader::from_path(&path) else {
        eprintln!(
            "{} not found: skipping the civic-message bench",
            path.display()
        );
        return Vec::new();
    };
    reader
        .records()
        .filter_map(Result::ok)
        .take(1000)
        .map(|r| r[0].to_owned())
        .collect()
}

fn bench(c: &mut Criterion) {
    let directory = Arc::new(Directory::suzhou());
    let resolver = Resolver::new(directory.clone());
    let addresses = addresses(&directory);
    let sentences: Vec<String> = addresses
        .iter()
        .map(|a| format!("您好，我是{a}的居民，小区路灯坏了，晚上出行很不方便，请尽快处理"))
        .collect();
    let civic = civic_messages();

    let mut group = c.benchmark_group("resolve_text");
    for (name, texts) in [
        ("addresses", &addresses),
        ("sentences", &sentences),
        ("civic_messages", &civic),
    ] {
        if texts.is_empty() {
            continue;
        }
        group.throughput(Throughput::Elements(texts.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                for text in texts {
                    black_box(resolver.resolve_text(black_box(text)));
                }
            })
        });
    }
    group.finish();

    c.bench_function("resolver_build", |b| {
        b.iter(|| black_box(Resolver::new(directory.clone())))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
