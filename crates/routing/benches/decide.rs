//! Routing decisions per second on real message bodies.
//!
//! What it measures: `RoutingEngine::decide` (classify + resolve territory + select rule +
//! walk + explanation) over the shipped catalogue, rules-only classifier and Suzhou directory,
//! on the message bodies of `../shared/data/civic/train.csv` (or a few built-in Suzhou
//! messages when the file is absent), and the same with a Suzhou address added; plus
//! `similarity` for duplicate checks.
//!
//! Run: `cargo bench -p hotline-routing --bench decide`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hotline_routing::{similarity, RouteRequest, RoutingEngine};

const TRAIN_CSV: &str = "../../../shared/data/civic/train.csv";

fn bodies() -> Vec<String> {
    match csv::Reader::from_path(TRAIN_CSV) {
        Ok(mut reader) => reader
            .records()
            .filter_map(Result::ok)
            .map(|r| r[0].to_owned())
            .take(2000)
            .collect(),
        Err(_) => [
            "姑苏区沧浪亭社区5栋楼道灯坏了，物业报修一个月没人管",
            "公司拖欠工资三个月了，怎么办",
            "小区停水了两天",
            "你好",
            "楼上装修噪音扰民，晚上十一点还在施工",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
    }
}

fn decide(c: &mut Criterion) {
    let engine = RoutingEngine::suzhou();
    let bodies = bodies();
    let requests: Vec<RouteRequest> = bodies.iter().map(RouteRequest::text).collect();
    let addressed: Vec<RouteRequest> = bodies
        .iter()
        .map(|text| RouteRequest {
            address: Some("苏州市姑苏区双塔街道沧浪亭社区".to_owned()),
            ..RouteRequest::text(text)
        })
        .collect();

    let mut group = c.benchmark_group("decide");
    group.throughput(Throughput::Elements(requests.len() as u64));
    group.sample_size(10);
    group.bench_function("message_bodies", |b| {
        b.iter(|| {
            for request in &requests {
                black_box(engine.decide(black_box(request)));
            }
        })
    });
    group.bench_function("message_bodies_with_address", |b| {
        b.iter(|| {
            for request in &addressed {
                black_box(engine.decide(black_box(request)));
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("duplicates");
    let pairs: Vec<(&String, &String)> = bodies.iter().zip(bodies.iter().skip(1)).collect();
    group.throughput(Throughput::Elements(pairs.len() as u64));
    group.sample_size(10);
    group.bench_function("similarity", |b| {
        b.iter(|| {
            for (x, y) in &pairs {
                black_box(similarity(x, y));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
