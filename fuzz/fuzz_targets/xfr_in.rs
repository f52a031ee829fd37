//! cargo-fuzz target `xfr_in`: see `src/xfr_in.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shoal_fuzz::xfr_in::run(data));
