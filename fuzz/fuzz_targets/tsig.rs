//! cargo-fuzz target `tsig`: see `src/tsig.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shoal_fuzz::tsig::run(data));
