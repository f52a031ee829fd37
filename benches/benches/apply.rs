//! Applying an IXFR of 1, 10, 100 and 1,000 changed records to zones of about 10k,
//! 100k and 1M records: the new version shares the held one's base, so the time should
//! follow the number of changes and stay flat as the zone grows. The same for IXFRs
//! that re-sign 10, 100 and 1,000 RRsets of a signed zone. And publishing one zone's
//! new version into a catalog of 1, 1,000 and 100,000 zones (one slot swapped, flat in
//! the zone count), beside building the whole catalog again (what adding or removing a
//! zone costs).

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

/// One zone's new version published into a catalog of many: `replace` swaps one slot
/// (then the replaced version is freed, no reader holding it); `rebuild` makes the
/// whole catalog again.
fn publish(c: &mut Criterion) {
    use shoal_benches::small_zones_catalog;
    use shoal_zonedb::{Publisher, ZoneState};
    use std::sync::Arc;
    let mut g = c.benchmark_group("publish_one_zone");
    g.sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    for zones in [1usize, 1_000, 100_000] {
        let catalog = small_zones_catalog(zones);
        let apex = shoal_wire::name::from_ascii("z0.many.test.").expect("valid");
        let versions: Vec<Arc<shoal_zonedb::Snapshot>> =
            (0..2).map(|_| catalog.get(apex.as_wire()).and_then(|e| e.snapshot()).expect("z0 is served")).collect();
        let states: Vec<(shoal_wire::Name, Arc<shoal_zonedb::Snapshot>)> =
            catalog.iter().filter_map(|(n, e)| Some((n.clone(), e.snapshot()?))).collect();
        let mut publisher = Publisher::new(catalog);
        let mut i = 0;
        g.bench_function(BenchmarkId::new("replace", format!("{zones}_zones")), |b| {
            b.iter(|| {
                i += 1;
                publisher.replace(apex.as_wire(), ZoneState::Ready(Arc::clone(&versions[i % 2])));
                publisher.reclaim()
            })
        });
        g.bench_function(BenchmarkId::new("rebuild", format!("{zones}_zones")), |b| {
            b.iter_with_large_drop(|| {
                let mut c = shoal_zonedb::Catalog::new();
                for (n, s) in &states {
                    c.insert(n.clone(), ZoneState::Ready(Arc::clone(s)));
                }
                c
            })
        });
    }
    g.finish();
}

criterion_group!(benches, apply_ixfr, apply_resign, publish);
criterion_main!(benches);
