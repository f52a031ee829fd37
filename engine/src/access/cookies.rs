//! DNS cookies (RFC 7873) with interoperable server cookies (RFC 9018): the server
//! cookie is version 1, three reserved bytes, a timestamp, and SipHash-2-4 of the client
//! cookie, those eight bytes and the client's address under a 16-byte secret.
//!
//! A server cookie is good for an hour after its timestamp (and up to five minutes
//! before it, for clocks a little apart), under the current secret or the previous one,
//! so that a rotation does not make every client's cookie bad at once. Servers that
//! share the secret (an anycast fleet, with one secret file) accept each other's
//! cookies. [`Secrets::load`] reads the secret file (32 hex digits), or writes one with
//! a random secret when there is none.

use super::siphash::siphash24;
use std::net::IpAddr;
use std::path::Path;

/// Length of the server cookie Shoal makes.
pub const SERVER_COOKIE_LEN: usize = 16;
/// How long a server cookie is good after its timestamp, seconds (RFC 9018 §4.3).
const LIFETIME: u32 = 3600;
/// How far a timestamp may lie in the future, seconds.
const FUTURE: u32 = 300;
/// A cookie older than this is answered with a fresh one.
const REFRESH: u32 = 1800;

/// The secret server cookies are made with, and the one before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secrets {
    pub current: [u8; 16],
    pub previous: Option<[u8; 16]>,
}

/// What a query's COOKIE option says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// A client cookie alone (a first query, or a client that forgot ours).
    ClientOnly,
    /// Our server cookie, good; `fresh` when it need not be replaced.
    Valid { fresh: bool },
    /// A server cookie we did not make, or made too long ago.
    Invalid,
}

/// Why the secret file could not be used.
#[derive(Debug)]
pub enum SecretError {
    Io { path: std::path::PathBuf, error: std::io::Error },
    Format { path: std::path::PathBuf },
}

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretError::Io { path, error } => write!(f, "cookie secret {}: {error}", path.display()),
            SecretError::Format { path } => {
                write!(f, "cookie secret {}: not 32 hex digits (16 bytes)", path.display())
            }
        }
    }
}

impl std::error::Error for SecretError {}

impl Secrets {
    /// A random secret, with no previous one.
    pub fn random() -> Secrets {
        Secrets { current: random16(), previous: None }
    }

    /// The secret in `path` (32 hex digits); a file that does not exist is written with
    /// a random secret (mode 0600). `previous` is kept as the one before, when the file
    /// holds a new secret.
    pub fn load(path: &Path, previous: Option<&Secrets>) -> Result<Secrets, SecretError> {
        let io = |error| SecretError::Io { path: path.to_path_buf(), error };
        let current = match std::fs::read_to_string(path) {
            Ok(text) => parse_hex(text.trim()).ok_or_else(|| SecretError::Format { path: path.to_path_buf() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secret = random16();
                write_secret(path, &secret).map_err(io)?;
                secret
            }
            Err(e) => return Err(io(e)),
        };
        let previous = previous.map(|p| p.current).filter(|p| *p != current).or(previous.and_then(|p| p.previous));
        Ok(Secrets { current, previous })
    }

    /// A new random secret written to `path`, the current one kept as the previous.
    pub fn rotate(&self, path: Option<&Path>) -> Result<Secrets, SecretError> {
        let next = random16();
        if let Some(path) = path {
            write_secret(path, &next).map_err(|error| SecretError::Io { path: path.to_path_buf(), error })?;
        }
        Ok(Secrets { current: next, previous: Some(self.current) })
    }

    /// The server cookie for `client` at `ip`, stamped `now` (Unix seconds).
    pub fn server_cookie(&self, client: &[u8; 8], ip: IpAddr, now: u32) -> [u8; SERVER_COOKIE_LEN] {
        make(&self.current, client, ip, now)
    }

    /// Check the server cookie a query brought with `client` from `ip` at `now`.
    pub fn check(&self, client: &[u8; 8], server: &[u8], ip: IpAddr, now: u32) -> Check {
        if server.is_empty() {
            return Check::ClientOnly;
        }
        if server.len() != SERVER_COOKIE_LEN || server[0] != 1 {
            return Check::Invalid;
        }
        let stamp = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
        let age = now.wrapping_sub(stamp);
        if age > LIFETIME && stamp.wrapping_sub(now) > FUTURE {
            return Check::Invalid;
        }
        let ours = |secret: &[u8; 16]| make(secret, client, ip, stamp)[8..] == server[8..];
        if ours(&self.current) || self.previous.as_ref().is_some_and(ours) {
            Check::Valid { fresh: age <= REFRESH || stamp.wrapping_sub(now) <= FUTURE }
        } else {
            Check::Invalid
        }
    }
}

/// The secrets the workers read, where they come from, and their rotation: by `shoal
/// ctl cookie-rotate` (a new random secret written to the file), or by a reload that
/// finds a new secret in the file (a fleet's secret, distributed by its operator).
pub struct CookieKeeper {
    secrets: arc_swap::ArcSwap<Secrets>,
    file: Option<std::path::PathBuf>,
}

impl CookieKeeper {
    pub fn new(secrets: Secrets, file: Option<std::path::PathBuf>) -> CookieKeeper {
        CookieKeeper { secrets: arc_swap::ArcSwap::from_pointee(secrets), file }
    }

