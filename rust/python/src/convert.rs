//! Conversions between Python objects and the core's types.

use fastkmeans_core::{self as core, Csr, InitMethod, Points, Scalar};
use numpy::{
    Element, IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// A 2-D float32 or float64 NumPy array, borrowed read-only.
pub enum Matrix<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

/// The dtype is tested with a cast (numpy's C API) before borrowing. Extracting a float64 array
/// as float32 first, as a derived `FromPyObject` does, builds a type error that calls numpy's
/// Python-level `dtype.__str__`: Python code in the middle of argument conversion, where a pending
/// Ctrl-C raises a KeyboardInterrupt that is then discarded ("Exception ignored in: dtype(...)"),
/// so a loop of short core calls could miss a Ctrl-C.
impl<'a, 'py> FromPyObject<'a, 'py> for Matrix<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(array) = obj.cast::<PyArray2<f32>>() {
            return Ok(Matrix::F32(array.try_readonly()?));
        }
        if let Ok(array) = obj.cast::<PyArray2<f64>>() {
            return Ok(Matrix::F64(array.try_readonly()?));
        }
        Err(PyTypeError::new_err("expected a 2-D float32 or float64 NumPy array"))
    }
}

/// The rows of a training or inference call: a [`Matrix`], or a sparse matrix passed as the tuple
/// `(data, indices, indptr, n_features)` of its CSR arrays (float32/float64 data, int32 column
/// indices, int64 row offsets; Python converts scipy's matrices to exactly that).
pub enum Input<'py> {
    Dense(Matrix<'py>),
    Sparse32(PyReadonlyArray1<'py, f32>, PyReadonlyArray1<'py, i32>, PyReadonlyArray1<'py, i64>, usize),
    Sparse64(PyReadonlyArray1<'py, f64>, PyReadonlyArray1<'py, i32>, PyReadonlyArray1<'py, i64>, usize),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Input<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let Ok(parts) = obj.cast::<PyTuple>() else {
            return Ok(Input::Dense(obj.extract()?));
        };
        if parts.len() != 4 {
            return Err(PyTypeError::new_err("a sparse matrix is passed as (data, indices, indptr, n_features)"));
        }
        let (data, indices, indptr) = (parts.get_item(0)?, parts.get_item(1)?, parts.get_item(2)?);
        let indices = indices
            .cast::<PyArray1<i32>>()
            .map_err(|_| PyTypeError::new_err("sparse column indices must be a 1-D int32 array"))?
            .try_readonly()?;
        let indptr = indptr
            .cast::<PyArray1<i64>>()
            .map_err(|_| PyTypeError::new_err("sparse row offsets (indptr) must be a 1-D int64 array"))?
            .try_readonly()?;
        let d: usize = parts.get_item(3)?.extract()?;
        if let Ok(data) = data.cast::<PyArray1<f32>>() {
            return Ok(Input::Sparse32(data.try_readonly()?, indices, indptr, d));
        }
        if let Ok(data) = data.cast::<PyArray1<f64>>() {
            return Ok(Input::Sparse64(data.try_readonly()?, indices, indptr, d));
        }
        Err(PyTypeError::new_err("sparse values must be a 1-D float32 or float64 array"))
    }
}

/// Borrows validated CSR arrays as [`Csr`] (no copy).
pub fn csr<'a, F: Scalar + Element>(
    data: &'a PyReadonlyArray1<'_, F>,
    indices: &'a PyReadonlyArray1<'_, i32>,
    indptr: &'a PyReadonlyArray1<'_, i64>,
    d: usize,
) -> PyResult<Csr<'a, F>> {
    let contiguous = |_| PyValueError::new_err("sparse arrays must be contiguous");
    Csr::new(
        indptr.as_slice().map_err(contiguous)?,
        indices.as_slice().map_err(contiguous)?,
        data.as_slice().map_err(contiguous)?,
        d,
    )
    .map_err(to_py_err)
}

