//! [`Serial`]: a zone's SOA serial under RFC 1982 arithmetic.
//!
//! Serials wrap at 2^32 and are compared within half that range: `a` is newer than `b`
//! when `a - b` (mod 2^32) lies in 1..2^31. Two serials exactly 2^31 apart are
//! incomparable (RFC 1982 §3.2), and neither is newer.

use std::cmp::Ordering;

/// An SOA serial, ordered by RFC 1982 serial number arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Serial(pub u32);

impl Serial {
    /// Whether `self` is newer than `other`.
    pub fn is_newer_than(self, other: Serial) -> bool {
        self.partial_cmp(&other) == Some(Ordering::Greater)
    }

    /// The serial `n` steps on, wrapping (RFC 1982 §3.1 addition, `n` < 2^31).
    pub fn plus(self, n: u32) -> Serial {
        Serial(self.0.wrapping_add(n))
    }
}

impl PartialOrd for Serial {
    fn partial_cmp(&self, other: &Serial) -> Option<Ordering> {
        match self.0.wrapping_sub(other.0) {
            0 => Some(Ordering::Equal),
            0x8000_0000 => None,
            d if d < 0x8000_0000 => Some(Ordering::Greater),
            _ => Some(Ordering::Less),
        }
    }
}

impl std::fmt::Display for Serial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::Serial;

    #[test]
    fn rfc1982_comparison() {
        assert!(Serial(2).is_newer_than(Serial(1)));
        assert!(!Serial(1).is_newer_than(Serial(2)));
        assert!(!Serial(5).is_newer_than(Serial(5)));
        assert!(Serial(1).is_newer_than(Serial(u32::MAX)), "wrapped past 2^32 is newer");
        assert!(Serial(0x8000_0000 - 1).is_newer_than(Serial(0)));
        assert!(!Serial(0x8000_0001).is_newer_than(Serial(0)));
        assert!(Serial(0) > Serial(0x8000_0001), "the far side of the circle is older");
        // 2^31 apart: undefined, so neither is newer.
        assert_eq!(Serial(0x8000_0000).partial_cmp(&Serial(0)), None);
        assert!(!Serial(0x8000_0000).is_newer_than(Serial(0)) && !Serial(0).is_newer_than(Serial(0x8000_0000)));
        assert_eq!(Serial(u32::MAX).plus(2), Serial(1));
    }
}
