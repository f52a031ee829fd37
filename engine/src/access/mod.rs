//! Who may transfer and NOTIFY, and who a query comes from: address lists ([`acl`]),
//! TSIG keys with the signing and verifying of messages ([`tsig`], RFC 8945), and DNS
//! cookies ([`cookies`], RFC 7873 and RFC 9018, on [`siphash`]), and TLS identities
//! for zone transfers ([`tls`], RFC 9103). The configuration builds them; the transfer
//! side checks requests against ACLs and keys and runs TLS, the workers answer cookies.

pub mod acl;
pub mod cookies;
pub mod siphash;
pub mod tls;
pub mod tsig;
