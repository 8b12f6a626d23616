//! The one error type of the core. Every message names the value and the rule it broke.

use thiserror::Error;

/// Everything that can go wrong in the core.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// A buffer's length does not match the shape it is said to have.
    #[error("a buffer of {len} values cannot hold {rows} rows of {cols} features")]
    BadShape { len: usize, rows: usize, cols: usize },
    /// Two arrays that must share the feature dimension do not.
    #[error("X has {got} features, but the centres have {expected}")]
    FeatureMismatch { expected: usize, got: usize },
    /// The input has no rows or no features.
    #[error("empty input: {rows} rows of {cols} features (at least one of each is required)")]
    Empty { rows: usize, cols: usize },
    /// Fewer rows than clusters.
    #[error("n_samples={n_samples} should be >= k={k}")]
    TooFewPoints { n_samples: usize, k: usize },
    /// A parameter outside its range.
    #[error("invalid value {value} for {name}: expected {rule}")]
    InvalidParameter { name: &'static str, value: String, rule: &'static str },
    /// CSR arrays that do not fit together.
    #[error("invalid sparse matrix: {0}")]
    BadSparse(String),
    /// A value that is NaN or infinite.
    #[error("{what} contains NaN or infinity (row {row})")]
    NonFinite { what: &'static str, row: usize },
    /// A weight array that does not fit its points.
    #[error("weights must be finite, non-negative and one per row: {0}")]
    BadWeights(String),
    /// A row index past the end of the data.
    #[error("row index {index} is out of range for {rows} rows")]
    RowIndex { index: usize, rows: usize },
    /// The caller's stop flag was set (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
    /// A failure inside a compute backend.
    #[error("backend error: {0}")]
    Backend(String),
}

/// `Result` with the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns [`Error::Interrupted`] once the caller has set `stop`.
pub fn check_stop(stop: &std::sync::atomic::AtomicBool) -> Result<()> {
    if stop.load(std::sync::atomic::Ordering::Relaxed) {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}
