//! Ordinary queries that carry a TSIG (a secondary checking our SOA with its key).
//!
//! Workers do not hold keys, so they pass such a query here. It is verified, answered
//! by the same pure `answer()` with the TSIG removed and room left for ours, and the
//! response is signed with the query's key (RFC 8945 §5.3). A query whose signature
//! fails gets NOTAUTH with the TSIG error, unsigned (§5.2).

use crate::access::tsig::{self, Key, Signer};
use shoal_wire::message::HeaderMut;
use shoal_wire::Request;
use shoal_zonedb::{answer, Catalog, Options};

/// The signed response to `msg`, or `None` if it is not worth a reply.
pub fn answer_signed(msg: &[u8], keys: &[Key], catalog: &Catalog, tcp: bool, udp_payload: u16) -> Option<Vec<u8>> {
    let req = Request::parse(msg).ok()?;
    let at = req.tsig_at?;
    let (key, mac) = match tsig::verify_request(msg, keys, tsig::now()) {
        Ok(Some(k)) => k,
        Ok(None) => return None,
        Err(e) => {
            let record = e.record.map(|r| (r.key_name, r.algorithm, e.code));
            return Some(super::xfr_out::error_message(msg, shoal_wire::Rcode::NOTAUTH, record.as_ref()));
        }
    };
    let mut stripped = msg[..at].to_vec();
    if let Some(mut h) = HeaderMut::of(&mut stripped) {
        h.add_arcount(-1);
    }
    let limit = if tcp { 65535 } else { usize::from(req.edns.map_or(512, |e| e.payload.min(udp_payload).max(512))) };
    let room = key.name.as_wire().len() + key.algorithm.wire_name().len() + key.algorithm.mac_len() + 32;
    let mut out = vec![0u8; limit.saturating_sub(room).max(512)];
    let opts = Options { tcp, udp_payload, ..Options::default() };
    let r = answer(&stripped, catalog, &opts, &mut out);
    if r.len == 0 {
        return None;
    }
    out.truncate(r.len);
    Signer::new(key, &mac).sign(&mut out, tsig::now());
    Some(out)
}
