//! The inference endpoint's text bodies: thin bindings of `fastkmeans_io::text`.
//!
//! Parsing and formatting run with the GIL released (a request body is at most a few MB, so
//! there is no Ctrl-C check inside). A body that cannot be read raises `TextError(message, kind,
//! line, column, found, cell)`: `kind` is "no_row", "fields", "not_a_number", "non_finite" for
//! CSV (lines and columns from 1, `found` the fields of a line, `cell` the bytes of a field) and
//! "json" for JSON, whose other fields are None.

use fastkmeans_io::text::{self, AnswerFormat, CsvError, Element, JsonRows};
use numpy::{IntoPyArray, PyArrayMethods, PyReadonlyArray1};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

create_exception!(
    fastkmeans._core,
    TextError,
    PyValueError,
    "A request body that cannot be read: args are (message, kind, line, column, found, cell)."
);

fn csv_error(py: Python<'_>, e: CsvError) -> PyErr {
    let message = e.to_string();
    let none = || py.None();
    let int = |v: usize| v.into_pyobject(py).map_or_else(|_| py.None(), |v| v.into_any().unbind());
    let (kind, line, column, found, cell) = match e {
        CsvError::NoRow => ("no_row", none(), none(), none(), none()),
        CsvError::Fields { line, found, .. } => ("fields", int(line), none(), int(found), none()),
        CsvError::NotANumber { line, column, cell } => {
            ("not_a_number", int(line), int(column), none(), PyBytes::new(py, &cell).into_any().unbind())
        }
        CsvError::NonFinite { line } => ("non_finite", int(line), none(), none(), none()),
    };
    TextError::new_err((message, kind, line, column, found, cell))
}

fn json_error(e: text::JsonError) -> PyErr {
    let none: Option<usize> = None;
    TextError::new_err((e.0, "json", none, none, none, none))
}

/// Rows of a CSV body: an `(n_rows, n_features)` float32 or float64 array.
#[pyfunction]
#[pyo3(signature = (body, n_features, label_size, float32))]
fn parse_csv<'py>(
    py: Python<'py>,
    body: &[u8],
    n_features: usize,
    label_size: usize,
    float32: bool,
) -> PyResult<Bound<'py, PyAny>> {
    fn rows<'py, T: Element + numpy::Element>(
        py: Python<'py>,
        body: &[u8],
        n_features: usize,
        label_size: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (values, n_rows) =
            py.detach(|| text::parse_csv::<T>(body, n_features, label_size)).map_err(|e| csv_error(py, e))?;
        Ok(values.into_pyarray(py).reshape([n_rows, n_features])?.into_any())
    }
    if float32 {
        rows::<f32>(py, body, n_features, label_size)
    } else {
        rows::<f64>(py, body, n_features, label_size)
    }
}

/// Rows of a JSON (or, with `lines`, JSON Lines) body: an `(n_rows, n_features)` array, or
/// `(data, indices, indptr, (n_rows, n_features))` when an instance is sparse.
#[pyfunction]
#[pyo3(signature = (body, n_features, float32, lines=false))]
fn parse_json<'py>(
    py: Python<'py>,
    body: &[u8],
    n_features: usize,
    float32: bool,
    lines: bool,
) -> PyResult<Bound<'py, PyAny>> {
    fn rows<'py, T: Element + numpy::Element>(
        py: Python<'py>,
        body: &[u8],
        n_features: usize,
        lines: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let parsed = py
            .detach(|| {
                if lines {
                    text::parse_json_lines::<T>(body, n_features)
                } else {
                    text::parse_json(body, n_features)
                }
            })
            .map_err(json_error)?;
        match parsed {
            JsonRows::Dense { values, n_rows } => Ok(values.into_pyarray(py).reshape([n_rows, n_features])?.into_any()),
            JsonRows::Sparse { data, indices, indptr } => {
                let shape = (indptr.len() - 1, n_features);
                let parts = (data.into_pyarray(py), indices.into_pyarray(py), indptr.into_pyarray(py), shape);
                Ok(parts.into_pyobject(py)?.into_any())
            }
        }
    }
    if float32 {
        rows::<f32>(py, body, n_features, lines)
    } else {
        rows::<f64>(py, body, n_features, lines)
    }
}

/// The answer body for `closest_cluster` (int32) and `distance_to_cluster` (float32) in
/// `"text/csv"`, `"application/json"` or `"application/jsonlines"`.
#[pyfunction]
fn write_answers<'py>(
    py: Python<'py>,
    closest_cluster: PyReadonlyArray1<'py, i32>,
    distance_to_cluster: PyReadonlyArray1<'py, f32>,
    media_type: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let format = match media_type {
        "text/csv" => AnswerFormat::Csv,
        "application/json" => AnswerFormat::Json,
        "application/jsonlines" => AnswerFormat::JsonLines,
        other => return Err(PyValueError::new_err(format!("no text answer for media type {other:?}"))),
    };
    let closest = closest_cluster.as_slice().map_err(|_| PyValueError::new_err("arrays must be C-contiguous"))?;
    let distance = distance_to_cluster.as_slice().map_err(|_| PyValueError::new_err("arrays must be C-contiguous"))?;
    if closest.len() != distance.len() {
        return Err(PyValueError::new_err(format!(
            "{} clusters but {} distances: one of each a row",
            closest.len(),
            distance.len()
        )));
    }
    let body = py.detach(|| text::write_answers(closest, distance, format));
    Ok(PyBytes::new(py, &body))
}

/// Adds the text bindings to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("TextError", m.py().get_type::<TextError>())?;
    m.add_function(wrap_pyfunction!(parse_csv, m)?)?;
    m.add_function(wrap_pyfunction!(parse_json, m)?)?;
    m.add_function(wrap_pyfunction!(write_answers, m)?)?;
    Ok(())
}
