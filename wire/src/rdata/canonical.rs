//! [`canonical`]: RDATA in DNSSEC canonical form (RFC 4034 §6.2, corrected by RFC 6840
//! §5.1): the names of the types the record-type table marks are lowercased, all else
//! is kept. Signing and validating compare this form; Shoal stores RDATA as written.

use super::field::Field;
use super::table::descriptor;
use crate::name::uncompressed_len;
use crate::types::Rtype;

/// Append the canonical form of `rdata` (uncompressed, as stored) of type `rtype`.
/// RDATA that does not match its type's layout is appended as it is.
pub fn canonical(rtype: Rtype, rdata: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(rdata);
    let Some(d) = descriptor(rtype) else { return };
    let mut at = 0;
    for f in d.fields {
        match f {
            Field::Name(n) => {
                let Some(len) = uncompressed_len(&rdata[at..]) else { return };
                if n.canonical_lower {
                    out[start + at..start + at + len].make_ascii_lowercase();
                }
                at += len;
            }
            Field::CharString(_) => match rdata.get(at) {
                Some(&l) => at += 1 + usize::from(l),
                None => return,
            },
            f => match f.fixed_len() {
                Some(k) => at += k,
                None => return,
            },
        }
        if at > rdata.len() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(rtype: Rtype, rdata: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        canonical(rtype, rdata, &mut v);
        v
    }

    #[test]
    fn rfc4034_names_are_lowercased_and_nsec_keeps_its_case() {
        assert_eq!(canon(Rtype::MX, b"\x00\x0a\x04MAIL\x07Example\x00"), b"\x00\x0a\x04mail\x07example\x00");
        assert_eq!(canon(Rtype::SRV, b"\x00\x01\x00\x02\x00\x03\x03WWW\x00"), b"\x00\x01\x00\x02\x00\x03\x03www\x00");
        let naptr = b"\x00\x01\x00\x02\x01U\x07E2U+sip\x00\x03Rep\x00";
        assert_eq!(canon(Rtype(35), naptr), b"\x00\x01\x00\x02\x01U\x07E2U+sip\x00\x03rep\x00", "strings keep case");
        // RFC 6840 §5.1: the NSEC next owner keeps its case.
        assert_eq!(canon(Rtype::NSEC, b"\x03WWW\x00\x00\x01\x40"), b"\x03WWW\x00\x00\x01\x40");
        // TXT and unknown types are not touched.
        assert_eq!(canon(Rtype::TXT, b"\x03ABC"), b"\x03ABC");
        assert_eq!(canon(Rtype(65000), b"ABC"), b"ABC");
        // RDATA that does not match its layout is kept as it is.
        assert_eq!(canon(Rtype::MX, b"\x00"), b"\x00");
    }
}
