//! The IXFR journal: the last N diffs of a zone, in order, and their file on disk.
//!
//! A journal is a chain: each diff starts at the serial the previous one ended at. A
//! diff that does not continue the chain (the zone was replaced some other way) clears
//! it first. [`Journal::since`] returns the diffs from a client's serial to the newest.
//!
//! On disk (next to the zone, `<zone file>.ixfr`, or in the state directory): a magic
//! line with the format version, the diffs in a compact binary form, and an FNV-1a
//! checksum. It is written to a temporary file, fsynced and renamed, so a crash leaves
//! either the old journal or the new one. A damaged file is an error the caller logs;
//! IXFR then falls back to AXFR, nothing else is lost.

use crate::change::diff::{Diff, Rr};
use shoal_wire::{Name, Rtype};
use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8; 8] = b"SHOALJ01";

/// Why a journal file could not be read.
#[derive(Debug)]
pub enum JournalError {
    Io(std::io::Error),
    /// Wrong magic, truncated, or checksum mismatch.
    Damaged(&'static str),
}

impl std::fmt::Display for JournalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalError::Io(e) => write!(f, "{e}"),
            JournalError::Damaged(why) => write!(f, "damaged journal: {why}"),
        }
    }
}

impl std::error::Error for JournalError {}

/// The bounded chain of diffs of one zone.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    diffs: VecDeque<Diff>,
    limit: usize,
}

impl Journal {
    /// A journal that keeps at most `limit` diffs (0 keeps none).
    pub fn new(limit: usize) -> Self {
        Journal { diffs: VecDeque::new(), limit }
    }

    pub fn len(&self) -> usize {
        self.diffs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.diffs.is_empty()
    }

    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
        self.trim();
    }

    /// Forget every diff (the next version does not follow from the newest one).
    pub fn clear(&mut self) {
        self.diffs.clear();
    }

    /// Append a diff, keeping the chain and the bound.
    pub fn push(&mut self, d: Diff) {
        if self.diffs.back().is_some_and(|last| last.new_serial() != d.old_serial()) {
            self.diffs.clear();
        }
        self.diffs.push_back(d);
        self.trim();
    }

    /// [`Journal::push`], then drop the oldest diffs while the journal holds more
    /// records than `max_records` (the zone's size: past it, a client is better served
    /// by AXFR, and the memory is the zone's again). A diff larger than that on its own
    /// is not kept at all: IXFR from older serials then falls back to AXFR.
    pub fn push_within(&mut self, d: Diff, max_records: usize) {
        self.push(d);
        let mut total: usize = self.diffs.iter().map(Diff::len).sum();
        while total > max_records.max(1) {
            let Some(old) = self.diffs.pop_front() else { break };
            total -= old.len();
        }
    }

    fn trim(&mut self) {
        while self.diffs.len() > self.limit {
            self.diffs.pop_front();
        }
    }

    /// The diffs that lead from `serial` to the newest version, if the journal reaches
    /// back that far.
    pub fn since(&self, serial: u32) -> Option<Vec<Diff>> {
        let start = self.diffs.iter().position(|d| d.old_serial() == serial)?;
        Some(self.diffs.iter().skip(start).cloned().collect())
    }

    /// How many diffs lead from `serial` to the newest version, if the journal reaches
    /// back that far ([`Journal::since`] without copying them).
    pub fn count_since(&self, serial: u32) -> Option<usize> {
        let start = self.diffs.iter().position(|d| d.old_serial() == serial)?;
        Some(self.diffs.len() - start)
    }

    /// The serial the newest diff leads to.
    pub fn newest_serial(&self) -> Option<u32> {
        self.diffs.back().map(Diff::new_serial)
    }

    /// Write the journal to `path` atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        write_atomically_with(path, |file| self.write_to(file))
    }

    /// The journal as [`Journal::save`] writes it, for writing elsewhere
    /// ([`stage_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out).expect("writing to memory does not fail");
        out
    }

    fn write_to(&self, file: &mut impl Write) -> std::io::Result<()> {
        {
            let mut w = Sealing::new(file);
            w.write_all(MAGIC)?;
            w.write_all(&(self.diffs.len() as u32).to_be_bytes())?;
            let mut rec = Vec::with_capacity(512);
            let mut put = |w: &mut Sealing<_>, r: &Rr| {
                rec.clear();
                put_rr(&mut rec, r);
                w.write_all(&rec)
            };
            for d in &self.diffs {
                put(&mut w, &d.old_soa)?;
                put(&mut w, &d.new_soa)?;
                for list in [&d.removed, &d.added] {
                    w.write_all(&(list.len() as u32).to_be_bytes())?;
                    for r in list {
                        put(&mut w, r)?;
                    }
                }
            }
            w.seal()
        }
    }

    /// Read a journal written by [`Journal::save`].
    pub fn load(path: &Path, limit: usize) -> Result<Journal, JournalError> {
        let data = std::fs::read(path).map_err(JournalError::Io)?;
        let mut r = open_sealed(&data, MAGIC).map_err(JournalError::Damaged)?;
        let n = r.u32().map_err(JournalError::Damaged)? as usize;
        let mut j = Journal::new(limit);
        let damaged = JournalError::Damaged;
        for _ in 0..n {
            let old_soa = r.rr().map_err(damaged)?;
            let new_soa = r.rr().map_err(damaged)?;
            let mut lists = [Vec::new(), Vec::new()];
            for list in &mut lists {
                let k = r.u32().map_err(damaged)? as usize;
                for _ in 0..k {
                    list.push(r.rr().map_err(damaged)?);
                }
            }
            let [removed, added] = lists;
            j.push(Diff { old_soa, new_soa, removed, added });
        }
        Ok(j)
    }
}

