//! Applying an IXFR of 1, 10, 100 and 1,000 changed records to zones of about 10k,
//! 100k and 1M records: the new version shares the held one's base, so the time should
//! follow the number of changes and stay flat as the zone grows. The same for IXFRs
//! that re-sign 10, 100 and 1,000 RRsets of a signed zone.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use shoal_benches::{compile, ixfr, zone_text};
use shoal_zonedb::change::apply::apply;
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn apply_ixfr(c: &mut Criterion) {
    let mut g = c.benchmark_group("apply_ixfr");
    g.sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    // zone_text(n) makes about 1.4 records per name.
    for (label, names) in [("10k", 7_000), ("100k", 70_000), ("1m", 700_000)] {
        let held = compile(&zone_text(names));
        for changes in [1usize, 10, 100, 1000] {
            let diff = ixfr(&held, names, changes);
            let id = BenchmarkId::new(format!("{label}_records"), format!("{changes}_changes"));
            g.bench_with_input(id, &diff, |b, d| {
                b.iter_with_large_drop(|| apply(&held, std::slice::from_ref(d)).expect("applies"))
            });
        }
    }
    g.finish();
}

/// Re-signing IXFRs (RRSIGs replaced, the NSEC3 chain unchanged) applied to a signed
/// zone of 100k names: the time should follow the number of signatures changed.
fn apply_resign(c: &mut Criterion) {
    use shoal_benches::signed::{resign_ixfr, signed_zone_text};
    let mut g = c.benchmark_group("apply_resign_ixfr");
    g.sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    for (label, names) in [("10k", 10_000), ("100k", 100_000)] {
        let held = compile(&signed_zone_text(names));
        for changes in [10usize, 100, 1000] {
            let diff = resign_ixfr(&held, names, changes);
            let id = BenchmarkId::new(format!("{label}_names"), format!("{changes}_rrsigs"));
            g.bench_with_input(id, &diff, |b, d| {
                b.iter_with_large_drop(|| apply(&held, std::slice::from_ref(d)).expect("applies"))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, apply_ixfr, apply_resign);
criterion_main!(benches);
