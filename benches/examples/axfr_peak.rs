//! Peak memory while a zone received whole is applied to the version held, as the
//! secondary does it (on a thread of its own) and then saved to the state directory:
//! `cargo run --release -p shoal-benches --example axfr_peak -- HELD.zone NEW.zone`
//! (both versions of `big.test.`, e.g. from `scripts/lib/bigzone.py`). Add `main` to
//! run it on the main thread instead.

use shoal_wire::name::from_ascii;
use std::path::Path;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn status(key: &str) -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let l = s.lines().find(|l| l.starts_with(key)).unwrap();
    l.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() >> 10
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let apex = from_ascii("big.test.").expect("valid");
    let held = shoal_zonedb::load_zone(&apex, Path::new(&a[1])).expect("valid zone");
    let text = std::fs::read_to_string(&a[2]).expect("readable");
    let loaded = shoal_zonedb::text::load::load_str(&apex, &text, Path::new(&a[2])).expect("valid");
    drop(text);
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let base = status("VmRSS");
    let in_thread = a.get(3).map(String::as_str) != Some("main");
    let run = || {
        let mut inc = shoal_zonedb::change::incoming::Incoming::new(&apex, Some(&held), "peer");
        use shoal_zonedb::text::load::Sink;
        for r in &loaded.records {
            inc.record(r.owner.as_wire(), r.rtype, r.ttl, &r.rdata, 0, 0);
        }
        let mid = status("VmHWM");
        let applied = inc.finish().expect("valid");
        let fin = status("VmHWM");
        let state = std::env::temp_dir().join(format!("axfr-peak-{}.state", std::process::id()));
        shoal_zonedb::change::persist::save(&applied.snapshot, &state).unwrap();
        std::fs::remove_file(&state).ok();
        let saved = status("VmHWM");
        println!(
            "RSS before {base} MiB; streaming peak +{} MiB; finish +{} MiB; save +{} MiB",
            mid - base,
            fin - base,
            saved - base
        );
    };
    if in_thread {
        std::thread::scope(|s| {
            s.spawn(run);
        });
    } else {
        run();
    }
}
