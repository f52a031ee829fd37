//! # shoal-fuzz: what each fuzz target does, in one place
//!
//! Each target is a function from bytes to nothing that must never panic: the
//! cargo-fuzz binaries in `fuzz_targets/` call it on what libFuzzer makes, and
//! `engine/tests/fuzz_corpora.rs` calls it on every file of `corpus/<target>/` under the
//! stable toolchain (it includes this file with `#[path]`, so paths here are relative:
//! `super::`, never `crate::`).
//!
//! - [`query`]: a message parsed as a query and answered from fixed zones, over UDP and
//!   TCP, precompiled and record by record ([`answers`] checks the two agree);
//! - [`zone_text`]: the master-file reader and compiler on arbitrary text;
//! - [`xfr_in`]: AXFR/IXFR response messages parsed and made into the next version of
//!   a held zone;
//! - [`tsig`]: TSIG verification of requests, responses and response streams;
//! - [`config`]: the configuration file parser and validation;
//! - [`fixtures`]: the zones they use, from `engine/tests/zones/`; [`stream`]: several
//!   messages in one input.
//!
//! No target reads or writes files, opens sockets or reads the clock, except that
//! answering the SOA of a zone with an expiry reads it (none of the fixtures has one).

pub mod answers;
pub mod config;
pub mod fixtures;
pub mod query;
pub mod stream;
pub mod tsig;
pub mod xfr_in;
pub mod zone_text;

/// A target: bytes in, a panic if something is wrong.
pub type Target = fn(&[u8]);

/// Every target by name (the name of its `fuzz_targets/` binary and corpus folder).
pub const TARGETS: [(&str, Target); 5] = [
    ("query", query::run),
    ("zone_text", zone_text::run),
    ("xfr_in", xfr_in::run),
    ("tsig", tsig::run),
    ("config", config::run),
];