/// Runs `$body` with `$x` bound to the [`Points`] or [`Csr`] view of an [`Input`], whichever its
/// kind and dtype (the body is compiled for all four).
#[macro_export]
macro_rules! dispatch_rows {
    ($m:expr, |$x:ident| $body:expr) => {
        match &$m {
            $crate::convert::Input::Dense(matrix) => $crate::dispatch!(matrix, |$x| $body),
            $crate::convert::Input::Sparse32(data, indices, indptr, d) => {
                let $x = $crate::convert::csr(data, indices, indptr, *d)?;
                $body
            }
            $crate::convert::Input::Sparse64(data, indices, indptr, d) => {
                let $x = $crate::convert::csr(data, indices, indptr, *d)?;
                $body
            }
        }
    };
}

/// [`dispatch_rows!`] for rows and a matrix of centres that must share their dtype.
#[macro_export]
macro_rules! dispatch_rows_pair {
    ($m1:expr, $m2:expr, |$x:ident, $y:ident| $body:expr) => {
        match (&$m1, &$m2) {
            ($crate::convert::Input::Dense(a), b) => $crate::dispatch_pair!(a, b, |$x, $y| $body),
            ($crate::convert::Input::Sparse32(data, indices, indptr, d), $crate::convert::Matrix::F32(b)) => {
                let ($x, $y) = ($crate::convert::csr(data, indices, indptr, *d)?, $crate::convert::points(b)?);
                $body
            }
            ($crate::convert::Input::Sparse64(data, indices, indptr, d), $crate::convert::Matrix::F64(b)) => {
                let ($x, $y) = ($crate::convert::csr(data, indices, indptr, *d)?, $crate::convert::points(b)?);
                $body
            }
            _ => Err(pyo3::exceptions::PyValueError::new_err(
                "the data and the centres must have the same dtype (float32 or float64)",
            )),
        }
    };
}

/// Borrows a C-contiguous array as [`Points`] (no copy).
pub fn points<'a, F: Scalar + Element>(a: &'a PyReadonlyArray2<'_, F>) -> PyResult<Points<'a, F>> {
    let [n, d] = [a.shape()[0], a.shape()[1]];
    let data = a.as_slice().map_err(|_| PyValueError::new_err("arrays must be C-contiguous"))?;
    Points::new(data, n, d).map_err(to_py_err)
}

/// Runs `$body` with `$x` bound to the [`Points`] view of a [`Matrix`], whichever its dtype.
#[macro_export]
macro_rules! dispatch {
    ($m:expr, |$x:ident| $body:expr) => {
        match &$m {
            $crate::convert::Matrix::F32(a) => {
                let $x = $crate::convert::points(a)?;
                $body
            }
            $crate::convert::Matrix::F64(a) => {
                let $x = $crate::convert::points(a)?;
                $body
            }
        }
    };
}

/// [`dispatch!`] for two matrices that must share their dtype.
#[macro_export]
macro_rules! dispatch_pair {
    ($m1:expr, $m2:expr, |$x:ident, $y:ident| $body:expr) => {
        match (&$m1, &$m2) {
            ($crate::convert::Matrix::F32(a), $crate::convert::Matrix::F32(b)) => {
                let ($x, $y) = ($crate::convert::points(a)?, $crate::convert::points(b)?);
                $body
            }
            ($crate::convert::Matrix::F64(a), $crate::convert::Matrix::F64(b)) => {
                let ($x, $y) = ($crate::convert::points(a)?, $crate::convert::points(b)?);
                $body
            }
            _ => Err(pyo3::exceptions::PyValueError::new_err(
                "both arrays must have the same dtype (float32 or float64)",
            )),
        }
    };
}

