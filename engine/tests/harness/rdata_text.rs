//! Presentation form (RFC 4034 and RFC 5155 sections "Presentation Format") of the
//! DNSSEC record types DS, RRSIG, NSEC, DNSKEY, NSEC3 and NSEC3PARAM, and of DNAME, for
//! reports: hickory-proto, built without its `dnssec` feature, shows their RDATA only as
//! base64, and a report that says which type an RRSIG covers, or which names an NSEC3
//! spans, is one a reader can act on. [`super::normalize::Rr::text`] asks here first.
//!
//! Only what a report needs: RDATA that does not parse is left to the caller's
//! fallback (`None`).

use data_encoding::{BASE32HEX_NOPAD, BASE64, HEXUPPER};
use hickory_proto::rr::RecordType;

use super::normalize::read_name;

/// The presentation form of `rdata` when `rtype` is one of the DNSSEC types or DNAME.
pub fn dnssec(rtype: u16, rdata: &[u8]) -> Option<String> {
    match rtype {
        39 => read_name(rdata, 0).ok().map(|(name, _)| name),
        43 => ds(rdata),
        46 => rrsig(rdata),
        47 => nsec(rdata),
        48 => dnskey(rdata),
        50 => nsec3(rdata),
        51 => nsec3param(rdata),
        _ => None,
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

pub fn type_name(rtype: u16) -> String {
    match RecordType::from(rtype) {
        RecordType::Unknown(n) => format!("TYPE{n}"),
        t => t.to_string(),
    }
}

fn ds(b: &[u8]) -> Option<String> {
    let tag = u16_at(b, 0)?;
    Some(format!("{tag} {} {} {}", b.get(2)?, b.get(3)?, HEXUPPER.encode(b.get(4..)?)))
}

fn dnskey(b: &[u8]) -> Option<String> {
    let flags = u16_at(b, 0)?;
    Some(format!("{flags} {} {} {}", b.get(2)?, b.get(3)?, BASE64.encode(b.get(4..)?)))
}

fn rrsig(b: &[u8]) -> Option<String> {
    let covered = type_name(u16_at(b, 0)?);
    let (algorithm, labels, original_ttl) = (b.get(2)?, b.get(3)?, u32_at(b, 4)?);
    let (expiration, inception, tag) = (time(u32_at(b, 8)?), time(u32_at(b, 12)?), u16_at(b, 16)?);
    let (signer, end) = read_name(b, 18).ok()?;
    let signature = BASE64.encode(b.get(end..)?);
    Some(format!("{covered} {algorithm} {labels} {original_ttl} {expiration} {inception} {tag} {signer} {signature}"))
}

fn nsec(b: &[u8]) -> Option<String> {
    let (next, end) = read_name(b, 0).ok()?;
    Some(format!("{next} {}", bitmap(b.get(end..)?)?))
}

fn nsec3(b: &[u8]) -> Option<String> {
    let (algorithm, flags, iterations) = (b.first()?, b.get(1)?, u16_at(b, 2)?);
    let salt_len = usize::from(*b.get(4)?);
    let salt = salt_text(b.get(5..5 + salt_len)?);
    let at = 5 + salt_len;
    let hash_len = usize::from(*b.get(at)?);
    let next = BASE32HEX_NOPAD.encode(b.get(at + 1..at + 1 + hash_len)?).to_ascii_lowercase();
    let types = bitmap(b.get(at + 1 + hash_len..)?)?;
    Some(format!("{algorithm} {flags} {iterations} {salt} {next} {types}"))
}

fn nsec3param(b: &[u8]) -> Option<String> {
    let (algorithm, flags, iterations) = (b.first()?, b.get(1)?, u16_at(b, 2)?);
    let salt_len = usize::from(*b.get(4)?);
    Some(format!("{algorithm} {flags} {iterations} {}", salt_text(b.get(5..5 + salt_len)?)))
}

fn salt_text(salt: &[u8]) -> String {
    if salt.is_empty() {
        "-".into()
    } else {
        HEXUPPER.encode(salt)
    }
}

/// The type bitmap of NSEC and NSEC3 (RFC 4034 4.1.2) as mnemonics.
fn bitmap(mut b: &[u8]) -> Option<String> {
    let mut types = Vec::new();
    while !b.is_empty() {
        let (window, len) = (u16::from(*b.first()?), usize::from(*b.get(1)?));
        let bits = b.get(2..2 + len)?;
        for (i, byte) in bits.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    types.push(type_name(window * 256 + (i as u16) * 8 + bit));
                }
            }
        }
        b = &b[2 + len..];
    }
    Some(types.join(" "))
}

/// An RRSIG time as `YYYYMMDDHHmmSS` (RFC 4034 3.2), read as seconds since 1970 in the
/// 32-bit range without serial arithmetic: enough for the fixtures, all before 2106.
fn time(t: u32) -> String {
    let secs = u64::from(t);
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}{:02}{:02}{:02}", rest / 3600, rest % 3600 / 60, rest % 60)
}
