//! Changing zones: new versions from the version held, and the differences between them.
//!
//! [`diff`] compares two versions; [`apply`] and [`overlay`] derive a new version from
//! an IXFR, and [`incoming`] from a zone received whole, sharing every node that did
//! not change; [`xfr_in`] reads AXFR/IXFR streams and [`xfr_out`] writes them;
//! [`journal`] keeps the diffs for IXFR and [`persist`] the state copy on disk;
//! [`error`] says why a change could not be made.

pub mod apply;
pub mod diff;
pub mod error;
pub mod incoming;
pub mod journal;
pub mod overlay;
pub mod persist;
pub mod xfr_in;
pub mod xfr_out;

pub use error::ApplyError;