/// Seeding of the K streaming centres: SageMaker's uniform rows or plain k-means++, k-means‖, or
/// plain k-means++ for the first `k` and uniform rows for the rest ("kmeans++-random").
pub fn seeding_method(name: &str, k: usize) -> PyResult<InitMethod> {
    match name {
        "random" => Ok(InitMethod::Random),
        "kmeans++" => Ok(InitMethod::PLAIN_KMEANS_PP),
        "kmeans||" => Ok(InitMethod::KMEANS_PARALLEL),
        "kmeans++-random" => Ok(InitMethod::KMeansPlusPlusThenRandom { plus_plus: k }),
        other => Err(PyValueError::new_err(format!(
            "init_method must be 'random', 'kmeans++', 'kmeans||' or 'kmeans++-random', not {other:?}"
        ))),
    }
}

/// Seeding of Lloyd runs: greedy k-means++ (the better of several candidates per step), k-means‖,
/// or the best of several greedy k-means++ and Lloyd runs on a lightweight coreset ("coreset").
pub fn init_method(name: &str, k: usize) -> PyResult<InitMethod> {
    match name {
        "random" => Ok(InitMethod::Random),
        "kmeans++" => Ok(InitMethod::greedy_kmeans_pp(k)),
        "kmeans||" => Ok(InitMethod::KMEANS_PARALLEL),
        "coreset" => Ok(InitMethod::CORESET),
        other => Err(PyValueError::new_err(format!(
            "local_lloyd_init_method must be 'random', 'kmeans++', 'kmeans||' or 'coreset', not {other:?}"
        ))),
    }
}

/// A row-major buffer as a NumPy `(len / d, d)` array, without copying.
pub fn matrix_to_py<F: Element>(py: Python<'_>, data: Vec<F>, d: usize) -> PyResult<Bound<'_, PyArray2<F>>> {
    let n = data.len().checked_div(d).unwrap_or(0);
    data.into_pyarray(py).reshape([n, d])
}

/// Labels as int32, scikit-learn's label dtype (k < 2³¹ always holds).
pub fn labels_to_py(py: Python<'_>, labels: Vec<u32>) -> Bound<'_, PyArray1<i32>> {
    labels.into_iter().map(|l| l as i32).collect::<Vec<_>>().into_pyarray(py)
}

/// int32 labels as the core's, refusing negative ones.
pub fn labels_from_py(labels: &PyReadonlyArray1<'_, i32>) -> PyResult<Vec<u32>> {
    let labels = labels.as_slice().map_err(|_| PyValueError::new_err("labels must be contiguous"))?;
    labels
        .iter()
        .enumerate()
        .map(|(i, &l)| u32::try_from(l).map_err(|_| PyValueError::new_err(format!("label {l} of row {i} is negative"))))
        .collect()
}

/// int64 row indices, refusing negative ones.
pub fn indices_from_py(indices: &PyReadonlyArray1<'_, i64>) -> PyResult<Vec<usize>> {
    let indices = indices.as_slice().map_err(|_| PyValueError::new_err("row indices must be contiguous"))?;
    indices
        .iter()
        .map(|&i| usize::try_from(i).map_err(|_| PyValueError::new_err(format!("row index {i} is negative"))))
        .collect()
}

/// The one mapping from core errors to Python exceptions: a bad value is a `ValueError`.
pub fn to_py_err(e: core::Error) -> PyErr {
    match e {
        core::Error::Interrupted => PyKeyboardInterrupt::new_err("interrupted"),
        core::Error::Backend(_) => PyRuntimeError::new_err(e.to_string()),
        core::Error::BadShape { .. }
        | core::Error::FeatureMismatch { .. }
        | core::Error::Empty { .. }
        | core::Error::TooFewPoints { .. }
        | core::Error::InvalidParameter { .. }
        | core::Error::NonFinite { .. }
        | core::Error::BadSparse(_)
        | core::Error::RowIndex { .. }
        | core::Error::BadWeights(_) => PyValueError::new_err(e.to_string()),
    }
}
