//! Records to batches of rows: dense row-major buffers or CSR triples, ready for NumPy / SciPy.
//!
//! What a record may hold (the tensor under `features["values"]`):
//!
//! | tensor | meaning |
//! |---|---|
//! | no keys, no shape | one dense row of all its values (what the SageMaker SDK writes) |
//! | no keys, shape `[c]` | one dense row of `c` values |
//! | no keys, shape `[r, c]` | `r` dense rows of `c` values, row-major |
//! | keys, shape `[c]` | one sparse row: key = column (the SDK's `write_spmatrix_to_sparse_tensor`) |
//! | keys, shape `[r, c]` | `r` sparse rows: key = `row * c + column` (sagemaker-spark's convention) |
//!
//! A tensor with a shape but neither keys nor values is an all-zero sparse row (or rows): that is
//! how the SDK writes an empty row of a sparse matrix. `Float32Tensor` values are read as float32;
//! `Float64Tensor` and `Int32Tensor` values as float64 (exact for every int32, and NumPy's choice
//! for integers). The first record fixes the batches' kind (dense or sparse), their dtype and their
//! width; later records must agree on dtype and width. A sparse record in a dense input is
//! scattered into dense rows (duplicate keys add up), and a dense record in a sparse input becomes
//! sparse rows holding all its values, zeros included.

use std::io::Read;

use crate::error::{At, Error, Result};
use crate::framing::RecordReader;
use crate::wire::{self, TensorType};

/// Rows of a batch: a row-major dense buffer, or compressed sparse rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows<T> {
    /// `n_rows * n_cols` values, row after row.
    Dense(Vec<T>),
    /// Compressed sparse rows.
    Sparse(Csr<T>),
}

/// A CSR matrix: row `i` holds `data[indptr[i]..indptr[i + 1]]` in the columns
/// `indices[indptr[i]..indptr[i + 1]]` (in the order the record listed them).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Csr<T> {
    /// The stored values.
    pub data: Vec<T>,
    /// The column of each stored value.
    pub indices: Vec<i64>,
    /// `n_rows + 1` offsets into `data`, starting at 0.
    pub indptr: Vec<i64>,
}

/// The values of a batch, in the dtype the records' tensor type gives.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchData {
    /// From `Float32Tensor`s.
    F32(Rows<f32>),
    /// From `Float64Tensor`s or `Int32Tensor`s.
    F64(Rows<f64>),
}

/// Consecutive whole records, as rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Index (0-based) of the batch's first record in the input.
    pub first_record: u64,
    /// Rows in the batch.
    pub n_rows: usize,
    /// Columns (features) of every row.
    pub n_cols: usize,
    /// The values.
    pub data: BatchData,
}

/// What the first record fixes for every batch.
#[derive(Debug, Clone, Copy)]
struct Layout {
    f32: bool,
    sparse: bool,
    n_cols: u64,
}

/// Rows and columns of one record's tensor.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    rows: u64,
    cols: u64,
    sparse: bool,
}

/// A record may declare more rows than it has values only up to this many (all-zero sparse
/// rows): a bound that stops a corrupted shape from allocating without end.
const MAX_EMPTY_ROWS: u64 = 1 << 24;

/// A sparse record read into dense rows may fill at most this many values (1 GiB of float32).
const MAX_SCATTERED: u64 = 1 << 28;

/// Reads RecordIO-protobuf records from a byte source and decodes them into [`Batch`]es.
pub struct BatchReader<R> {
    records: RecordReader<R>,
    layout: Option<Layout>,
    keys: Vec<u64>,
    shape: Vec<u64>,
    scratch_f32: Vec<f32>,
    scratch_f64: Vec<f64>,
}

impl<R: Read> BatchReader<R> {
    /// A reader of the records of `source` (a file, a pipe, a byte slice).
    pub fn new(source: R) -> Self {
        BatchReader {
            records: RecordReader::new(source),
            layout: None,
            keys: Vec::new(),
            shape: Vec::new(),
            scratch_f32: Vec::new(),
            scratch_f64: Vec::new(),
        }
    }

