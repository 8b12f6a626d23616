//! fastkmeans-io: Amazon SageMaker's RecordIO-protobuf training format, read fast and written
//! byte for byte as the SageMaker SDK writes it, and the endpoint's text formats. Pure Rust, no Python.
//!
//! - [`framing`]: RecordIO records (magic, length, continuation flags, padding to 4 bytes).
//! - [`proto`]: the messages of SageMaker's `record.proto`, for prost.
//! - [`wire`]: the zero-allocation decoding of a record's features, the hot path of reading.
//! - [`batch`]: records to batches of dense rows or CSR rows ([`BatchReader`]).
//! - [`write`]: one record per row of a dense or CSR matrix ([`RecordWriter`]).
//! - [`text`]: the inference endpoint's CSV and JSON request bodies read into rows, and its text
//!   answers written as SageMaker (Python) writes them.
//!
//! ```
//! use fastkmeans_io::{BatchData, BatchReader, Matrix, RecordWriter, Rows, Values};
//!
//! let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let mut writer = RecordWriter::new(Vec::new());
//! writer.write_rows(&Matrix::dense(Values::F32(&x), 3, 2)?, None, 0..3)?;
//! let bytes = writer.finish()?;
//! assert_eq!(&bytes[..4], [0x0a, 0x23, 0xd7, 0xce]); // the magic, little-endian
//!
//! let mut reader = BatchReader::new(&bytes[..]);
//! let batch = reader.next_batch(2)?.expect("two rows");
//! assert_eq!((batch.first_record, batch.n_rows, batch.n_cols), (0, 2, 2));
//! assert_eq!(batch.data, BatchData::F32(Rows::Dense(vec![1.0, 2.0, 3.0, 4.0])));
//! assert_eq!(reader.next_batch(2)?.map(|b| b.first_record), Some(2));
//! assert!(reader.next_batch(2)?.is_none());
//! # Ok::<(), fastkmeans_io::Error>(())
//! ```

pub mod batch;
pub mod error;
pub mod framing;
pub mod proto;
pub mod text;
pub mod wire;
pub mod write;

pub use batch::{Batch, BatchData, BatchReader, Csr, Rows};
pub use error::{At, Error, Result};
pub use framing::{write_record, RawRecord, RecordReader, MAGIC};
pub use write::{Matrix, RecordWriter, Values};
