//! Who may transfer and NOTIFY, and who a query comes from: address lists ([`acl`]),
//! TSIG keys with the signing and verifying of messages ([`tsig`], RFC 8945), and DNS
//! cookies ([`cookies`], RFC 7873 and RFC 9018, on [`siphash`]). The configuration
//! builds them; the transfer side checks requests against the first two, the workers
//! answer cookies.

pub mod acl;
pub mod cookies;
pub mod siphash;
pub mod tsig;
