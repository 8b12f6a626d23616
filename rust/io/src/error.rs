//! The one error type of the crate. Every message names the record (0-based) and its byte offset,
//! and what was wrong with it.

use std::fmt;

use thiserror::Error;

/// Where a record starts: its index among the records of the input (0-based, counting a record
/// split into continuation parts once) and the byte offset of its first header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    /// Index of the record, 0-based.
    pub record: u64,
    /// Byte offset of the record's (first) header in the input.
    pub offset: u64,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {} (0-based, at byte {})", self.record, self.offset)
    }
}

/// Everything that can go wrong reading or writing RecordIO-protobuf.
#[derive(Debug, Error)]
pub enum Error {
    /// The input holds no byte at all.
    #[error("empty input (0 bytes): a RecordIO file holds at least one record")]
    Empty,
    /// A header does not start with the RecordIO magic number.
    #[error("{at}: bad magic 0x{found:08x} (expected 0x{:08x}): not RecordIO, or corrupted", crate::MAGIC)]
    BadMagic { at: At, found: u32 },
    /// The input ends inside a header.
    #[error("{at}: truncated: the input ends {available} bytes into an 8-byte record header")]
    TruncatedHeader { at: At, available: usize },
    /// The input ends before the data (and padding) a header announces.
    #[error(
        "{at}: truncated or bad length: the header announces {length} bytes ({padded} with padding), \
         but only {available} remain"
    )]
    Truncated { at: At, length: u32, padded: usize, available: usize },
    /// A continuation flag out of sequence (DMLC: 0 whole, 1 first, 2 middle, 3 last part).
    #[error("{at}: bad continuation flag {cflag} {context}")]
    BadContinuation { at: At, cflag: u32, context: &'static str },
    /// The record's payload is not a valid `aialgs.data.Record` protobuf message.
    #[error("{at}: protobuf decode error: {reason}")]
    Decode { at: At, reason: &'static str },
    /// The record has no feature under the key "values".
    #[error("{at}: the record has no \"values\" feature (SageMaker's key for the features)")]
    NoValues { at: At },
    /// The "values" feature holds no tensor, or one of a type that is not numeric.
    #[error("{at}: the \"values\" feature holds {found}; expected a Float32Tensor, Float64Tensor or Int32Tensor")]
    TensorType { at: At, found: &'static str },
    /// Float32 values after float64 (or int32) ones, or the other way round.
    #[error("{at}: the record holds {found} values, but the records before it hold {expected} values")]
    MixedTypes { at: At, found: &'static str, expected: &'static str },
    /// A shape that does not fit the values, or with more than two dimensions.
    #[error("{at}: bad shape: {detail}")]
    Shape { at: At, detail: String },
    /// Keys and values of a sparse tensor that differ in number.
    #[error("{at}: a sparse tensor has {keys} keys but {values} values (one key per value)")]
    KeysMismatch { at: At, keys: usize, values: usize },
    /// A sparse key past the end of the tensor's shape.
    #[error("{at}: sparse key {key} is out of range for shape {shape:?}")]
    KeyOutOfRange { at: At, key: u64, shape: Vec<u64> },
    /// A record whose rows have another width than the records before it.
    #[error("{at}: rows of {found} features, but the records before it have {expected}")]
    Width { at: At, found: u64, expected: u64 },
    /// Data that cannot be written (shapes that disagree, a record too large).
    #[error("cannot write row {row}: {detail}")]
    Write { row: usize, detail: String },
    /// The operating system failed to read or write.
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

impl Error {
    /// The index of the record the error is about, when it is about one.
    pub fn record(&self) -> Option<u64> {
        match self {
            Error::BadMagic { at, .. }
            | Error::TruncatedHeader { at, .. }
            | Error::Truncated { at, .. }
            | Error::BadContinuation { at, .. }
            | Error::Decode { at, .. }
            | Error::NoValues { at }
            | Error::TensorType { at, .. }
            | Error::MixedTypes { at, .. }
            | Error::Shape { at, .. }
            | Error::KeysMismatch { at, .. }
            | Error::KeyOutOfRange { at, .. }
            | Error::Width { at, .. } => Some(at.record),
            Error::Empty | Error::Write { .. } | Error::Io { .. } => None,
        }
    }
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
