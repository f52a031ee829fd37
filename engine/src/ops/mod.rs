//! Operating a running server: the metrics page ([`exposition`], Prometheus text
//! format) and health endpoints served over HTTP ([`http`]), the control socket behind
//! `shoal ctl` ([`control`], with [`zone_read`] showing a zone's records), and the
//! bad-packet log ([`bad_packets`]). Everything here reads counters, zone status and
//! published versions; nothing here answers a DNS query.

pub mod bad_packets;
pub mod control;
pub mod exposition;
pub mod http;
pub mod zone_read;