    /// The secrets now (a worker reads them once per batch).
    #[inline]
    pub fn load(&self) -> arc_swap::Guard<std::sync::Arc<Secrets>> {
        self.secrets.load()
    }

    /// A new random secret, written to the file; the current one stays good for an hour.
    pub fn rotate(&self) -> Result<(), SecretError> {
        let next = self.secrets.load().rotate(self.file.as_deref())?;
        self.secrets.store(std::sync::Arc::new(next));
        Ok(())
    }

    /// Read the file again; whether it held a new secret.
    pub fn reread(&self) -> Result<bool, SecretError> {
        let Some(path) = &self.file else { return Ok(false) };
        let old = self.secrets.load_full();
        let new = Secrets::load(path, Some(&old))?;
        let changed = new.current != old.current;
        if changed {
            self.secrets.store(std::sync::Arc::new(new));
        }
        Ok(changed)
    }
}

/// RFC 9018 §4.2: version 1, reserved, timestamp, SipHash-2-4 of client cookie, the
/// first eight bytes of the server cookie, and the client's address.
fn make(secret: &[u8; 16], client: &[u8; 8], ip: IpAddr, stamp: u32) -> [u8; SERVER_COOKIE_LEN] {
    let mut input = [0u8; 8 + 8 + 16];
    input[..8].copy_from_slice(client);
    input[8] = 1;
    input[12..16].copy_from_slice(&stamp.to_be_bytes());
    let n = match ip {
        IpAddr::V4(a) => {
            input[16..20].copy_from_slice(&a.octets());
            20
        }
        IpAddr::V6(a) => {
            input[16..32].copy_from_slice(&a.octets());
            32
        }
    };
    let mut out = [0u8; SERVER_COOKIE_LEN];
    out[..8].copy_from_slice(&input[8..16]);
    out[8..].copy_from_slice(&siphash24(secret, &input[..n]).to_le_bytes());
    out
}

fn parse_hex(text: &str) -> Option<[u8; 16]> {
    let bytes = text.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 16];
    for (i, pair) in bytes.chunks(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

fn write_secret(path: &Path, secret: &[u8; 16]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let text: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(format!("{text}\n").as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Sixteen bytes from the kernel's random source.
fn random16() -> [u8; 16] {
    use std::io::Read;
    let mut out = [0u8; 16];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut out)).is_err() {
        // No urandom: the clock and the process, hashed (still unknown outside).
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let key = (t as u64 ^ u64::from(std::process::id())).to_le_bytes();
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&key);
        out[..8].copy_from_slice(&siphash24(&k, b"shoal-cookie-a").to_le_bytes());
        out[8..].copy_from_slice(&siphash24(&k, b"shoal-cookie-b").to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9018 Appendix A.1: a server cookie BIND and Knot also compute.
    #[test]
    fn rfc9018_test_vector() {
        let secrets = Secrets { current: parse_hex("e5e973e5a6b2a43f48e7dc849e37bfcf").unwrap(), previous: None };
        let client = [0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57];
        let cookie = secrets.server_cookie(&client, "198.51.100.100".parse().unwrap(), 1_559_731_985);
        let expected = [0x01, 0, 0, 0, 0x5c, 0xf7, 0x9f, 0x11, 0x1f, 0x81, 0x30, 0xc3, 0xee, 0xe2, 0x94, 0x80];
        assert_eq!(cookie, expected);
    }

    #[test]
    fn valid_stale_foreign_and_rotated_cookies() {
        let s = Secrets::random();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let client = [1u8; 8];
        let c = s.server_cookie(&client, ip, 10_000);
        assert_eq!(s.check(&client, &c, ip, 10_000), Check::Valid { fresh: true });
        assert_eq!(s.check(&client, &c, ip, 10_000 + 2000), Check::Valid { fresh: false }, "older than half an hour");
        assert_eq!(s.check(&client, &c, ip, 10_000 + 3601), Check::Invalid, "older than an hour");
        assert_eq!(s.check(&client, &c, "192.0.2.2".parse().unwrap(), 10_000), Check::Invalid, "another address");
        assert_eq!(s.check(&[2u8; 8], &c, ip, 10_000), Check::Invalid, "another client cookie");
        assert_eq!(s.check(&client, &[], ip, 10_000), Check::ClientOnly);
        assert_eq!(s.check(&client, &c[..8], ip, 10_000), Check::Invalid, "a length we do not make");
        let rotated = s.rotate(None).unwrap();
        assert_eq!(rotated.check(&client, &c, ip, 10_000), Check::Valid { fresh: true }, "the previous secret");
        let twice = rotated.rotate(None).unwrap();
        assert_eq!(twice.check(&client, &c, ip, 10_000), Check::Invalid, "two rotations ago");
    }

    #[test]
    fn the_secret_file_is_written_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("shoal-cookie-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cookie.secret");
        let first = Secrets::load(&path, None).unwrap();
        let again = Secrets::load(&path, Some(&first)).unwrap();
        assert_eq!(again, first, "the same file, the same secret");
        std::fs::write(&path, "00112233445566778899aabbccddeeff\n").unwrap();
        let changed = Secrets::load(&path, Some(&first)).unwrap();
        assert_eq!(changed.previous, Some(first.current), "a new secret keeps the old one as the previous");
        std::fs::write(&path, "not hex").unwrap();
        assert!(Secrets::load(&path, None).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
