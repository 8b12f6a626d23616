//! The inference endpoint's text bodies: CSV and SageMaker's JSON / JSON Lines requests read
//! straight into rows, and the answers written as SageMaker writes them.
//!
//! - [`csv`]: `text/csv` rows (no header, `label_size` leading label columns skipped), with the
//!   line and column of the first problem.
//! - [`json`]: `application/json` and `application/jsonlines` instances, dense and sparse, read
//!   with serde_json's streaming deserializer (no document is built) into dense rows or CSR rows.
//! - [`answer`]: `closest_cluster` / `distance_to_cluster` answers as CSV, JSON and JSON Lines,
//!   every number spelled as Python's `repr` spells it (SageMaker's endpoint is Python).
//!
//! Numbers are parsed correctly rounded to float64 (Rust's `str::parse`, serde_json's
//! `float_roundtrip`) and then, for float32 rows, rounded to float32: the same two roundings, in
//! the same order, as Python's `float()` followed by NumPy's `astype(float32)`.

pub mod answer;
pub mod csv;
pub mod json;
mod repr;

pub use answer::{write_answers, AnswerFormat};
pub use csv::{parse_csv, CsvError};
pub use json::{parse_json, parse_json_lines, JsonError, JsonRows};
pub use repr::write_float_repr;

/// The element type rows are read into: `f32` or `f64`.
pub trait Element: Copy + Send + Sync + 'static {
    /// `value` rounded to this type (to nearest, ties to even; out of range becomes infinity).
    fn from_f64(value: f64) -> Self;
    /// Whether the value is neither NaN nor infinite.
    fn finite(self) -> bool;
}

impl Element for f32 {
    #[inline]
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    #[inline]
    fn finite(self) -> bool {
        self.is_finite()
    }
}

impl Element for f64 {
    #[inline]
    fn from_f64(value: f64) -> Self {
        value
    }
    #[inline]
    fn finite(self) -> bool {
        self.is_finite()
    }
}
