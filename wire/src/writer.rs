//! [`ResponseWriter`]: encodes a response into a caller's buffer.
//!
//! - Names are compressed (RFC 1035 §4.1.4) against every name already written,
//!   including the question echoed at offset 12, so an owner equal to the qname is a
//!   two-byte pointer. RDATA names are compressed only for the RFC 1035 types
//!   (RFC 3597 §4).
//! - Every record is written whole or not at all; [`ResponseWriter::mark`] and
//!   [`ResponseWriter::rollback`] let a caller drop a partly written RRset, which is how
//!   truncation happens at an RRset boundary (RFC 2181 §9).
//! - The compression table is a fixed array of positions; a lookup reads the names at
//!   them. A writer of transfer messages ([`ResponseWriter::hashed`], a thousand names
//!   a message) also keeps a hash of each remembered name, so that a lookup compares
//!   hashes and reads the buffer only on a match. Names past the table's capacity are
//!   still written, only less compressed. Nothing allocates but the hashed table.

use crate::name::{uncompressed_len, MAX_LABELS};
use crate::rdata::table::compressed_names;
use crate::types::HEADER_LEN;
use crate::types::{Class, Rtype};

/// How many name positions the compression table remembers.
const COMPRESSION_SLOTS: usize = 96;

/// The buffer limit was reached; nothing of the failed write remains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteError;

/// The sections a record can go in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Answer = 0,
    Authority = 1,
    Additional = 2,
}

/// Where a record's owner name comes from.
#[derive(Clone, Copy, Debug)]
pub enum Owner<'n> {
    /// The question name, written as a pointer to offset 12 (client's case).
    Question,
    /// Any other name, lowercase wire form; compressed if possible.
    Name(&'n [u8]),
}

/// A point to roll back to.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    len: usize,
    counts: [u16; 3],
    slots: usize,
}

/// Writes one response message.
pub struct ResponseWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
    limit: usize,
    counts: [u16; 3],
    slots: [u16; COMPRESSION_SLOTS],
    /// With [`ResponseWriter::hashed`]: for each slot, [`Labels`]' hash of the name
    /// from that position on, or [`UNHASHED`] (the question's, read on every lookup).
    tags: Option<Box<[u32; COMPRESSION_SLOTS]>>,
    nslots: usize,
}

/// The tag of a slot whose name is compared by reading it; no hash is even.
const UNHASHED: u32 = 0;

/// A name's label starts and, when hashed, for each the hash of the name from that
/// label on (ASCII case folded): what the compression table is searched with.
struct Labels {
    starts: [u8; MAX_LABELS],
    n: usize,
    hashes: Option<[u32; MAX_LABELS]>,
}

impl Labels {
    /// The labels of `name` (uncompressed wire form), up to its root label; their
    /// hashes too when `hashed`.
    fn of(name: &[u8], hashed: bool) -> Labels {
        let mut l = Labels { starts: [0; MAX_LABELS], n: 0, hashes: None };
        let mut i = 0;
        while i < name.len() && name[i] != 0 && l.n < MAX_LABELS {
            l.starts[l.n] = i as u8;
            l.n += 1;
            i += 1 + name[i] as usize;
        }
        if hashed {
            // FNV-1a over each label, from the root up, so that a suffix's hash does
            // not depend on the labels before it.
            let mut hashes = [UNHASHED; MAX_LABELS];
            let mut h: u32 = 0x811c_9dc5;
            for k in (0..l.n).rev() {
                let s = l.starts[k] as usize;
                let end = (s + 1 + name[s] as usize).min(name.len());
                for &b in &name[s..end] {
                    h = (h ^ u32::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0193);
                }
                hashes[k] = h | 1;
            }
            l.hashes = Some(hashes);
        }
        l
    }

    /// The hash of the suffix from label `k`, [`UNHASHED`] when not hashed.
    fn hash(&self, k: usize) -> u32 {
        self.hashes.as_ref().map_or(UNHASHED, |h| h[k])
    }
}

