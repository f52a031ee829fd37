//! [`ApplyError`]: why a change could not be made into a new version.

use crate::error::LoadError;

/// Why an IXFR could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// The diff starts from a serial other than the one held.
    SerialMismatch { held: u32, diff_from: u32 },
    /// A record to delete is not in the zone.
    MissingDeletion { record: String },
    /// The result is not a valid zone.
    Invalid(String),
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApplyError::SerialMismatch { held, diff_from } => {
                write!(f, "IXFR starts at serial {diff_from}, but {held} is held")
            }
            ApplyError::MissingDeletion { record } => {
                write!(f, "IXFR deletes a record the zone does not have: {record}")
            }
            ApplyError::Invalid(e) => write!(f, "result is not a valid zone: {e}"),
        }
    }
}

impl std::error::Error for ApplyError {}

/// The first problem compiling found, as an apply error.
pub(crate) fn invalid(e: Vec<LoadError>) -> ApplyError {
    ApplyError::Invalid(e.first().map(|e| e.to_string()).unwrap_or_default())
}
