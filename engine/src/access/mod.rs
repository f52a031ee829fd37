//! Who may transfer and NOTIFY: address lists ([`acl`]) and TSIG keys with the signing
//! and verifying of messages ([`tsig`], RFC 8945). The configuration builds them; the
//! transfer side checks requests against them.

pub mod acl;
pub mod tsig;
