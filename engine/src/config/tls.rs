//! `[tls]` and `[[tls_remote]]`: zone transfers over TLS (RFC 9103). `[tls]` is the
//! primary's side (where it listens for XoT, its certificate and key, the CA of the
//! client certificates it requires); each `[[tls_remote]]` says how a secondary
//! authenticates a primary, and a zone names one with `transfer_tls`. The PEM files
//! are read here, so a configuration (and a reload) with a bad one is refused with the
//! file named (see `access::tls` for what is built from them).

use super::file::{RawTls, RawTlsRemote};
use super::resolve::{self, parse_addr};
use crate::access::tls::{ClientSpec, ServerIdentity, TlsClient};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The `[tls]` settings, with the identity read from its files.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// Where secondaries reach this server over TLS (port 853 by default).
    pub listen: Vec<SocketAddr>,
    pub certificate: PathBuf,
    pub identity: ServerIdentity,
}

/// One `[[tls_remote]]`: a primary's TLS profile.
#[derive(Debug, Clone)]
pub struct TlsRemote {
    pub name: String,
    pub client: TlsClient,
}

impl TlsConfig {
    /// `[tls]`, if it has a listen address; the error names the key or the file.
    pub(super) fn from_raw(raw: &RawTls, base: &Path) -> Result<Option<TlsConfig>, String> {
        if raw.listen.is_empty() {
            if raw.certificate.is_some() || raw.key.is_some() || raw.client_ca.is_some() {
                return Err("tls: certificate and key are set but listen is empty".into());
            }
            return Ok(None);
        }
        let mut listen = Vec::with_capacity(raw.listen.len());
        for l in &raw.listen {
            listen.push(parse_addr(l, 853).map_err(|_| format!("tls.listen: bad address {l:?}"))?);
        }
        let (Some(cert), Some(key)) = (&raw.certificate, &raw.key) else {
            return Err("tls: listen needs certificate and key".into());
        };
        let certificate = resolve::path(base, cert);
        let client_ca = raw.client_ca.as_deref().map(|p| resolve::path(base, p));
        let identity = ServerIdentity::load(&certificate, &resolve::path(base, key), client_ca.as_deref())
            .map_err(|e| format!("tls: {e}"))?;
        Ok(Some(TlsConfig { listen, certificate, identity }))
    }
}

impl TlsRemote {
    /// One `[[tls_remote]]`; the error names the profile and the key or file.
    pub(super) fn from_raw(raw: &RawTlsRemote, base: &Path) -> Result<TlsRemote, String> {
        let what = |e: String| format!("tls_remote {}: {e}", raw.name);
        let identity = match (&raw.certificate, &raw.key) {
            (Some(c), Some(k)) => Some((resolve::path(base, c), resolve::path(base, k))),
            (None, None) => None,
            _ => return Err(what("certificate and key go together".into())),
        };
        if raw.hostname.is_some() && raw.ca_file.is_none() {
            return Err(what("hostname is checked against ca_file, which is not set".into()));
        }
        let spec = ClientSpec {
            ca_file: raw.ca_file.as_deref().map(|p| resolve::path(base, p)),
            hostname: raw.hostname.clone(),
            pins: raw.pin.clone(),
            identity,
        };
        let client = TlsClient::new(&spec).map_err(|e| what(e.to_string()))?;
        Ok(TlsRemote { name: raw.name.clone(), client })
    }
}

/// The index of the `[[tls_remote]]` named `name`.
pub(super) fn remote_index(remotes: &[TlsRemote], name: &str) -> Result<usize, String> {
    remotes
        .iter()
        .position(|r| r.name == name)
        .ok_or_else(|| format!("transfer_tls {name:?} is not a configured [[tls_remote]]"))
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ZoneSource};
    use std::path::Path;

    fn fixture(name: &str) -> String {
        format!("{}/tests/tls/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/etc/shoal/shoal.toml")).map_err(|e| e.to_string())
    }

    fn secondary(extra: &str) -> String {
        format!(
            "[[tls_remote]]\nname = \"p\"\nca_file = \"{}\"\nhostname = \"primary.shoal.test\"\n\
             [[zone]]\nname = \"a.\"\nprimaries = [\"192.0.2.1\"]\ntransfer_tls = \"p\"\n{extra}",
            fixture("ca.pem")
        )
    }

    #[test]
    fn a_zone_reached_over_tls_defaults_to_port_853() {
        let c = parse(&secondary("")).unwrap();
        assert_eq!(c.zones[0].transfer_tls, Some(0));
        assert!(matches!(&c.zones[0].source, ZoneSource::Primaries(p) if p[0].port() == 853));
    }

    #[test]
    fn the_primary_side_reads_its_files_and_gives_its_pin() {
        let text = format!(
            "[tls]\nlisten = [\"127.0.0.1\"]\ncertificate = \"{}\"\nkey = \"{}\"\n",
            fixture("server.pem"),
            fixture("server.key")
        );
        let c = parse(&text).unwrap();
        let tls = c.tls.expect("[tls]");
        assert_eq!(tls.listen[0].port(), 853);
        let pin = std::fs::read_to_string(fixture("server.pin")).unwrap();
        assert_eq!(tls.identity.pin, pin.trim(), "the pin is what openssl computes");
        assert!(!tls.identity.mutual);
    }

    #[test]
    fn mistakes_are_refused_with_what_is_wrong() {
        let cases = [
            (
                format!("[tls]\nlisten = [\"127.0.0.1:853\"]\ncertificate = \"{}\"\n", fixture("server.pem")),
                "certificate and key",
            ),
            (
                format!(
                    "[tls]\nlisten = [\"127.0.0.1:853\"]\ncertificate = \"/nonexistent/c.pem\"\nkey = \"{}\"\n",
                    fixture("server.key")
                ),
                "/nonexistent/c.pem",
            ),
            (
                // A key that is not the certificate's.
                format!(
                    "[tls]\nlisten = [\"127.0.0.1:853\"]\ncertificate = \"{}\"\nkey = \"{}\"\n",
                    fixture("server.pem"),
                    fixture("client.key")
                ),
                "tls:",
            ),
            ("[[tls_remote]]\nname = \"p\"\n".to_string(), "needs ca_file or pin"),
            ("[[tls_remote]]\nname = \"p\"\npin = [\"x\"]\nhostname = \"h\"\n".to_string(), "hostname"),
            (secondary("").replace("transfer_tls = \"p\"", "transfer_tls = \"q\""), "\"q\" is not a configured"),
            (
                "[[zone]]\nname = \"a.\"\nfile = \"a.zone\"\ntransfer_require_tls = true\n".to_string(),
                "transfer_require_tls needs [tls]",
            ),
        ];
        for (text, want) in cases {
            let e = parse(&text).expect_err(&text);
            assert!(e.contains(want), "{text}\n→ {e}\n(wanted {want:?})");
        }
    }
}
