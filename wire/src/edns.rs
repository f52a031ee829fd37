//! EDNS(0) (RFC 6891): what a query's OPT record asks for, and writing ours.
//!
//! Shoal acts on the UDP payload size, the version (anything but 0 gets BADVERS), the
//! DO bit, the NSID option (RFC 5001), the EXPIRE option (RFC 7314) and where the
//! COOKIE option (RFC 7873) is, for the server to answer it. Other options
//! are skipped; their lengths are still validated so that a malformed OPT is FORMERR.
//! [`OptOut`] is what an OPT record Shoal writes carries, and [`expire_value`] reads
//! the EXPIRE option out of a response.

/// Option code of NSID (RFC 5001).
pub const OPT_NSID: u16 = 3;
/// Option code of EXPIRE (RFC 7314).
pub const OPT_EXPIRE: u16 = 9;
/// Option code of COOKIE (RFC 7873).
pub const OPT_COOKIE: u16 = 10;
/// The COOKIE option a server adds to an answer: code, length, an 8-byte client cookie
/// and a 16-byte server cookie (RFC 9018).
pub const COOKIE_ANSWER_LEN: usize = 4 + 8 + 16;
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
    /// The query carried an EXPIRE option.
    pub expire: bool,
    /// Where the query's COOKIE option data is in the message: its offset and length
    /// (8: a client cookie; 16 to 40: with a server cookie).
    pub cookie: Option<(u16, u8)>,
}

/// The options of an OPT record Shoal writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OptOut<'a> {
    /// NSID (RFC 5001).
    pub nsid: Option<&'a [u8]>,
    /// An Extended DNS Error code (RFC 8914).
    pub ede: Option<u16>,
    /// EXPIRE (RFC 7314): seconds until the zone expires here.
    pub expire: Option<u32>,
}

impl OptOut<'_> {
    /// The bytes these options take in the OPT RDATA.
    pub fn len(&self) -> usize {
        self.nsid.map_or(0, |n| 4 + n.len())
            + if self.ede.is_some() { 6 } else { 0 }
            + if self.expire.is_some() { 8 } else { 0 }
    }

    /// No options.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why the OPT record is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptError;

impl Edns {
    /// Parse an OPT record from its CLASS, TTL and RDATA fields; the RDATA starts at
    /// `rdata_at` in the message. A COOKIE option of a length RFC 7873 does not allow is
    /// an error (FORMERR, §5.2.2).
    pub fn parse(class: u16, ttl: u32, rdata: &[u8], rdata_at: usize) -> Result<Edns, OptError> {
        let mut edns = Edns {
            payload: class.max(512),
            version: (ttl >> 16) as u8,
            dnssec_ok: ttl & 0x8000 != 0,
            nsid: false,
            expire: false,
            cookie: None,
        };
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
            match code {
                OPT_NSID => edns.nsid = true,
                OPT_EXPIRE => edns.expire = true,
                OPT_COOKIE => {
                    if !(len == 8 || (16..=40).contains(&len)) || edns.cookie.is_some() {
                        return Err(OptError);
                    }
                    let at = u16::try_from(rdata_at + i + 4).map_err(|_| OptError)?;
                    edns.cookie = Some((at, len as u8));
                }
                _ => {}
            }
            i += 4 + len;
        }
        Ok(edns)
    }
}

/// The value of the EXPIRE option in a message's OPT record, if it carries one with a
/// value (RFC 7314 §2: four octets in a response).
pub fn expire_value(msg: &[u8]) -> Option<u32> {
    let be16 = |i: usize| Some(u16::from_be_bytes([*msg.get(i)?, *msg.get(i + 1)?]));
    let counts = [be16(4)?, be16(6)?, be16(8)?, be16(10)?].map(usize::from);
    let mut pos = crate::types::HEADER_LEN;
    for _ in 0..counts[0] {
        pos = crate::name::skip_name(msg, pos).ok()? + 4;
    }
    for _ in 0..counts[1] + counts[2] + counts[3] {
        pos = crate::name::skip_name(msg, pos).ok()?;
        let (rtype, rdlen) = (be16(pos)?, usize::from(be16(pos + 8)?));
        let rdata = msg.get(pos + 10..pos + 10 + rdlen)?;
        pos += 10 + rdlen;
        if rtype != crate::types::Rtype::OPT.0 {
            continue;
        }
        let mut rest = rdata;
        while rest.len() >= 4 {
            let code = u16::from_be_bytes([rest[0], rest[1]]);
            let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
            let value = rest.get(4..4 + len)?;
            if code == OPT_EXPIRE && len == 4 {
                return Some(u32::from_be_bytes([value[0], value[1], value[2], value[3]]));
            }
            rest = &rest[4 + len..];
        }
        return None;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_payload_is_raised_to_512_and_flags_read() {
        let e = Edns::parse(100, 0x0000_8000, &[], 0).unwrap();
        assert_eq!(e.payload, 512);
        assert!(e.dnssec_ok);
        assert_eq!(e.version, 0);
        let e = Edns::parse(4096, 0x0001_0000, &[0, 3, 0, 0], 0).unwrap();
        assert_eq!(e.version, 1);
        assert!(e.nsid);
        assert!(!e.dnssec_ok);
        assert!(!e.expire);
        let e = Edns::parse(1232, 0, &[0, 9, 0, 0, 0, 3, 0, 0], 0).unwrap();
        assert!(e.expire && e.nsid);
    }

    #[test]
    fn expire_is_read_from_a_response() {
        let with = |options: &[u8]| {
            let mut m = vec![0x12, 0x34, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 1];
            m.extend_from_slice(b"\x01a\x00\x00\x06\x00\x01");
            m.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0]);
            m.extend_from_slice(&(options.len() as u16).to_be_bytes());
            m.extend_from_slice(options);
            m
        };
        assert_eq!(expire_value(&with(&[0, 3, 0, 1, b'x', 0, 9, 0, 4, 0, 0, 14, 16])), Some(3600));
        assert_eq!(expire_value(&with(&[0, 9, 0, 0])), None, "a query's empty option has no value");
        assert_eq!(expire_value(&with(&[])), None);
        assert_eq!(expire_value(&with(&[0, 9, 0, 4, 0])), None, "cut short");
    }

    #[test]
    fn cookies_of_allowed_lengths_are_found_and_others_are_errors() {
        let mut opt = vec![0, 10, 0, 8];
        opt.extend_from_slice(&[7; 8]);
        assert_eq!(Edns::parse(1232, 0, &opt, 100).unwrap().cookie, Some((104, 8)));
        let mut with_server = vec![0, 3, 0, 0, 0, 10, 0, 24];
        with_server.extend_from_slice(&[7; 24]);
        assert_eq!(Edns::parse(1232, 0, &with_server, 20).unwrap().cookie, Some((28, 24)));
        for bad in [0usize, 7, 9, 15, 41] {
            let mut o = vec![0, 10, 0, bad as u8];
            o.extend(std::iter::repeat_n(1, bad));
            assert!(Edns::parse(1232, 0, &o, 0).is_err(), "a cookie of {bad} bytes");
        }
    }

    #[test]
    fn option_length_past_end_is_an_error() {
        assert!(Edns::parse(1232, 0, &[0, 10, 0, 8, 1, 2], 0).is_err());
        assert!(Edns::parse(1232, 0, &[0, 10, 0], 0).is_err());
    }
}
