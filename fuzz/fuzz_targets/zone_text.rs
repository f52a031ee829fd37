//! cargo-fuzz target `zone_text`: see `src/zone_text.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shoal_fuzz::zone_text::run(data));