/// The temporary file [`write_atomically_with`] writes `path` through: `path` with
/// `.tmp<pid>` added, so that files of one zone (its copy, its journal) never share one.
pub fn temporary_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}

/// Remove what killed processes left in `dir` of writing the files named `*.<suffix>`
/// for each of `suffixes` (`zone`, `ixfr`): their temporary files, of any process id.
/// One pass over the folder, however many zones keep their state there; call before
/// anything writes those files again. Returns how many were removed.
pub fn remove_stale_temporaries(dir: &Path, suffixes: &[&str]) -> usize {
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { dir }) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let Some((file, pid)) = name.rsplit_once(".tmp") else { continue };
        let stale = !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && suffixes.iter().any(|s| file.strip_suffix(s).is_some_and(|f| f.ends_with('.')));
        if stale && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Write a file at `path` via a temporary file in the same folder, fsync, rename; the
/// contents are streamed by `write` through a buffer (a million-record zone copy is
/// never assembled in memory).
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    stage_with(path, write)?.commit()?;
    sync_dir(path);
    Ok(())
}

/// A file written and fsynced under its temporary name, waiting to replace `path`.
#[derive(Debug)]
pub struct Staged {
    tmp: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl Staged {
    /// Rename the temporary file over the file it replaces (durable once its folder is
    /// synced: [`sync_dir`]).
    pub fn commit(self) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.path).inspect_err(|_| {
            let _ = std::fs::remove_file(&self.tmp);
        })
    }

    /// The file this replaces.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The first half of writing `bytes` to `path` atomically, for writing many files at
/// once: written and fsynced in the temporary file. Nothing replaces `path` until
/// [`Staged::commit`]; then [`sync_dir`] once per folder makes the renames durable.
pub fn stage_bytes(path: &Path, bytes: &[u8]) -> std::io::Result<Staged> {
    stage_with(path, |file| file.write_all(bytes))
}