    /// The next batch: the whole records that bring it to `batch_rows` rows or more (fewer at
    /// the end of the input; exactly `batch_rows` when each record holds one row, as the SDK
    /// writes them). `None` once the input is exhausted; an input with no byte at all is an error.
    pub fn next_batch(&mut self, batch_rows: usize) -> Result<Option<Batch>> {
        let mut batch = None;
        self.extend(&mut batch, batch_rows)?;
        Ok(batch)
    }

    /// Everything left in the input, as one batch.
    pub fn read_to_end(&mut self) -> Result<Option<Batch>> {
        self.next_batch(usize::MAX)
    }

    /// Appends whole records to `batch` (started at the next record when `None`) until it holds
    /// at least `until_rows` rows or the input ends.
    pub fn extend(&mut self, batch: &mut Option<Batch>, until_rows: usize) -> Result<()> {
        while batch.as_ref().map_or(0, |b| b.n_rows) < until_rows.max(1) {
            let Some(record) = self.records.next_record()? else {
                if self.records.records_read() == 0 {
                    return Err(Error::Empty);
                }
                break;
            };
            let at = record.at;
            let tensor = wire::values_tensor(record.payload, at)?;
            let n_values = tensor.read_meta(&mut self.keys, &mut self.shape, at)?;
            let geometry = geometry(n_values, &self.keys, &self.shape, at)?;
            let f32 = tensor.ty == TensorType::Float32;
            let layout = *self.layout.get_or_insert(Layout { f32, sparse: geometry.sparse, n_cols: geometry.cols });
            if f32 != layout.f32 {
                let expected = if layout.f32 { "Float32Tensor" } else { "Float64Tensor or Int32Tensor" };
                return Err(Error::MixedTypes { at, found: tensor.ty.name(), expected });
            }
            if geometry.cols != layout.n_cols {
                return Err(Error::Width { at, found: geometry.cols, expected: layout.n_cols });
            }
            if !layout.sparse && geometry.sparse && geometry.rows.saturating_mul(geometry.cols) > MAX_SCATTERED {
                let detail = format!(
                    "a sparse record of shape [{}, {}] is too large for dense rows",
                    geometry.rows, geometry.cols
                );
                return Err(Error::Shape { at, detail });
            }
            let batch = batch.get_or_insert_with(|| Batch::new(layout, at.record, until_rows));
            match &mut batch.data {
                BatchData::F32(rows) => {
                    rows.push(&geometry, &self.keys, &mut self.scratch_f32, |out| tensor.push_f32(out, at))?
                }
                BatchData::F64(rows) => {
                    rows.push(&geometry, &self.keys, &mut self.scratch_f64, |out| tensor.push_f64(out, at))?
                }
            }
            batch.n_rows += geometry.rows as usize;
        }
        Ok(())
    }
}

impl Batch {
    fn new(layout: Layout, first_record: u64, rows_hint: usize) -> Batch {
        // Room for the rows asked for, up to 64 MiB of float32; past that the buffers grow.
        let capacity = rows_hint.saturating_mul(layout.n_cols as usize).min(1 << 24);
        let rows = |dense: bool| -> BatchData {
            match (layout.f32, dense) {
                (true, true) => BatchData::F32(Rows::Dense(Vec::with_capacity(capacity))),
                (false, true) => BatchData::F64(Rows::Dense(Vec::with_capacity(capacity))),
                (true, false) => BatchData::F32(Rows::Sparse(Csr { indptr: vec![0], ..Csr::default() })),
                (false, false) => BatchData::F64(Rows::Sparse(Csr { indptr: vec![0], ..Csr::default() })),
            }
        };
        Batch { first_record, n_rows: 0, n_cols: layout.n_cols as usize, data: rows(!layout.sparse) }
    }
}

