//! # shoal-engine: the server around the pure answer function
//!
//! Owns everything with a side effect: the configuration file ([`config`]), loading
//! zones into the catalog ([`zones`]), the worker threads with their sockets
//! ([`worker`]), counters ([`metrics`]), their HTTP exposition ([`http`], [`exposition`])
//! and the few raw syscalls ([`sys`]). The binary
//! `shoal` (src/main.rs) is thin glue over this library.

pub mod acl;
pub mod config;
pub mod control;
pub mod exposition;
pub mod http;
pub mod metrics;
pub mod server;
pub mod sys;
pub mod transfer;
pub mod worker;
pub mod zones;
