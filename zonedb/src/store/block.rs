//! [`Block`]: response sections encoded once, when a snapshot is compiled, and copied
//! into responses (DESIGN.md "The compiled zone"; NSD does the same).
//!
//! A block is compiled as the tail of a response whose question name is a chosen
//! *anchor* (the RRset's owner for a positive answer, the apex for a negative answer,
//! the cut for a referral), with names compressed against that question and against
//! each other. In a real response the question is the client's qname, which ends with
//! the anchor: it is `delta = len(qname) - len(anchor)` bytes longer, so every name the
//! block points at — a suffix of the question, or a name inside the block — sits exactly
//! `delta` bytes later. Copying a block is therefore a `memcpy` plus adding `delta` to
//! the handful of pointers listed in [`Block::pointers`]. For an exact match
//! `delta` is 0. Pointer targets are kept far enough below 0x3fff that the largest
//! `delta` (255) still encodes.

use shoal_wire::rdata::compressed_names;
use shoal_wire::writer::ResponseWriter;
use shoal_wire::{Class, Rtype, HEADER_LEN};

/// Precompiled sections.
#[derive(Debug, Clone, Default)]
pub struct Block {
    pub bytes: Box<[u8]>,
    /// Positions in `bytes` of compression pointers, as little-endian u16 pairs (the
    /// form nodes store them in, [`crate::store::node`]).
    pub pointers: Box<[u8]>,
    /// Records in answer, authority, additional.
    pub counts: [u16; 3],
}

impl Block {
    /// Compile a block: `write` adds records to a response whose question is
    /// `anchor`/`qtype`. Returns `None` if it does not fit in 64 KiB.
    pub fn compile(
        anchor: &[u8],
        qtype: Rtype,
        scratch: &mut [u8],
        write: impl FnOnce(&mut ResponseWriter<'_>) -> bool,
    ) -> Option<Block> {
        let mut w = ResponseWriter::new(scratch, 65535);
        w.header(0, 0, 1);
        let mut q = [0u8; 259];
        q[..anchor.len()].copy_from_slice(anchor);
        q[anchor.len()..anchor.len() + 2].copy_from_slice(&qtype.0.to_be_bytes());
        q[anchor.len() + 2..anchor.len() + 4].copy_from_slice(&Class::IN.0.to_be_bytes());
        w.question(&q[..anchor.len() + 4]).ok()?;
        let start = w.len();
        if !write(&mut w) {
            return None;
        }
        let counts = [
            w.count(shoal_wire::writer::Section::Answer),
            w.count(shoal_wire::writer::Section::Authority),
            w.count(shoal_wire::writer::Section::Additional),
        ];
        let msg = w.written();
        let pointers = find_pointers(msg, start, counts.iter().map(|&c| c as usize).sum())?;
        let pointers: Vec<u8> = pointers.iter().flat_map(|p| p.to_le_bytes()).collect();
        Some(Block { bytes: msg[start..].into(), pointers: pointers.into_boxed_slice(), counts })
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Positions (relative to `start`) of every compression pointer in `n` records that
/// begin at `start` of `msg`.
fn find_pointers(msg: &[u8], start: usize, n: usize) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    let mut pos = start;
    for _ in 0..n {
        pos = name_pointers(msg, pos, start, &mut out)?;
        let rtype = Rtype(u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]));
        let rdlen = u16::from_be_bytes([*msg.get(pos + 8)?, *msg.get(pos + 9)?]) as usize;
        let rdata = pos + 10;
        if let Some((skip, names)) = compressed_names(rtype) {
            let mut p = rdata + skip;
            for _ in 0..names {
                if p >= rdata + rdlen {
                    break;
                }
                p = name_pointers(msg, p, start, &mut out)?;
            }
        }
        pos = rdata + rdlen;
    }
    (pos == msg.len()).then_some(out)
}

/// Walk one name at `pos`, recording a terminating pointer. Returns the end.
fn name_pointers(msg: &[u8], mut pos: usize, start: usize, out: &mut Vec<u16>) -> Option<usize> {
    loop {
        let l = *msg.get(pos)?;
        if l & 0xc0 == 0xc0 {
            let target = (usize::from(l & 0x3f) << 8) | usize::from(*msg.get(pos + 1)?);
            if target + 255 > 0x3fff {
                return None;
            }
            out.push(u16::try_from(pos - start).ok()?);
            return Some(pos + 2);
        }
        pos += 1 + l as usize;
        if l == 0 {
            return Some(pos);
        }
    }
}

/// Run `f` with this thread's 64 KiB buffer for compiling blocks, zeroed once per thread
/// rather than once per zone (a server may load many small zones).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Box<[u8]>> = std::cell::RefCell::new(vec![0u8; 65535].into_boxed_slice());
    }
    SCRATCH.with(|s| f(&mut s.borrow_mut()))
}

/// Offset of the question name in a response.
pub const QUESTION_AT: usize = HEADER_LEN;
