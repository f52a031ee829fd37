//! cargo-fuzz target `query`: see `src/query.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shoal_fuzz::query::run(data));
