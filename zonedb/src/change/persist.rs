//! A zone's copy in the state directory: the compiled form itself, checked before it
//! is trusted, so a restarted secondary serves a million records in a fraction of a
//! second instead of compiling them again.
//!
//! Layout: the magic `SHOALZ02`, the apex, the record and node counts, the nodes packed
//! as a version holds them ([`crate::store::node`], answers included), and an FNV-1a checksum
//! of everything before it. Written by temporary file, fsync and rename. Loading checks
//! the checksum, then every node's structure (no length or compression pointer may
//! reach outside it) and that the flags agree with the records, so that even a file
//! written by something else cannot make reading it go astray. A damaged file is a clear
//! error; the caller falls back to a transfer from the primary. A copy in the first
//! format (`SHOALZ01`: the records, compiled on load) is still read.

use crate::change::apply::from_records;
use crate::change::journal::{open_sealed, write_atomically_with, Sealing};
use crate::store::nodemap::NodeMap;
use crate::store::snapshot::Snapshot;
use shoal_wire::Name;
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8; 8] = b"SHOALZ02";
/// The first format: records, compiled on load.
const MAGIC_RECORDS: &[u8; 8] = b"SHOALZ01";

/// Why a saved zone could not be used.
#[derive(Debug)]
pub enum PersistError {
    Io(std::io::Error),
    Damaged(&'static str),
    /// The file holds another zone.
    WrongZone,
    Invalid(String),
}

impl std::fmt::Display for PersistError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PersistError::Io(e) => write!(f, "{e}"),
            PersistError::Damaged(w) => write!(f, "damaged zone copy: {w}"),
            PersistError::WrongZone => write!(f, "the file holds another zone"),
            PersistError::Invalid(e) => write!(f, "invalid zone copy: {e}"),
        }
    }
}

impl std::error::Error for PersistError {}

/// Save a snapshot atomically, streaming its nodes to the file.
pub fn save(s: &Snapshot, path: &Path) -> std::io::Result<()> {
    let apex = s.apex().as_wire();
    write_atomically_with(path, |file| {
        let mut w = Sealing::new(file);
        w.write_all(MAGIC)?;
        w.write_all(&[apex.len() as u8])?;
        w.write_all(apex)?;
        w.write_all(&(s.record_count() as u64).to_be_bytes())?;
        w.write_all(&(s.nodes().count() as u64).to_be_bytes())?;
        for n in s.nodes() {
            w.write_all(n.bytes())?;
        }
        w.seal()
    })
}

/// Load a saved zone `apex`.
pub fn load(apex: &Name, path: &Path) -> Result<Snapshot, PersistError> {
    let data = std::fs::read(path).map_err(PersistError::Io)?;
    if data.starts_with(MAGIC_RECORDS) {
        return load_records(apex, path, &data);
    }
    let damaged = PersistError::Damaged;
    let mut r = open_sealed(&data, MAGIC).map_err(damaged)?;
    let al = r.take(1).map_err(damaged)?[0] as usize;
    if r.take(al).map_err(damaged)? != apex.as_wire() {
        return Err(PersistError::WrongZone);
    }
    let records = r.u64().map_err(damaged)?;
    let nodes = r.u64().map_err(damaged)?;
    // The nodes are the rest of the file before the checksum: reuse its buffer rather
    // than copy them (the arena is most of a large zone's memory).
    let header = data.len() - 8 - r.rest().len();
    let mut arena = data;
    arena.truncate(arena.len() - 8);
    arena.drain(..header);
    let base = NodeMap::from_packed(arena).map_err(damaged)?;
    if base.len() as u64 != nodes {
        return Err(PersistError::Damaged("node count mismatch"));
    }
    let s = Snapshot::from_compiled(apex, base).map_err(PersistError::Invalid)?;
    if s.record_count() as u64 != records {
        return Err(PersistError::Damaged("record count mismatch"));
    }
    Ok(s)
}

/// A copy in the first format: its records, compiled.
fn load_records(apex: &Name, path: &Path, data: &[u8]) -> Result<Snapshot, PersistError> {
    let damaged = PersistError::Damaged;
    let mut r = open_sealed(data, MAGIC_RECORDS).map_err(damaged)?;
    let al = r.take(1).map_err(damaged)?[0] as usize;
    if r.take(al).map_err(damaged)? != apex.as_wire() {
        return Err(PersistError::WrongZone);
    }
    let n = r.u64().map_err(damaged)? as usize;
    let mut records = Vec::with_capacity(n.min(data.len() / 12));
    for _ in 0..n {
        records.push(r.rr().map_err(damaged)?);
    }
    from_records(apex, records, &path.display().to_string())
        .map_err(|e| PersistError::Invalid(e.first().map(|e| e.to_string()).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::apply::records_of;
    use shoal_wire::name::from_ascii;

    #[test]
    fn roundtrip_and_damage() {
        let apex = from_ascii("example.com.").unwrap();
        let s =
            crate::load_zone_str(&apex, "@ 60 SOA ns hm 3 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\n", Path::new("t"))
                .unwrap();
        let dir = std::env::temp_dir().join(format!("shoal-persist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("z.shoal");
        save(&s, &p).unwrap();
        let back = load(&apex, &p).unwrap();
        assert_eq!(records_of(&back), records_of(&s));
        assert_eq!((back.serial(), back.record_count()), (s.serial(), s.record_count()));
        assert!(matches!(load(&from_ascii("other.").unwrap(), &p), Err(PersistError::WrongZone)));
        let mut d = std::fs::read(&p).unwrap();
        d[20] ^= 1;
        std::fs::write(&p, d).unwrap();
        assert!(matches!(load(&apex, &p), Err(PersistError::Damaged(_))));
        std::fs::remove_dir_all(&dir).ok();
    }

    /// A copy saved by an earlier version (records, `SHOALZ01`) is still read.
    #[test]
    fn reads_the_first_format() {
        let apex = from_ascii("example.com.").unwrap();
        let s =
            crate::load_zone_str(&apex, "@ 60 SOA ns hm 3 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\n", Path::new("t"))
                .unwrap();
        let records = records_of(&s);
        let mut b = MAGIC_RECORDS.to_vec();
        b.push(apex.as_wire().len() as u8);
        b.extend_from_slice(apex.as_wire());
        b.extend_from_slice(&(records.len() as u64).to_be_bytes());
        for r in &records {
            crate::change::journal::put_rr(&mut b, r);
        }
        crate::change::journal::seal(&mut b);
        let p = std::env::temp_dir().join(format!("shoal-persist-v1-{}", std::process::id()));
        std::fs::write(&p, &b).unwrap();
        let back = load(&apex, &p).unwrap();
        std::fs::remove_file(&p).ok();
        assert_eq!(records_of(&back), records);
    }
}