impl<'a> ResponseWriter<'a> {
    /// A writer that will never write past `limit` bytes (nor past `buf`).
    pub fn new(buf: &'a mut [u8], limit: usize) -> Self {
        let limit = limit.min(buf.len());
        ResponseWriter { buf, len: 0, limit, counts: [0; 3], slots: [0; COMPRESSION_SLOTS], tags: None, nslots: 0 }
    }

    /// The same writer, keeping a hash of each name it remembers for compression (one
    /// small allocation): for messages of many names, such as a zone transfer's, where
    /// reading every remembered name for each new one would cost the most.
    pub fn hashed(mut self) -> Self {
        self.tags = Some(Box::new([UNHASHED; COMPRESSION_SLOTS]));
        self
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The maximum size of this response.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Lower the limit (for example to the client's UDP payload size once known).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(self.buf.len()).max(self.len);
    }

    /// Write the header: `id`, the flag word, and QDCOUNT. Other counts are filled in by
    /// [`ResponseWriter::finish`]. Needs 12 bytes; every caller's buffer has them.
    pub fn header(&mut self, id: u16, flags: u16, qdcount: u16) {
        self.buf[0..2].copy_from_slice(&id.to_be_bytes());
        self.buf[2..4].copy_from_slice(&flags.to_be_bytes());
        self.buf[4..6].copy_from_slice(&qdcount.to_be_bytes());
        self.buf[6..12].fill(0);
        self.len = HEADER_LEN;
        self.counts = [0; 3];
        self.nslots = 0;
    }

    /// The flag word as written so far.
    pub fn flags(&self) -> u16 {
        u16::from_be_bytes([self.buf[2], self.buf[3]])
    }

    pub fn set_flags(&mut self, flags: u16) {
        self.buf[2..4].copy_from_slice(&flags.to_be_bytes());
    }

    /// Set the header RCODE (low four bits).
    pub fn set_rcode(&mut self, rcode: u8) {
        self.buf[3] = (self.buf[3] & 0xf0) | (rcode & 0x0f);
    }

    /// Copy the question as received (its name must be uncompressed, as a question
    /// at offset 12 always is once it parsed) and remember it for compression.
    pub fn question(&mut self, question: &[u8]) -> Result<(), WriteError> {
        self.reserve(question.len())?;
        self.buf[self.len..self.len + question.len()].copy_from_slice(question);
        let start = self.len;
        self.len += question.len();
        self.remember_labels(start, None);
        Ok(())
    }

    /// The current position, for [`ResponseWriter::rollback`].
    pub fn mark(&self) -> Mark {
        Mark { len: self.len, counts: self.counts, slots: self.nslots }
    }

    /// Forget everything written since `mark`.
    pub fn rollback(&mut self, mark: Mark) {
        self.len = mark.len;
        self.counts = mark.counts;
        self.nslots = mark.slots;
    }

    /// Records written to `section` so far.
    pub fn count(&self, section: Section) -> u16 {
        self.counts[section as usize]
    }

    /// Write one resource record.
    pub fn rr(
        &mut self,
        section: Section,
        owner: Owner<'_>,
        rtype: Rtype,
        class: Class,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), WriteError> {
        let mark = self.mark();
        let r = self.rr_inner(owner, rtype, class, ttl, rdata);
        match r {
            Ok(()) => {
                self.counts[section as usize] += 1;
                Ok(())
            }
            Err(e) => {
                self.rollback(mark);
                Err(e)
            }
        }
    }

    fn rr_inner(
        &mut self,
        owner: Owner<'_>,
        rtype: Rtype,
        class: Class,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), WriteError> {
        match owner {
            Owner::Question => self.put(&[0xc0, HEADER_LEN as u8])?,
            Owner::Name(n) => self.name(n)?,
        }
        self.put(&rtype.0.to_be_bytes())?;
        self.put(&class.0.to_be_bytes())?;
        self.put(&ttl.to_be_bytes())?;
        let rdlen_at = self.len;
        self.put(&[0, 0])?;
        match compressed_names(rtype) {
            Some(names) => self.compressed_rdata(names, rdata)?,
            None => self.put(rdata)?,
        }
        let rdlen = (self.len - rdlen_at - 2) as u16;
        self.buf[rdlen_at..rdlen_at + 2].copy_from_slice(&rdlen.to_be_bytes());
        Ok(())
    }

    /// RDATA of an RFC 1035 type with its names compressed: `names` is where they
    /// start and how many there are ([`compressed_names`]). Falls back to a
    /// verbatim copy if the stored RDATA does not have the expected layout.
    fn compressed_rdata(&mut self, (skip, names): (usize, usize), rdata: &[u8]) -> Result<(), WriteError> {
        let mut i = skip.min(rdata.len());
        self.put(&rdata[..i])?;
        for _ in 0..names {
            match uncompressed_len(&rdata[i..]) {
                Some(l) => {
                    self.name(&rdata[i..i + l])?;
                    i += l;
                }
                None => break,
            }
        }
        self.put(&rdata[i..])
    }

    /// Append precompiled records: `bytes` were written after a question whose name was
    /// `delta` bytes shorter than this response's (see `shoal_zonedb::block`), so every
    /// compression pointer, listed by its position in `pointers`, moves by `delta`.
    /// All or nothing, like [`ResponseWriter::rr`].
    pub fn precompiled(
        &mut self,
        bytes: &[u8],
        pointers: impl IntoIterator<Item = u16>,
        delta: isize,
        counts: [u16; 3],
    ) -> Result<(), WriteError> {
        self.reserve(bytes.len())?;
        let start = self.len;
        self.buf[start..start + bytes.len()].copy_from_slice(bytes);
        if delta != 0 {
            for p in pointers {
                let at = start + p as usize;
                let old = (usize::from(self.buf[at] & 0x3f) << 8) | usize::from(self.buf[at + 1]);
                let new = (old as isize + delta) as usize;
                self.buf[at] = 0xc0 | (new >> 8) as u8;
                self.buf[at + 1] = new as u8;
            }
        }
        self.len += bytes.len();
        for (c, n) in self.counts.iter_mut().zip(counts) {
            *c += n;
        }
        Ok(())
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Write an OPT record (RFC 6891 §6.1.2) with `options`: NSID (RFC 5001), an
    /// Extended DNS Error code (RFC 8914), EXPIRE (RFC 7314).
    pub fn opt(
        &mut self,
        payload: u16,
        extended_rcode: u8,
        dnssec_ok: bool,
        options: crate::edns::OptOut<'_>,
    ) -> Result<(), WriteError> {
        let options_len = options.len();
        self.reserve(11 + options_len)?;
        let ttl = (u32::from(extended_rcode) << 24) | if dnssec_ok { 0x8000 } else { 0 };
        self.put(&[0])?;
        self.put(&Rtype::OPT.0.to_be_bytes())?;
        self.put(&payload.to_be_bytes())?;
        self.put(&ttl.to_be_bytes())?;
        self.put(&(options_len as u16).to_be_bytes())?;
        if let Some(n) = options.nsid {
            self.put(&crate::edns::OPT_NSID.to_be_bytes())?;
            self.put(&(n.len() as u16).to_be_bytes())?;
            self.put(n)?;
        }
        if let Some(seconds) = options.expire {
            self.put(&crate::edns::OPT_EXPIRE.to_be_bytes())?;
            self.put(&4u16.to_be_bytes())?;
            self.put(&seconds.to_be_bytes())?;
        }
        if let Some(code) = options.ede {
            self.put(&crate::edns::OPT_EDE.to_be_bytes())?;
            self.put(&2u16.to_be_bytes())?;
            self.put(&code.to_be_bytes())?;
        }
        self.counts[Section::Additional as usize] += 1;
        Ok(())
    }

    /// Fill in the section counts and return the message length.
    pub fn finish(self) -> usize {
        self.buf[6..8].copy_from_slice(&self.counts[0].to_be_bytes());
        self.buf[8..10].copy_from_slice(&self.counts[1].to_be_bytes());
        self.buf[10..12].copy_from_slice(&self.counts[2].to_be_bytes());
        self.len
    }

    fn reserve(&self, n: usize) -> Result<(), WriteError> {
        if self.len + n > self.limit {
            Err(WriteError)
        } else {
            Ok(())
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        self.reserve(bytes.len())?;
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(())
    }

    /// Write a name (lowercase wire form), compressed against what is already written.
    pub fn name(&mut self, name: &[u8]) -> Result<(), WriteError> {
        let labels = Labels::of(name, self.tags.is_some());
        // Longest suffix first.
        for k in 0..labels.n {
            let s = labels.starts[k] as usize;
            if let Some(target) = self.find(&name[s..], labels.hash(k)) {
                let start = self.len;
                self.put(&name[..s])?;
                self.put(&[0xc0 | (target >> 8) as u8, target as u8])?;
                if k > 0 {
                    self.remember_labels(start, labels.hashes.as_ref());
                }
                return Ok(());
            }
        }
        let start = self.len;
        self.put(name)?;
        self.remember_labels(start, labels.hashes.as_ref());
        Ok(())
    }

    /// Record every label start of the name written at `pos` (up to its end or its
    /// first pointer) as a compression target; `hashes` are those of its labels in
    /// order ([`Labels`]), if it was hashed.
    fn remember_labels(&mut self, mut pos: usize, hashes: Option<&[u32; MAX_LABELS]>) {
        let mut k = 0;
        while pos < self.len && pos < 0x3fff && self.nslots < COMPRESSION_SLOTS && k < MAX_LABELS {
            let l = self.buf[pos];
            if l == 0 || l & 0xc0 != 0 {
                return;
            }
            if let Some(tags) = self.tags.as_mut() {
                tags[self.nslots] = hashes.map_or(UNHASHED, |h| h[k]);
            }
            self.slots[self.nslots] = pos as u16;
            self.nslots += 1;
            pos += 1 + l as usize;
            k += 1;
        }
    }

    /// The first remembered position of `suffix`. With hashes, whose hash is `hash`:
    /// the tags are compared sixteen at a time into a mask (which the compiler turns
    /// into vector compares), and only the positions whose tag matches are read.
    fn find(&self, suffix: &[u8], hash: u32) -> Option<u16> {
        let Some(tags) = self.tags.as_ref() else {
            return self.slots[..self.nslots].iter().copied().find(|&p| self.equals_at(p as usize, suffix));
        };
        for (c, chunk) in tags[..self.nslots].chunks(16).enumerate() {
            let mut mask = 0u32;
            for (i, &t) in chunk.iter().enumerate() {
                mask |= u32::from((t == hash) | (t == UNHASHED)) << i;
            }
            while mask != 0 {
                let j = c * 16 + mask.trailing_zeros() as usize;
                mask &= mask - 1;
                if self.equals_at(self.slots[j] as usize, suffix) {
                    return Some(self.slots[j]);
                }
            }
        }
        None
    }

    /// Whether the (possibly compressed) name at `pos` in the buffer equals `name`,
    /// ignoring ASCII case.
    fn equals_at(&self, mut pos: usize, name: &[u8]) -> bool {
        let mut i = 0;
        let mut hops = 0;
        loop {
            let Some(&l) = self.buf.get(pos) else { return false };
            if l & 0xc0 == 0xc0 {
                hops += 1;
                if hops > MAX_LABELS || pos + 1 >= self.len {
                    return false;
                }
                pos = ((l as usize & 0x3f) << 8) | self.buf[pos + 1] as usize;
                continue;
            }
            let l = l as usize;
            if name.get(i) != Some(&(l as u8)) {
                return false;
            }
            if l == 0 {
                return true;
            }
            if pos + 1 + l > self.len || i + 1 + l > name.len() {
                return false;
            }
            if !self.buf[pos + 1..pos + 1 + l].eq_ignore_ascii_case(&name[i + 1..i + 1 + l]) {
                return false;
            }
            pos += 1 + l;
            i += 1 + l;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ResponseWriter<'_> {
        /// [`ResponseWriter::name`] with the compression target found by reading every
        /// remembered name, as if there were no hashes.
        fn name_by_reading_all(&mut self, name: &[u8]) {
            let labels = Labels::of(name, true);
            for k in 0..labels.n {
                let s = labels.starts[k] as usize;
                let found = (0..self.nslots).find(|&j| self.equals_at(self.slots[j] as usize, &name[s..]));
                if let Some(j) = found {
                    let (start, target) = (self.len, self.slots[j]);
                    self.put(&name[..s]).unwrap();
                    self.put(&[0xc0 | (target >> 8) as u8, target as u8]).unwrap();
                    if k > 0 {
                        self.remember_labels(start, labels.hashes.as_ref());
                    }
                    return;
                }
            }
            let start = self.len;
            self.put(name).unwrap();
            self.remember_labels(start, labels.hashes.as_ref());
        }
    }

    #[test]
    fn hashes_find_the_same_targets_as_reading_every_name() {
        let mut rng = crate::rdata::testing::XorShift(0x5eed_1234_abcd);
        let labels: [&[u8]; 6] = [b"\x01a", b"\x01B", b"\x02ab", b"\x02AB", b"\x03www", b"\x04test"];
        for _ in 0..200 {
            let (mut a, mut b) = ([0u8; 16384], [0u8; 16384]);
            let mut fast = ResponseWriter::new(&mut a, 16384).hashed();
            let mut slow = ResponseWriter::new(&mut b, 16384).hashed();
            fast.header(1, 0, 1);
            slow.header(1, 0, 1);
            let q = b"\x03www\x04TEST\x00\x00\x01\x00\x01";
            fast.question(q).unwrap();
            slow.question(q).unwrap();
            for _ in 0..150 {
                let mut name = Vec::new();
                for _ in 0..rng.below(5) {
                    name.extend_from_slice(labels[rng.below(labels.len())]);
                }
                name.push(0);
                fast.name(&name).unwrap();
                slow.name_by_reading_all(&name);
                assert_eq!(fast.written(), slow.written(), "after {name:?}");
            }
        }
    }

    #[test]
    fn owner_equal_to_question_is_a_pointer_and_suffixes_compress() {
        let mut buf = [0u8; 512];
        let mut w = ResponseWriter::new(&mut buf, 512);
        w.header(7, 0x8400, 1);
        w.question(b"\x03WWW\x07example\x03com\x00\x00\x01\x00\x01").unwrap();
        w.rr(Section::Answer, Owner::Question, Rtype::A, Class::IN, 60, &[1, 2, 3, 4]).unwrap();
        w.rr(
            Section::Authority,
            Owner::Name(b"\x07example\x03com\x00"),
            Rtype::NS,
            Class::IN,
            60,
            b"\x03ns1\x07example\x03com\x00",
        )
        .unwrap();
        let n = w.finish();
        let out = &buf[..n];
        // answer owner: pointer to 12
        assert_eq!(&out[33..35], &[0xc0, 12]);
        // authority owner: pointer to "example" at 16
        let auth = 33 + 2 + 10 + 4;
        assert_eq!(&out[auth..auth + 2], &[0xc0, 16]);
        // NS rdata: "ns1" + pointer to 16
        let rd = auth + 2 + 10;
        assert_eq!(&out[rd..rd + 6], b"\x03ns1\xc0\x10");
        assert_eq!(&out[6..12], &[0, 1, 0, 1, 0, 0]);
    }

    #[test]
    fn a_record_that_does_not_fit_leaves_nothing_behind() {
        let mut buf = [0u8; 512];
        let mut w = ResponseWriter::new(&mut buf, 40);
        w.header(1, 0, 1);
        w.question(b"\x01a\x00\x00\x01\x00\x01").unwrap();
        let before = w.len();
        assert!(w.rr(Section::Answer, Owner::Name(b"\x05abcde\x00"), Rtype::TXT, Class::IN, 1, &[30; 31]).is_err());
        assert_eq!(w.len(), before);
        assert_eq!(w.count(Section::Answer), 0);
    }
}
