//! `text/csv` request bodies: one row per line, fields separated by commas, no header.
//!
//! Lines end with `\n` or `\r\n`; empty lines are skipped but counted, so that messages name the
//! line as an editor shows it. Every line must hold `label_size + n_features` fields; a field is a
//! number with optional surrounding blanks (space, tab, `\r`, `\x0b`, `\x0c`), as Python's
//! `float()` reads it: `1`, `-2.5`, `.5`, `1e-3`, `inf`, `NaN`. Label columns are read (they must
//! be numbers) and dropped. Problems are reported in this order of precedence, each the first in
//! line order: a line with the wrong number of fields, a field that is not a number, a row (its
//! features, after rounding to the element type) holding NaN or infinity.

use std::fmt;

use super::Element;

/// Why a CSV body was refused. Lines and columns count from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvError {
    /// No line holds anything.
    NoRow,
    /// A line with `found` fields where `label_size + n_features` are needed.
    Fields { line: usize, found: usize, n_features: usize, label_size: usize },
    /// A field that is not a number; `cell` is its bytes as sent (blanks included).
    NotANumber { line: usize, column: usize, cell: Vec<u8> },
    /// A row whose features hold NaN or infinity (after rounding to the element type).
    NonFinite { line: usize },
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::NoRow => write!(f, "the CSV body holds no row"),
            CsvError::Fields { line, found, n_features, label_size } => {
                write!(f, "line {line}: {found} fields, but the model takes {n_features} features")?;
                if *label_size > 0 {
                    write!(f, " after {label_size} label columns")?;
                }
                Ok(())
            }
            CsvError::NotANumber { line, column, cell } => {
                let shown = String::from_utf8_lossy(trim(cell));
                write!(f, "line {line}, column {column}: {shown:?} is not a number")?;
                if shown.is_empty() {
                    write!(f, " (an empty cell)")?;
                }
                Ok(())
            }
            CsvError::NonFinite { line } => write!(f, "line {line} holds NaN or infinity"),
        }
    }
}

impl std::error::Error for CsvError {}

/// Parses a CSV body into row-major rows of `n_features` values each (label columns dropped).
///
/// Returns the values and the number of rows.
///
/// ```
/// use fastkmeans_io::text::{parse_csv, CsvError};
///
/// let (rows, n) = parse_csv::<f32>(b"9,1.5,2\r\n\n8, -1e1 ,3\n", 2, 1)?;
/// assert_eq!((rows, n), (vec![1.5, 2.0, -10.0, 3.0], 2));
/// let error = parse_csv::<f64>(b"1,2\n3,x\n", 2, 0).unwrap_err();
/// assert_eq!(error.to_string(), r#"line 2, column 2: "x" is not a number"#);
/// # Ok::<(), CsvError>(())
/// ```
pub fn parse_csv<T: Element>(body: &[u8], n_features: usize, label_size: usize) -> Result<(Vec<T>, usize), CsvError> {
    let width = label_size + n_features;
    // A row is at least two bytes a value ("1,"): enough room for every row without a regrowth
    // for typical bodies, never more than the body's size in values.
    let mut out: Vec<T> = Vec::with_capacity(body.len() / 2 / width.max(1) * n_features + n_features);
    let mut n_rows = 0;
    let mut not_a_number: Option<CsvError> = None;
    let mut non_finite: Option<usize> = None;
    let mut line_number = 0;
    let mut rest = body;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let mut line = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or(&[]);
        line_number += 1;
        if let [head @ .., b'\r'] = line {
            line = head;
        }
        if line.is_empty() {
            continue;
        }
        if not_a_number.is_some() {
            // Past a bad number only the field counts matter: a wrong count anywhere is reported first.
            let found = 1 + line.iter().filter(|&&b| b == b',').count();
            if found != width {
                return Err(CsvError::Fields { line: line_number, found, n_features, label_size });
            }
            continue;
        }
        let row_start = out.len();
        let mut found = 0;
        let mut cells = line;
        loop {
            let comma = cells.iter().position(|&b| b == b',');
            let cell = &cells[..comma.unwrap_or(cells.len())];
            if found < width && not_a_number.is_none() {
                match parse_number(cell) {
                    Some(value) if found >= label_size => out.push(T::from_f64(value)),
                    Some(_) => {}
                    None => {
                        not_a_number =
                            Some(CsvError::NotANumber { line: line_number, column: found + 1, cell: cell.to_vec() })
                    }
                }
            }
            found += 1;
            match comma {
                Some(at) => cells = &cells[at + 1..],
                None => break,
            }
        }
        if found != width {
            return Err(CsvError::Fields { line: line_number, found, n_features, label_size });
        }
        if not_a_number.is_some() {
            out.truncate(row_start);
            continue;
        }
        if non_finite.is_none() && !out[row_start..].iter().all(|v| v.finite()) {
            non_finite = Some(line_number);
        }
        n_rows += 1;
    }
    if let Some(error) = not_a_number {
        return Err(error);
    }
    if n_rows == 0 {
        return Err(CsvError::NoRow);
    }
    if let Some(line) = non_finite {
        return Err(CsvError::NonFinite { line });
    }
    Ok((out, n_rows))
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c)
}

