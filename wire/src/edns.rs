//! EDNS(0) (RFC 6891): what a query's OPT record asks for, and writing ours.
//!
//! Shoal acts on the UDP payload size, the version (anything but 0 gets BADVERS), the
//! DO bit, and the NSID option (RFC 5001). Other options are skipped; their lengths are
//! still validated so that a malformed OPT is FORMERR.

/// Option code of NSID (RFC 5001).
pub const OPT_NSID: u16 = 3;
/// Option code of Extended DNS Errors (RFC 8914).
pub const OPT_EDE: u16 = 15;

/// The EDNS parameters of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    /// Requestor's UDP payload size, raised to 512 when smaller (RFC 6891 §6.2.5).
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    /// The query carried an empty NSID option.
    pub nsid: bool,
}

/// Why the OPT record is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptError;

impl Edns {
    /// Parse an OPT record from its CLASS, TTL and RDATA fields.
    pub fn parse(class: u16, ttl: u32, rdata: &[u8]) -> Result<Edns, OptError> {
        let mut edns =
            Edns { payload: class.max(512), version: (ttl >> 16) as u8, dnssec_ok: ttl & 0x8000 != 0, nsid: false };
        let mut i = 0;
        while i < rdata.len() {
            if i + 4 > rdata.len() {
                return Err(OptError);
            }
            let code = u16::from_be_bytes([rdata[i], rdata[i + 1]]);
            let len = u16::from_be_bytes([rdata[i + 2], rdata[i + 3]]) as usize;
            if i + 4 + len > rdata.len() {
                return Err(OptError);
            }
            if code == OPT_NSID {
                edns.nsid = true;
            }
            i += 4 + len;
        }
        Ok(edns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_payload_is_raised_to_512_and_flags_read() {
        let e = Edns::parse(100, 0x0000_8000, &[]).unwrap();
        assert_eq!(e.payload, 512);
        assert!(e.dnssec_ok);
        assert_eq!(e.version, 0);
        let e = Edns::parse(4096, 0x0001_0000, &[0, 3, 0, 0]).unwrap();
        assert_eq!(e.version, 1);
        assert!(e.nsid);
        assert!(!e.dnssec_ok);
    }

    #[test]
    fn option_length_past_end_is_an_error() {
        assert!(Edns::parse(1232, 0, &[0, 10, 0, 8, 1, 2]).is_err());
        assert!(Edns::parse(1232, 0, &[0, 10, 0]).is_err());
    }
}
