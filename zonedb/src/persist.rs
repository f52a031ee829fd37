//! A zone's copy in the state directory: a compact binary form that loads fast and is
//! checked before it is trusted.
//!
//! Layout: the magic `SHOALZ01`, the apex, the record count, the records (owner, type,
//! TTL, RDATA in wire form), and an FNV-1a checksum of everything before it. Written by
//! temporary file, fsync and rename. A damaged file is a clear error; the caller falls
//! back to a transfer from the primary.

use crate::apply::{from_records, records_of};
use crate::journal::{open_sealed, put_rr, seal, write_atomically};
use crate::snapshot::Snapshot;
use shoal_wire::Name;
use std::path::Path;

const MAGIC: &[u8; 8] = b"SHOALZ01";

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

/// Save a snapshot atomically.
pub fn save(s: &Snapshot, path: &Path) -> std::io::Result<()> {
    let records = records_of(s);
    let mut b = Vec::with_capacity(records.len() * 32 + 64);
    b.extend_from_slice(MAGIC);
    let apex = s.apex().as_wire();
    b.push(apex.len() as u8);
    b.extend_from_slice(apex);
    b.extend_from_slice(&(records.len() as u64).to_be_bytes());
    for r in &records {
        put_rr(&mut b, r);
    }
    seal(&mut b);
    write_atomically(path, &b)
}

/// Load a saved zone `apex`.
pub fn load(apex: &Name, path: &Path) -> Result<Snapshot, PersistError> {
    let data = std::fs::read(path).map_err(PersistError::Io)?;
    let damaged = PersistError::Damaged;
    let mut r = open_sealed(&data, MAGIC).map_err(damaged)?;
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
        assert!(matches!(load(&from_ascii("other.").unwrap(), &p), Err(PersistError::WrongZone)));
        let mut d = std::fs::read(&p).unwrap();
        d[20] ^= 1;
        std::fs::write(&p, d).unwrap();
        assert!(matches!(load(&apex, &p), Err(PersistError::Damaged(_))));
        std::fs::remove_dir_all(&dir).ok();
    }
}
