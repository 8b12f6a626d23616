//! RecordIO-protobuf reading and writing: thin bindings of fastkmeans-io.
//!
//! Decoding and encoding run with the GIL released, in chunks, with a check for Ctrl-C between
//! chunks. Format problems raise `RecordIOError(message, record)` (a ValueError); the Python
//! package adds the path to the message.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use fastkmeans_io as rio;
use numpy::{IntoPyArray, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

create_exception!(
    fastkmeans._core,
    RecordIOError,
    PyValueError,
    "A RecordIO-protobuf input that cannot be read: args are (message, record index or None)."
);

/// Rows decoded or encoded between two checks for Ctrl-C.
const CHUNK_VALUES: usize = 1 << 22;

/// A reader of RecordIO-protobuf batches from a file or from bytes.
#[pyclass(module = "fastkmeans._core")]
pub struct RecordIOReader {
    batches: rio::BatchReader<Box<dyn Read + Send + Sync>>,
}

#[pymethods]
impl RecordIOReader {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        // Opening a named pipe (SageMaker's Pipe mode) waits for its writer: without the GIL.
        let file = py.detach(|| File::open(&path)).map_err(|e| os_error(e, &path))?;
        Ok(RecordIOReader { batches: rio::BatchReader::new(Box::new(file)) })
    }

    /// A reader of records held in memory.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> Self {
        RecordIOReader { batches: rio::BatchReader::new(Box::new(io::Cursor::new(data.to_vec()))) }
    }

    /// The next `(batch, index of its first record)`, or None at the end.
    fn next_batch<'py>(&mut self, py: Python<'py>, batch_rows: usize) -> PyResult<Option<(Bound<'py, PyAny>, u64)>> {
        let batch = py.detach(|| self.batches.next_batch(batch_rows)).map_err(to_py_err)?;
        match batch {
            None => Ok(None),
            Some(batch) => {
                let first_record = batch.first_record;
                Ok(Some((batch_to_py(py, batch)?, first_record)))
            }
        }
    }

    /// Every record left, as one batch, or None when none is left.
    fn read_all<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let mut batch = None;
        loop {
            let (rows, cols) = batch.as_ref().map_or((0, 0), |b: &rio::Batch| (b.n_rows, b.n_cols));
            let until = rows + (CHUNK_VALUES / cols.max(1)).max(1);
            py.detach(|| self.batches.extend(&mut batch, until)).map_err(to_py_err)?;
            py.check_signals()?;
            if batch.as_ref().map_or(0, |b| b.n_rows) < until {
                return batch.map(|batch| batch_to_py(py, batch)).transpose();
            }
        }
    }
}