fn trim(mut cell: &[u8]) -> &[u8] {
    while let [first, tail @ ..] = cell {
        if !is_blank(*first) {
            break;
        }
        cell = tail;
    }
    while let [head @ .., last] = cell {
        if !is_blank(*last) {
            break;
        }
        cell = head;
    }
    cell
}

/// A field as Python's `float()` reads it (blanks around it allowed), correctly rounded.
fn parse_number(cell: &[u8]) -> Option<f64> {
    std::str::from_utf8(trim(cell)).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &[u8], n_features: usize, label_size: usize) -> String {
        parse_csv::<f64>(body, n_features, label_size).unwrap_err().to_string()
    }

    #[test]
    fn reads_rows_and_skips_labels_and_blank_lines() {
        let (rows, n) = parse_csv::<f64>(b"\n1,2,3\r\n\r\n 4 ,\t5,6e0", 2, 1).unwrap();
        assert_eq!((rows, n), (vec![2.0, 3.0, 5.0, 6.0], 2));
        let (rows, _) = parse_csv::<f32>(b"0.1,+.5,-0\n", 3, 0).unwrap();
        assert_eq!(rows, vec![0.1f64 as f32, 0.5, -0.0]);
        assert!(rows[2].is_sign_negative());
    }

    #[test]
    fn names_the_line_and_column() {
        assert_eq!(err(b"1,2,3\n4,5\n", 3, 0), "line 2: 2 fields, but the model takes 3 features");
        assert_eq!(
            err(b"1,2,3\n4,5\n", 2, 1),
            "line 2: 2 fields, but the model takes 2 features after 1 label columns"
        );
        assert_eq!(err(b"1,2,3\n\n4,x,6\n", 3, 0), r#"line 3, column 2: "x" is not a number"#);
        assert_eq!(err(b"1,2,3\n4,,6\n", 3, 0), r#"line 2, column 2: "" is not a number (an empty cell)"#);
        assert_eq!(err(b"1,2,3\n4,nan,6\n", 3, 0), "line 2 holds NaN or infinity");
        assert_eq!(err(b"1,2,3\n4,5,-Infinity\n", 3, 0), "line 2 holds NaN or infinity");
        assert_eq!(err(b"", 3, 0), "the CSV body holds no row");
        assert_eq!(err(b"\r\n\n", 3, 0), "the CSV body holds no row");
    }

    #[test]
    fn a_wrong_field_count_anywhere_comes_before_a_bad_number() {
        assert_eq!(err(b"x,2\n1,2\n1,2,3\n", 2, 0), "line 3: 3 fields, but the model takes 2 features");
        assert_eq!(err(b"1,x\n1,x,3\n", 2, 0), "line 2: 3 fields, but the model takes 2 features");
        // ... and a bad number before NaN, wherever they are.
        assert_eq!(err(b"nan,2\n1,y\n", 2, 0), r#"line 2, column 2: "y" is not a number"#);
    }

    #[test]
    fn nan_in_a_label_column_is_not_a_feature() {
        assert_eq!(parse_csv::<f64>(b"nan,1\n", 1, 1).unwrap(), (vec![1.0], 1));
    }

    #[test]
    fn float32_overflow_is_infinity() {
        let error = parse_csv::<f32>(b"1e39\n", 1, 0).unwrap_err();
        assert_eq!(error, CsvError::NonFinite { line: 1 });
        assert_eq!(parse_csv::<f64>(b"1e39\n", 1, 0).unwrap().0, vec![1e39]);
    }
}
