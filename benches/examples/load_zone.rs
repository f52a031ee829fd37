//! Time loading a generated zone: `cargo run --release -p shoal-benches --example load_zone -- [NAMES]`.
//! Prints the time to lex and parse the master file and to compile the snapshot.

use shoal_benches::{zone_text, APEX};
use shoal_wire::name::from_ascii;
use std::path::Path;
use std::time::Instant;

// The allocator the server uses, so the figures match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let names: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(700_000);
    let text = zone_text(names);
    let apex = from_ascii(APEX).expect("valid");
    let t = Instant::now();
    let loaded = shoal_zonedb::text::load::load_str(&apex, &text, Path::new("gen.zone")).expect("valid zone");
    let parse = t.elapsed();
    let n = loaded.records.len();
    let t = Instant::now();
    let snap = shoal_zonedb::store::build::compile(&apex, loaded).expect("valid zone");
    let compile = t.elapsed();
    println!(
        "{n} records: parse {parse:?}, compile {compile:?}, total {:?}; serial {}",
        parse + compile,
        snap.serial()
    );
}
