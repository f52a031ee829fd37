//! The transfer side (NSD's xfrd, Knot's background workers): everything about zone
//! versions that is not answering a query.
//!
//! (Being built: TSIG first.)

pub mod tsig;
