//! Writing matrices as RecordIO-protobuf, one `Record` per row, byte for byte as the SageMaker
//! SDK's `write_numpy_to_dense_tensor` and `write_spmatrix_to_sparse_tensor` write them.

use std::io::Write;
use std::ops::Range;

use prost::Message;

use crate::error::{Error, Result};
use crate::framing::{self, MAX_LENGTH};
use crate::proto::{self, value};

/// A borrowed vector of numbers in one of the schema's tensor types.
#[derive(Debug, Clone, Copy)]
pub enum Values<'a> {
    /// Written as a `Float32Tensor`.
    F32(&'a [f32]),
    /// Written as a `Float64Tensor`.
    F64(&'a [f64]),
    /// Written as an `Int32Tensor`.
    I32(&'a [i32]),
}

impl Values<'_> {
    /// How many numbers.
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::I32(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The numbers `range` as a tensor with these keys and shape.
    fn tensor(&self, range: Range<usize>, keys: Vec<u64>, shape: Vec<u64>) -> proto::Value {
        let value = match self {
            Values::F32(v) => {
                value::Value::Float32Tensor(proto::Float32Tensor { values: v[range].to_vec(), keys, shape })
            }
            Values::F64(v) => {
                value::Value::Float64Tensor(proto::Float64Tensor { values: v[range].to_vec(), keys, shape })
            }
            Values::I32(v) => value::Value::Int32Tensor(proto::Int32Tensor { values: v[range].to_vec(), keys, shape }),
        };
        proto::Value { value: Some(value) }
    }
}

/// The matrix to write.
#[derive(Debug, Clone, Copy)]
pub enum Matrix<'a> {
    /// Row-major `n_rows x n_cols` values: each row becomes a tensor of its values, no keys, no
    /// shape.
    Dense { values: Values<'a>, n_rows: usize, n_cols: usize },
    /// Compressed sparse rows (checked by [`Matrix::sparse`]): each row becomes a tensor of its
    /// stored values, their columns as keys and shape `[n_cols]`.
    Sparse { data: Values<'a>, indices: &'a [i64], indptr: &'a [i64], n_cols: usize },
}

impl<'a> Matrix<'a> {
    /// A dense matrix, checking that `values` holds `n_rows * n_cols` numbers.
    pub fn dense(values: Values<'a>, n_rows: usize, n_cols: usize) -> Result<Self> {
        if n_rows.checked_mul(n_cols) != Some(values.len()) {
            let detail = format!("{} values cannot be {n_rows} rows of {n_cols} columns", values.len());
            return Err(Error::Write { row: 0, detail });
        }
        Ok(Matrix::Dense { values, n_rows, n_cols })
    }

    /// A CSR matrix, checking that `indptr` starts at 0 and never decreases, that it ends at the
    /// number of values, that there is one index per value, and that every index is a column.
    pub fn sparse(data: Values<'a>, indices: &'a [i64], indptr: &'a [i64], n_cols: usize) -> Result<Self> {
        let bad = |row: usize, detail: String| Err(Error::Write { row, detail });
        if indices.len() != data.len() {
            return bad(0, format!("{} column indices for {} values", indices.len(), data.len()));
        }
        if indptr.first() != Some(&0) || indptr.last() != Some(&(data.len() as i64)) {
            return bad(0, format!("indptr must run from 0 to the number of values ({})", data.len()));
        }
        if let Some(row) = indptr.windows(2).position(|w| w[1] < w[0]) {
            return bad(row, "indptr decreases".into());
        }
        if let Some(i) = indices.iter().position(|&c| c < 0 || c as u64 >= n_cols as u64) {
            let row = indptr.partition_point(|&start| start <= i as i64) - 1;
            return bad(row, format!("column index {} is outside 0..{n_cols}", indices[i]));
        }
        Ok(Matrix::Sparse { data, indices, indptr, n_cols })
    }

    /// Rows in the matrix.
    pub fn n_rows(&self) -> usize {
        match self {
            Matrix::Dense { n_rows, .. } => *n_rows,
            Matrix::Sparse { indptr, .. } => indptr.len() - 1,
        }
    }

    /// Row `row` as the tensor the SDK writes for it.
    fn row(&self, row: usize) -> proto::Value {
        match *self {
            Matrix::Dense { values, n_cols, .. } => values.tensor(row * n_cols..(row + 1) * n_cols, vec![], vec![]),
            Matrix::Sparse { data, indices, indptr, n_cols } => {
                let range = indptr[row] as usize..indptr[row + 1] as usize;
                let keys = indices[range.clone()].iter().map(|&c| c as u64).collect();
                data.tensor(range, keys, vec![n_cols as u64])
            }
        }
    }
}

/// Writes rows as records to a byte sink.
pub struct RecordWriter<W: Write> {
    out: W,
    payload: Vec<u8>,
}

impl<W: Write> RecordWriter<W> {
    /// A writer of records to `out` (buffer it: records are written field by field).
    pub fn new(out: W) -> Self {
        RecordWriter { out, payload: Vec::new() }
    }

    /// Writes rows `rows` of `x` as one record each, with `labels[row]` as the record's label
    /// when labels are given (one per row of `x`).
    pub fn write_rows(&mut self, x: &Matrix<'_>, labels: Option<Values<'_>>, rows: Range<usize>) -> Result<()> {
        if let Some(labels) = labels.filter(|labels| labels.len() != x.n_rows()) {
            let detail = format!("{} labels for {} rows (one label per row)", labels.len(), x.n_rows());
            return Err(Error::Write { row: 0, detail });
        }
        let mut record = proto::Record::default();
        for row in rows {
            record.features.insert("values".into(), x.row(row));
            if let Some(labels) = labels {
                record.label.insert("values".into(), labels.tensor(row..row + 1, vec![], vec![]));
            }
            self.payload.clear();
            record.encode(&mut self.payload).map_err(|e| Error::Write { row, detail: e.to_string() })?;
            if self.payload.len() > MAX_LENGTH {
                let detail =
                    format!("its record takes {} bytes; RecordIO records are < 2^29 bytes", self.payload.len());
                return Err(Error::Write { row, detail });
            }
            framing::write_record(&mut self.out, &self.payload)
                .map_err(|source| Error::Io { context: format!("writing row {row}"), source })?;
        }
        Ok(())
    }

    /// Flushes and returns the sink.
    pub fn finish(mut self) -> Result<W> {
        self.out.flush().map_err(|source| Error::Io { context: "flushing the records".into(), source })?;
        Ok(self.out)
    }
}
