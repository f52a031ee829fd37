//! Node flags: what compiling works out once about each name, so that a lookup reads
//! one byte instead of walking the zone (Knot's `adjust.c`).

pub const APEX: u8 = 1;
/// NS records at a name other than the apex: a zone cut.
pub const DELEGATION: u8 = 2;
/// Strictly below a zone cut: glue or occluded data, not authoritative.
pub const BELOW_CUT: u8 = 4;
pub const WILDCARD_CHILD: u8 = 8;
pub const DNAME: u8 = 16;
/// Strictly below a DNAME: never answered from its own data (RFC 6672 §2.3).
pub const BELOW_DNAME: u8 = 32;
/// While a version is built: the node's answers are still to be compiled.
pub(crate) const PENDING: u8 = 64;
/// While a version is built: the node was replaced by a later copy in the arena.
pub(crate) const DEAD: u8 = 128;
