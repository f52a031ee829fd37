//! TLS for zone transfers (XoT, RFC 9103), on rustls with the ring provider, TLS 1.3
//! only and ALPN `dot`:
//!
//! - [`ServerIdentity`]: a primary's certificate chain and key, and optionally the
//!   CAs whose client certificates it requires (mutual TLS); [`accept`] completes a
//!   secondary's handshake on a connected socket;
//! - [`TlsClient`]: how a secondary authenticates one primary — a CA and the name the
//!   primary's certificate must carry (by default the address dialled), or pins of
//!   the primary's public key, or both — and optionally its own certificate;
//!   [`TlsClient::connect`] completes the handshake, and fails unless the primary
//!   agreed to `dot`;
//! - [`key_pin`]: the pin of a certificate's key (base64 of the SHA-256 of its
//!   SubjectPublicKeyInfo), as Knot's `cert-key` and kdig's `+tls-pin` spell it.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, ServerConfig, ServerConnection};
use rustls::{SignatureScheme, StreamOwned};
use sha2::Digest;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The ALPN token of DNS over TLS, which XoT uses (RFC 9103 §7.1).
pub const ALPN_DOT: &[u8] = b"dot";

/// A secondary's TLS stream to its primary.
pub type ClientStream = StreamOwned<ClientConnection, TcpStream>;
/// A primary's TLS stream to a secondary.
pub type ServerStream = StreamOwned<ServerConnection, TcpStream>;

/// Why a TLS configuration cannot be built.
#[derive(Debug)]
pub enum TlsError {
    /// A PEM file could not be read, or holds nothing of what it should.
    File { path: PathBuf, what: &'static str, error: String },
    /// rustls refused the certificates or key (`what`: which part).
    Rustls { what: &'static str, error: String },
    /// A configured pin is not base64 of 32 bytes.
    Pin(String),
    /// Neither a CA nor a pin: the primary could not be authenticated.
    NoAuthentication,
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsError::File { path, what, error } => write!(f, "{} ({what}): {error}", path.display()),
            TlsError::Rustls { what, error } => write!(f, "{what}: {error}"),
            TlsError::Pin(p) => write!(f, "pin {p:?} is not the base64 of a SHA-256 digest (44 characters)"),
            TlsError::NoAuthentication => write!(f, "needs ca_file or pin: the primary must be authenticated"),
        }
    }
}

impl std::error::Error for TlsError {}

/// The ring provider: X25519 and the NIST curves, AES-GCM and ChaCha20-Poly1305; it
/// has no post-quantum key exchange (rustls deprecates it for that), which XoT peers of
/// today (BIND with OpenSSL, Knot with GnuTLS) do not offer either.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A PEM file is read whole, up to this size (a certificate chain or a CA bundle is
/// kilobytes; a path to a device or a huge file is refused, not read forever).
const MAX_PEM: u64 = 4 << 20;

fn read_pem(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    use std::io::Read;
    let file_error = |error: String| TlsError::File { path: path.to_path_buf(), what, error };
    let file = std::fs::File::open(path).map_err(|e| file_error(e.to_string()))?;
    let mut pem = Vec::new();
    file.take(MAX_PEM + 1).read_to_end(&mut pem).map_err(|e| file_error(e.to_string()))?;
    if pem.len() as u64 > MAX_PEM {
        return Err(file_error(format!("larger than {} MiB", MAX_PEM >> 20)));
    }
    Ok(pem)
}

fn certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let file_error = |error: String| TlsError::File { path: path.to_path_buf(), what, error };
    let certs = CertificateDer::pem_slice_iter(&read_pem(path, what)?)
        .map(|c| c.map(CertificateDer::into_owned))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error("no PEM certificate in the file".into()));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(&read_pem(path, "private key")?).map_err(|e| TlsError::File {
        path: path.to_path_buf(),
        what: "private key",
        error: e.to_string(),
    })
}

fn roots(path: &Path, what: &'static str) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in certificates(path, what)? {
        store.add(cert).map_err(|e| TlsError::File { path: path.to_path_buf(), what, error: e.to_string() })?;
    }
    Ok(Arc::new(store))
}

/// The pin of `cert`'s public key: base64 of the SHA-256 of its SubjectPublicKeyInfo.
pub fn key_pin(cert: &CertificateDer<'_>) -> Result<String, rustls::Error> {
    let parsed = ParsedCertificate::try_from(cert)?;
    let spki = parsed.subject_public_key_info();
    Ok(data_encoding::BASE64.encode(&sha2::Sha256::digest(spki.as_ref())))
}

/// A primary's side of XoT.
#[derive(Debug, Clone)]
pub struct ServerIdentity {
    pub config: Arc<ServerConfig>,
    /// The pin of the certificate's key, for the secondaries' configuration.
    pub pin: String,
    /// Whether a client certificate is required.
    pub mutual: bool,
}

impl ServerIdentity {
    /// From the PEM files of the certificate chain and its key; with `client_ca`, a
    /// client certificate issued by one of its CAs is required.
    pub fn load(certificate: &Path, key: &Path, client_ca: Option<&Path>) -> Result<ServerIdentity, TlsError> {
        let chain = certificates(certificate, "certificate")?;
        let pin = key_pin(&chain[0]).map_err(|e| TlsError::File {
            path: certificate.to_path_buf(),
            what: "certificate",
            error: e.to_string(),
        })?;
        let builder = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::Rustls { what: "TLS versions", error: e.to_string() })?;
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(roots(ca, "client CA")?, provider())
                    .build()
                    .map_err(|e| TlsError::Rustls { what: "client CA", error: e.to_string() })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(chain, private_key(key)?)
            .map_err(|e| TlsError::Rustls { what: "certificate and key", error: e.to_string() })?;
        config.alpn_protocols = vec![ALPN_DOT.to_vec()];
        Ok(ServerIdentity { config: Arc::new(config), pin, mutual: client_ca.is_some() })
    }
}

