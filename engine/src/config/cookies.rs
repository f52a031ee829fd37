//! `[cookies]`: DNS cookies (RFC 7873) on or off, and where their secret is kept (see
//! `access::cookies` and `serve::cookie` for what they do).

use super::file::RawCookies;
use super::resolve;
use std::path::{Path, PathBuf};

/// The `[cookies]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    /// Answer cookies (the default, as BIND).
    pub enabled: bool,
    /// The secret's file (32 hex digits), shared by the servers of an anycast fleet;
    /// written with a random secret when it does not exist. `None`: a random secret
    /// for this run only (the built-in configuration).
    pub secret_file: Option<PathBuf>,
}

impl Default for CookieConfig {
    fn default() -> Self {
        CookieConfig { enabled: true, secret_file: None }
    }
}

impl CookieConfig {
    /// From the raw section: the secret file resolved against `base`, by default
    /// `cookie.secret` in the state directory.
    pub(super) fn from_raw(raw: &RawCookies, base: &Path, state_dir: &Path, from_file: bool) -> CookieConfig {
        let secret_file = match &raw.secret_file {
            Some(p) => Some(resolve::path(base, p)),
            None => from_file.then(|| state_dir.join("cookie.secret")),
        };
        CookieConfig { enabled: raw.enabled.unwrap_or(true), secret_file }
    }
}