/// Rows and columns of a tensor, checked against its values and keys.
fn geometry(n_values: usize, keys: &[u64], shape: &[u64], at: At) -> Result<Geometry> {
    let bad_shape = |detail: String| Error::Shape { at, detail };
    let size = match shape {
        [] => Some(n_values as u64),
        _ => shape.iter().try_fold(1u64, |size, &dim| size.checked_mul(dim)),
    };
    let sparse = !keys.is_empty() || (n_values == 0 && !shape.is_empty() && size != Some(0));
    let (rows, cols) = match *shape {
        [] if sparse => return Err(bad_shape("a sparse tensor (with keys) needs a shape".into())),
        [] => (1, n_values as u64),
        [cols] => (1, cols),
        [rows, cols] => (rows, cols),
        _ => return Err(bad_shape(format!("{shape:?} has {} dimensions; a record holds 1 or 2", shape.len()))),
    };
    let size = size.ok_or_else(|| bad_shape(format!("{shape:?} holds more than 2^64 values")))?;
    if cols > i64::MAX as u64 {
        return Err(bad_shape(format!("{shape:?} has more than 2^63 columns")));
    }
    if sparse {
        if keys.len() != n_values {
            return Err(Error::KeysMismatch { at, keys: keys.len(), values: n_values });
        }
        if let Some(&key) = keys.iter().find(|&&key| key >= size) {
            return Err(Error::KeyOutOfRange { at, key, shape: shape.to_vec() });
        }
    } else if size != n_values as u64 {
        return Err(bad_shape(format!("{shape:?} needs {size} values, but the tensor has {n_values}")));
    }
    if rows > MAX_EMPTY_ROWS && rows > n_values as u64 {
        return Err(bad_shape(format!("{shape:?} declares {rows} rows for {n_values} values")));
    }
    Ok(Geometry { rows, cols, sparse })
}

impl<T: Copy + Default + std::ops::AddAssign> Rows<T> {
    /// Appends a record's rows; `decode` appends its values to the vector it is given.
    fn push(
        &mut self,
        geometry: &Geometry,
        keys: &[u64],
        scratch: &mut Vec<T>,
        decode: impl FnOnce(&mut Vec<T>) -> Result<()>,
    ) -> Result<()> {
        let Geometry { rows, cols, sparse } = *geometry;
        let (rows, cols) = (rows as usize, cols as usize);
        if let (Rows::Dense(values), false) = (&mut *self, sparse) {
            return decode(values); // the hot path: straight into the batch
        }
        scratch.clear();
        decode(scratch)?;
        match self {
            Rows::Dense(values) => {
                // Keys index the record's r x c block, row-major.
                let start = values.len();
                values.resize(start + rows * cols, T::default());
                for (&key, &value) in keys.iter().zip(scratch.iter()) {
                    values[start + key as usize] += value;
                }
            }
            Rows::Sparse(csr) if !sparse => {
                for row in 0..rows {
                    csr.data.extend_from_slice(&scratch[row * cols..(row + 1) * cols]);
                    csr.indices.extend(0..cols as i64);
                    csr.indptr.push(csr.data.len() as i64);
                }
            }
            Rows::Sparse(csr) if rows == 1 => {
                csr.data.extend_from_slice(scratch);
                csr.indices.extend(keys.iter().map(|&key| key as i64));
                csr.indptr.push(csr.data.len() as i64);
            }
            Rows::Sparse(csr) => {
                // key = row * cols + col; keys need not come in row order, so order them (stably).
                let mut order: Vec<usize> = (0..keys.len()).collect();
                order.sort_by_key(|&i| keys[i] / cols as u64);
                let mut entries = order.into_iter().peekable();
                for row in 0..rows as u64 {
                    while let Some(i) = entries.next_if(|&i| keys[i] / cols as u64 == row) {
                        csr.data.push(scratch[i]);
                        csr.indices.push((keys[i] % cols as u64) as i64);
                    }
                    csr.indptr.push(csr.data.len() as i64);
                }
            }
        }
        Ok(())
    }
}