/// Complete a secondary's handshake on `tcp` (blocking, within the socket's timeouts).
/// A client that offers ALPN without `dot` is refused by the handshake.
pub fn accept(config: &Arc<ServerConfig>, tcp: TcpStream) -> io::Result<ServerStream> {
    let conn = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
    let mut s = StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock)?;
    }
    Ok(s)
}

/// How a secondary reaches one primary over TLS.
#[derive(Debug, Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    /// The name the primary's certificate must carry; `None`: the address dialled.
    hostname: Option<ServerName<'static>>,
}

/// What a [`TlsClient`] is made from (paths already resolved).
#[derive(Debug, Clone, Default)]
pub struct ClientSpec {
    /// CAs trusted for the primary's certificate.
    pub ca_file: Option<PathBuf>,
    /// The name checked against the certificate (with `ca_file`).
    pub hostname: Option<String>,
    /// Pins of the primary's public key; one must match.
    pub pins: Vec<String>,
    /// The secondary's own certificate chain and key, for mutual TLS.
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl TlsClient {
    /// Build from `spec`, which must name a CA, pins, or both.
    pub fn new(spec: &ClientSpec) -> Result<TlsClient, TlsError> {
        if spec.ca_file.is_none() && spec.pins.is_empty() {
            return Err(TlsError::NoAuthentication);
        }
        let mut pins = Vec::with_capacity(spec.pins.len());
        for p in &spec.pins {
            match data_encoding::BASE64.decode(p.trim().as_bytes()) {
                Ok(d) if d.len() == 32 => pins.push(d),
                _ => return Err(TlsError::Pin(p.clone())),
            }
        }
        let webpki = match &spec.ca_file {
            Some(ca) => Some(
                WebPkiServerVerifier::builder_with_provider(roots(ca, "CA")?, provider())
                    .build()
                    .map_err(|e| TlsError::Rustls { what: "CA", error: e.to_string() })?,
            ),
            None => None,
        };
        let verifier = Arc::new(Verifier { webpki, pins, provider: provider() });
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::Rustls { what: "TLS versions", error: e.to_string() })?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match &spec.identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => builder
                .with_client_auth_cert(certificates(cert, "client certificate")?, private_key(key)?)
                .map_err(|e| TlsError::Rustls { what: "client certificate and key", error: e.to_string() })?,
        };
        config.alpn_protocols = vec![ALPN_DOT.to_vec()];
        let hostname = match &spec.hostname {
            None => None,
            Some(h) => Some(
                ServerName::try_from(h.clone())
                    .map_err(|e| TlsError::Rustls { what: "hostname", error: e.to_string() })?,
            ),
        };
        Ok(TlsClient { config: Arc::new(config), hostname })
    }

    /// Complete the handshake with `primary` on `tcp` (blocking, within the socket's
    /// timeouts); fails unless the primary is authenticated and agreed to `dot`.
    pub fn connect(&self, tcp: TcpStream, primary: SocketAddr) -> io::Result<ClientStream> {
        let name = self.hostname.clone().unwrap_or_else(|| ServerName::IpAddress(primary.ip().into()));
        let conn = ClientConnection::new(Arc::clone(&self.config), name).map_err(io::Error::other)?;
        let mut s = StreamOwned::new(conn, tcp);
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock)?;
        }
        if s.conn.alpn_protocol() != Some(ALPN_DOT) {
            return Err(io::Error::other("the primary did not agree to ALPN \"dot\" (RFC 9103)"));
        }
        Ok(s)
    }
}

/// The primary's certificate checked against the CA (chain, validity, name) and the
/// pins, whichever are configured; both when both are.
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    pins: Vec<Vec<u8>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(w) = &self.webpki {
            w.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
        }
        if !self.pins.is_empty() {
            let parsed = ParsedCertificate::try_from(end_entity)?;
            let digest = sha2::Sha256::digest(parsed.subject_public_key_info().as_ref());
            if !self.pins.iter().any(|p| p[..] == digest[..]) {
                return Err(rustls::Error::General("the primary's key matches no configured pin".into()));
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Only TLS 1.3 is configured.
        Err(rustls::Error::General("TLS 1.2 is not used for XoT here".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_must_be_sha256_digests() {
        let spec = ClientSpec { pins: vec!["abc".into()], ..Default::default() };
        assert!(matches!(TlsClient::new(&spec), Err(TlsError::Pin(_))));
        assert!(matches!(TlsClient::new(&ClientSpec::default()), Err(TlsError::NoAuthentication)));
        let good = data_encoding::BASE64.encode(&[7u8; 32]);
        let spec = ClientSpec { pins: vec![good], ..Default::default() };
        assert!(TlsClient::new(&spec).is_ok());
    }

    #[test]
    fn a_device_is_not_read_forever() {
        let e = ServerIdentity::load(Path::new("/dev/zero"), Path::new("/dev/zero"), None).unwrap_err().to_string();
        assert!(e.contains("/dev/zero") && e.contains("larger than"), "{e}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = ServerIdentity::load(Path::new("/nonexistent/cert.pem"), Path::new("/nonexistent/key.pem"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/cert.pem") && e.contains("certificate"), "{e}");
    }
}
