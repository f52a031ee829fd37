//! The compiled zone: one immutable version of a zone, and the set of zones served.
//!
//! Names are hashed ([`namehash`]) into an index ([`nameindex`]) of packed nodes
//! ([`node`], [`nodemap`]) whose [`flags`] say what compiling worked out about them;
//! [`build`] compiles records into a [`snapshot::Snapshot`], with each RRset's answer
//! precompiled as a [`block`] through the RRset encoder that answering also uses
//! ([`encode`]); a signed zone's NSEC or NSEC3 owners are kept in order in its
//! [`chain`], and [`denial`] says how the zone proves what is not there; [`catalog`] maps
//! apexes to zones, each version in its own [`slot`], replaced one zone at a time by the
//! [`publisher`]; a batch of queries reads each zone's slot once into its [`held`].
//! [`prefetch`] holds the crate's one `unsafe` block, a cache hint for lookups.

pub mod block;
pub mod build;
pub mod catalog;
pub mod chain;
pub mod denial;
pub mod encode;
pub mod flags;
pub mod held;
pub mod namehash;
pub mod nameindex;
pub mod node;
pub mod nodemap;
pub mod prefetch;
pub mod publisher;
pub mod slot;
pub mod snapshot;