/// A dense batch as an `(n_rows, n_cols)` array; a sparse one as `(data, indices, indptr, shape)`.
fn batch_to_py(py: Python<'_>, batch: rio::Batch) -> PyResult<Bound<'_, PyAny>> {
    let shape = (batch.n_rows, batch.n_cols);
    match batch.data {
        rio::BatchData::F32(rio::Rows::Dense(v)) => Ok(v.into_pyarray(py).reshape([shape.0, shape.1])?.into_any()),
        rio::BatchData::F64(rio::Rows::Dense(v)) => Ok(v.into_pyarray(py).reshape([shape.0, shape.1])?.into_any()),
        rio::BatchData::F32(rio::Rows::Sparse(csr)) => csr_to_py(py, csr, shape),
        rio::BatchData::F64(rio::Rows::Sparse(csr)) => csr_to_py(py, csr, shape),
    }
}

fn csr_to_py<T: numpy::Element>(py: Python<'_>, csr: rio::Csr<T>, shape: (usize, usize)) -> PyResult<Bound<'_, PyAny>> {
    let parts = (csr.data.into_pyarray(py), csr.indices.into_pyarray(py), csr.indptr.into_pyarray(py), shape);
    Ok(parts.into_pyobject(py)?.into_any())
}

/// A 2-D float32, float64 or int32 array, borrowed.
#[derive(FromPyObject)]
pub enum Matrix<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
    I32(PyReadonlyArray2<'py, i32>),
}

/// A 1-D float32, float64 or int32 array, borrowed.
#[derive(FromPyObject)]
pub enum Vector<'py> {
    F32(PyReadonlyArray1<'py, f32>),
    F64(PyReadonlyArray1<'py, f64>),
    I32(PyReadonlyArray1<'py, i32>),
}

fn contiguous<T>(slice: Result<&[T], numpy::AsSliceError>) -> PyResult<&[T]> {
    slice.map_err(|_| PyValueError::new_err("arrays must be C-contiguous"))
}

impl Vector<'_> {
    fn values(&self) -> PyResult<rio::Values<'_>> {
        Ok(match self {
            Vector::F32(a) => rio::Values::F32(contiguous(a.as_slice())?),
            Vector::F64(a) => rio::Values::F64(contiguous(a.as_slice())?),
            Vector::I32(a) => rio::Values::I32(contiguous(a.as_slice())?),
        })
    }
}

/// Writes each row of `x` as one record (its values; `labels[i]` as its label) to the new file
/// `path`, which must not exist yet.
#[pyfunction]
#[pyo3(signature = (path, x, labels=None))]
fn write_recordio_dense(py: Python<'_>, path: PathBuf, x: Matrix<'_>, labels: Option<Vector<'_>>) -> PyResult<()> {
    let (values, shape) = match &x {
        Matrix::F32(a) => (rio::Values::F32(contiguous(a.as_slice())?), a.shape()),
        Matrix::F64(a) => (rio::Values::F64(contiguous(a.as_slice())?), a.shape()),
        Matrix::I32(a) => (rio::Values::I32(contiguous(a.as_slice())?), a.shape()),
    };
    let matrix = rio::Matrix::dense(values, shape[0], shape[1]).map_err(to_py_err)?;
    write_rows(py, &path, &matrix, labels.as_ref().map(Vector::values).transpose()?, shape[1])
}

/// Writes each row of the CSR matrix `(data, indices, indptr)` with `n_cols` columns as one
/// record (values, keys = columns, shape = `[n_cols]`) to the new file `path`.
#[pyfunction]
#[pyo3(signature = (path, data, indices, indptr, n_cols, labels=None))]
fn write_recordio_sparse(
    py: Python<'_>,
    path: PathBuf,
    data: Vector<'_>,
    indices: PyReadonlyArray1<'_, i64>,
    indptr: PyReadonlyArray1<'_, i64>,
    n_cols: usize,
    labels: Option<Vector<'_>>,
) -> PyResult<()> {
    let (indices, indptr) = (contiguous(indices.as_slice())?, contiguous(indptr.as_slice())?);
    let matrix = rio::Matrix::sparse(data.values()?, indices, indptr, n_cols).map_err(to_py_err)?;
    let values_per_row = indices.len() / (indptr.len() - 1).max(1);
    write_rows(py, &path, &matrix, labels.as_ref().map(Vector::values).transpose()?, values_per_row)
}

/// Creates `path` and writes the rows in chunks, the GIL released, checking for Ctrl-C between.
fn write_rows(
    py: Python<'_>,
    path: &Path,
    matrix: &rio::Matrix<'_>,
    labels: Option<rio::Values<'_>>,
    values_per_row: usize,
) -> PyResult<()> {
    let file = OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| os_error(e, path))?;
    let mut writer = rio::RecordWriter::new(BufWriter::with_capacity(1 << 20, file));
    let chunk = (CHUNK_VALUES / values_per_row.max(1)).max(1);
    let n_rows = matrix.n_rows();
    let mut start = 0;
    while start < n_rows {
        let rows: Range<usize> = start..(start + chunk).min(n_rows);
        start = rows.end;
        py.detach(|| writer.write_rows(matrix, labels, rows)).map_err(to_py_err)?;
        py.check_signals()?;
    }
    py.detach(|| writer.finish()).map_err(to_py_err)?;
    Ok(())
}

/// An operating-system error as Python's `OSError(errno, strerror, filename)`, which Python
/// turns into the matching subclass (`FileNotFoundError`, `PermissionError`, ...).
fn os_error(e: io::Error, path: &Path) -> PyErr {
    match e.raw_os_error() {
        Some(errno) => {
            let message = e.to_string();
            let strerror = message.split(" (os error").next().unwrap_or(&message).to_owned();
            PyOSError::new_err((errno, strerror, path.as_os_str().to_os_string()))
        }
        None => PyOSError::new_err(format!("{}: {e}", path.display())),
    }
}

/// The one mapping of fastkmeans-io errors: the format's problems are `RecordIOError`s, with
/// the record's index; a matrix that cannot be written is a `ValueError`; I/O is an `OSError`.
fn to_py_err(e: rio::Error) -> PyErr {
    match e {
        rio::Error::Io { context, source } => match source.raw_os_error() {
            Some(errno) => PyOSError::new_err((errno, format!("{context}: {source}"))),
            None => PyOSError::new_err(format!("{context}: {source}")),
        },
        rio::Error::Write { .. } => PyValueError::new_err(e.to_string()),
        rio::Error::Empty
        | rio::Error::BadMagic { .. }
        | rio::Error::TruncatedHeader { .. }
        | rio::Error::Truncated { .. }
        | rio::Error::BadContinuation { .. }
        | rio::Error::Decode { .. }
        | rio::Error::NoValues { .. }
        | rio::Error::TensorType { .. }
        | rio::Error::MixedTypes { .. }
        | rio::Error::Shape { .. }
        | rio::Error::KeysMismatch { .. }
        | rio::Error::KeyOutOfRange { .. }
        | rio::Error::Width { .. } => RecordIOError::new_err((e.to_string(), e.record())),
    }
}

/// Adds the RecordIO bindings to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("RecordIOError", m.py().get_type::<RecordIOError>())?;
    m.add_class::<RecordIOReader>()?;
    m.add_function(wrap_pyfunction!(write_recordio_dense, m)?)?;
    m.add_function(wrap_pyfunction!(write_recordio_sparse, m)?)?;
    Ok(())
}
