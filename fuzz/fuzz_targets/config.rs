//! cargo-fuzz target `config`: see `src/config.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shoal_fuzz::config::run(data));
