//! Criterion benches: parsing a query, answering from a 100k-name zone (positive,
//! NXDOMAIN, referral, wildcard), answering from one of 1 to 100,000 zones (finding the
//! zone must not grow with their number), and compiling a 1M-record zone.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use shoal_benches::{catalog, compile, query, small_zones_catalog, zone_text};
use shoal_wire::Request;
use shoal_zonedb::{answer, Options};
use std::hint::black_box;

// The allocator the server uses, so the figures match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn parse(c: &mut Criterion) {
    let q = query("host12345.bench.test.", 1);
    c.bench_function("parse_query", |b| b.iter(|| Request::parse(black_box(&q)).map(|r| r.qtype)));
}

fn answers(c: &mut Criterion) {
    answer_kinds(c, "answer_100k", &zone_text(100_000), query);
}

/// The same queries with DO to the zone signed with NSEC3: signed answers and, for the
/// denials, the NSEC3 proofs (each name hashed once per query).
fn signed_answers(c: &mut Criterion) {
    answer_kinds(
        c,
        "answer_signed_100k_do",
        &shoal_benches::signed::signed_zone_text(100_000),
        shoal_benches::query_do,
    );
}

/// One bench per kind of answer from the 100k-name zone `text`, queries made by `ask`.
fn answer_kinds(c: &mut Criterion, group: &str, text: &str, ask: fn(&str, u16) -> Vec<u8>) {
    let cat = catalog(compile(text));
    let opts = Options::default();
    let mut out = vec![0u8; 65535];
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    for (label, name, t) in [
        ("positive", "host12345.bench.test.", 1u16),
        ("nxdomain", "nothere12345.bench.test.", 1),
        ("nodata", "host12345.bench.test.", 15),
        ("referral", "www.del12399.bench.test.", 1),
        ("wildcard", "a.b.wild.bench.test.", 1),
    ] {
        let q = ask(name, t);
        g.bench_function(label, |b| b.iter(|| answer(black_box(&q), &cat, &opts, &mut out).len));
    }
    g.finish();
}

fn many_zones(c: &mut Criterion) {
    let opts = Options::default();
    let mut out = vec![0u8; 65535];
    let mut g = c.benchmark_group("answer_among_zones");
    g.throughput(Throughput::Elements(1));
    for zones in [1usize, 1_000, 100_000] {
        let cat = small_zones_catalog(zones);
        let q = query(&format!("www.z{}.many.test.", zones / 2), 1);
        g.bench_function(format!("{zones}"), |b| b.iter(|| answer(black_box(&q), &cat, &opts, &mut out).len));
    }
    g.finish();
}

fn compile_1m(c: &mut Criterion) {
    // ~1M records: 700k names with A, plus AAAA, TXT and delegations.
    let text = zone_text(700_000);
    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    g.bench_function("load_and_compile_1m_records", |b| {
        b.iter_batched(|| (), |_| compile(&text).record_count(), BatchSize::PerIteration)
    });
    g.finish();
}

criterion_group!(benches, parse, answers, signed_answers, many_zones, compile_1m);
criterion_main!(benches);