/// Write `path`'s temporary file with `write` and fsync it.
fn stage_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<Staged> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = temporary_path(path);
    let written = (|| {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(&tmp)?);
        write(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(Staged { tmp, path: path.to_path_buf() })
}

/// Make the renames into `path`'s folder durable (fsync the folder); best effort, as
/// a folder cannot be fsynced on some file systems.
pub fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// A writer that keeps the checksum of what goes through it; [`Sealing::seal`]
/// appends it (the framing [`open_sealed`] checks).
pub(crate) struct Sealing<W: Write> {
    inner: W,
    sum: u64,
}

impl<W: Write> Sealing<W> {
    pub(crate) fn new(inner: W) -> Self {
        Sealing { inner, sum: FNV_START }
    }

    pub(crate) fn seal(mut self) -> std::io::Result<()> {
        let sum = self.sum;
        self.inner.write_all(&sum.to_be_bytes())
    }
}

impl<W: Write> Write for Sealing<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(b)?;
        self.sum = fnv1a_more(self.sum, &b[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

// The record encoding and checksummed framing shared by the journal and the
// state-directory zone copy (`persist`).

/// Append one record: owner length and owner, type, TTL, RDATA length and RDATA.
pub(crate) fn put_rr(buf: &mut Vec<u8>, r: &Rr) {
    let o = r.owner.as_wire();
    buf.push(o.len() as u8);
    buf.extend_from_slice(o);
    buf.extend_from_slice(&r.rtype.0.to_be_bytes());
    buf.extend_from_slice(&r.ttl.to_be_bytes());
    buf.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
    buf.extend_from_slice(&r.rdata);
}

/// FNV-1a, 64-bit: enough to detect a torn or damaged file.
pub fn fnv1a(b: &[u8]) -> u64 {
    fnv1a_more(FNV_START, b)
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Continue a checksum over more bytes.
fn fnv1a_more(mut h: u64, b: &[u8]) -> u64 {
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Append the checksum of everything in `buf` (what [`Sealing`] writes, for tests that
/// make sealed files by hand).
#[cfg(test)]
pub(crate) fn seal(buf: &mut Vec<u8>) {
    let sum = fnv1a(buf);
    buf.extend_from_slice(&sum.to_be_bytes());
}

/// Check the magic and the checksum of sealed `data`; a reader just past the magic.
pub(crate) fn open_sealed<'a>(data: &'a [u8], magic: &[u8; 8]) -> Result<Reader<'a>, &'static str> {
    if data.len() < magic.len() + 8 || &data[..8] != magic {
        return Err("bad header");
    }
    let (body, sum) = data.split_at(data.len() - 8);
    if fnv1a(body).to_be_bytes() != sum {
        return Err("checksum mismatch");
    }
    Ok(Reader { b: body, i: 8 })
}

/// Reads what `put_rr` and friends wrote; errors say what is damaged.
pub(crate) struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8], &'static str> {
        let s = self.b.get(self.i..self.i + n).ok_or("truncated")?;
        self.i += n;
        Ok(s)
    }

    /// Everything not read yet.
    pub(crate) fn rest(&self) -> &[u8] {
        &self.b[self.i..]
    }

    pub(crate) fn u32(&mut self) -> Result<u32, &'static str> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, &'static str> {
        let s = self.take(8)?;
        Ok(u64::from_be_bytes(s.try_into().expect("8 bytes")))
    }

    pub(crate) fn rr(&mut self) -> Result<Rr, &'static str> {
        let ol = self.take(1)?[0] as usize;
        let owner = Name::from_wire(self.take(ol)?).map_err(|_| "bad owner name")?;
        let h = self.take(8)?;
        let rtype = Rtype(u16::from_be_bytes([h[0], h[1]]));
        let ttl = u32::from_be_bytes([h[2], h[3], h[4], h[5]]);
        let rdlen = u16::from_be_bytes([h[6], h[7]]) as usize;
        let rdata = self.take(rdlen)?.into();
        Ok(Rr { owner, rtype, ttl, rdata })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_holds_no_more_records_than_the_zone() {
        let rr = |serial: u32| crate::change::diff::Rr {
            owner: shoal_wire::name::from_ascii("z.").unwrap(),
            rtype: shoal_wire::Rtype::SOA,
            ttl: 60,
            rdata: [vec![0, 0], serial.to_be_bytes().to_vec(), vec![0; 16]].concat().into(),
        };
        let diff = |from: u32, n: usize| Diff {
            old_soa: rr(from),
            new_soa: rr(from + 1),
            removed: vec![rr(0); n],
            added: Vec::new(),
        };
        let mut j = Journal::new(100);
        j.push_within(diff(1, 3), 20);
        j.push_within(diff(2, 3), 20);
        assert_eq!(j.len(), 2);
        // 5 + 5 + 14 records (each diff counts its two SOAs): the oldest goes.
        j.push_within(diff(3, 12), 20);
        assert_eq!(j.len(), 2);
        assert!(j.since(1).is_none() && j.since(2).is_some());
        j.push_within(diff(4, 30), 20);
        assert!(j.is_empty(), "a diff larger than the zone is not kept");
    }
    use shoal_wire::name::from_ascii;

    fn soa(s: u32) -> Rr {
        let mut rd = vec![0u8; 2];
        rd.extend_from_slice(&s.to_be_bytes());
        rd.extend_from_slice(&[0; 16]);
        Rr { owner: from_ascii("e.").unwrap(), rtype: Rtype::SOA, ttl: 5, rdata: rd.into() }
    }

    fn step(a: u32, b: u32) -> Diff {
        let rr =
            Rr { owner: from_ascii("x.e.").unwrap(), rtype: Rtype::A, ttl: 5, rdata: vec![1, 2, 3, b as u8].into() };
        Diff { old_soa: soa(a), new_soa: soa(b), removed: vec![], added: vec![rr] }
    }

    #[test]
    fn chain_bound_and_since() {
        let mut j = Journal::new(2);
        j.push(step(1, 2));
        j.push(step(2, 3));
        j.push(step(3, 4));
        assert_eq!(j.len(), 2);
        assert!(j.since(1).is_none(), "trimmed");
        assert_eq!(j.since(2).unwrap().len(), 2);
        assert_eq!(j.since(3).unwrap().len(), 1);
        j.push(step(10, 11));
        assert_eq!(j.len(), 1, "a diff that breaks the chain clears it");
    }

    #[test]
    fn save_load_roundtrip_and_damage_detected() {
        let dir = std::env::temp_dir().join(format!("shoal-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("z.ixfr");
        let mut j = Journal::new(10);
        j.push(step(1, 2));
        j.push(step(2, 3));
        j.save(&p).unwrap();
        let back = Journal::load(&p, 10).unwrap();
        assert_eq!(back.since(1).unwrap(), j.since(1).unwrap());
        // Staged from its bytes, it is the same file, in place only once committed.
        assert_eq!(std::fs::read(&p).unwrap(), j.to_bytes());
        j.push(step(3, 4));
        let staged = stage_bytes(&p, &j.to_bytes()).unwrap();
        assert_eq!(Journal::load(&p, 10).unwrap().newest_serial(), Some(3), "not yet committed");
        staged.commit().unwrap();
        sync_dir(&p);
        assert_eq!(Journal::load(&p, 10).unwrap().newest_serial(), Some(4));
        j.save(&p).unwrap();
        assert_eq!((back.count_since(1), back.count_since(2), back.count_since(3)), (Some(2), Some(1), None));
        let mut data = std::fs::read(&p).unwrap();
        let mid = data.len() / 2;
        data[mid] ^= 0xff;
        std::fs::write(&p, &data).unwrap();
        assert!(matches!(Journal::load(&p, 10), Err(JournalError::Damaged(_))));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_zone_copy_and_its_journal_are_written_through_different_temporaries() {
        let dir = std::env::temp_dir().join(format!("shoal-journal-tmp-{}", std::process::id()));
        let (copy, journal) = (dir.join("z.zone"), dir.join("z.ixfr"));
        assert_ne!(temporary_path(&copy), temporary_path(&journal));
        assert!(temporary_path(&copy).to_string_lossy().ends_with(&format!("z.zone.tmp{}", std::process::id())));
        // What a killed writer left is removed; other files stay.
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["z.zone.tmp1", "z.zone.tmp2", "z.ixfr.tmp1", "z.zone", "y.zone.tmp1", "z.zone.tmpx", "notes.tmp1"]
        {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        assert_eq!(remove_stale_temporaries(&dir, &["zone", "ixfr"]), 4);
        let mut left: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, ["notes.tmp1", "z.zone", "z.zone.tmpx"]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
