//! Properties of the endpoint's text codecs: numbers survive a write and a read bit for bit, and
//! are laid out as Python's `repr` lays them out.

use fastkmeans_io::text::{parse_csv, parse_json, write_answers, write_float_repr, AnswerFormat, JsonRows};
use proptest::prelude::*;

fn repr(value: f64) -> String {
    let mut out = Vec::new();
    write_float_repr(value, &mut out);
    String::from_utf8(out).unwrap()
}

/// Python's layout: scientific exactly when the decimal exponent is below -4 or above 15, with a
/// sign and at least two exponent digits; otherwise positional with a point and a digit after it.
fn python_layout(value: f64, text: &str) -> bool {
    let exponent = value.abs().log10().floor() as i32;
    match text.split_once('e') {
        Some((mantissa, e)) => {
            let digits = e.trim_start_matches(['+', '-']);
            (e.starts_with('+') || e.starts_with('-'))
                && digits.len() >= 2
                && !mantissa.ends_with(".0")
                && !(-4..16).contains(&exponent)
        }
        None => text.contains('.') && !text.ends_with('.') && (-5..17).contains(&exponent),
    }
}

proptest! {
    #[test]
    fn repr_reads_back_bit_for_bit_in_pythons_layout(bits in any::<u64>()) {
        let value = f64::from_bits(bits);
        prop_assume!(value.is_finite() && value != 0.0);
        let text = repr(value);
        prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), bits, "{}", text);
        prop_assert!(python_layout(value, &text), "{}", text);
    }

    #[test]
    fn written_rows_read_back_from_csv_and_json(values in prop::collection::vec(prop_oneof![any::<f32>(), -1e6f32..1e6f32], 1..40), width in 1usize..5) {
        let values: Vec<f32> = values.into_iter().filter(|v| v.is_finite()).collect();
        let n = values.len() / width;
        prop_assume!(n > 0);
        let values = &values[..n * width];
        let mut csv = Vec::new();
        let mut json = b"{\"instances\": [".to_vec();
        for (i, row) in values.chunks(width).enumerate() {
            json.extend_from_slice(if i > 0 { b", {\"features\": [" } else { b"{\"features\": [" });
            for (j, &v) in row.iter().enumerate() {
                if j > 0 {
                    csv.push(b',');
                    json.extend_from_slice(b", ");
                }
                write_float_repr(f64::from(v), &mut csv);
                write_float_repr(f64::from(v), &mut json);
            }
            csv.push(b'\n');
            json.extend_from_slice(b"]}");
        }
        json.extend_from_slice(b"]}");
        let (rows, n_rows) = parse_csv::<f32>(&csv, width, 0).unwrap();
        prop_assert_eq!(n_rows, n);
        prop_assert_eq!(rows.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), values.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        // JSON refuses integral values of 2**53 or more (Python reads those integers differently).
        if values.iter().any(|v| v.abs() >= 9.0e15) {
            return Ok(());
        }
        match parse_json::<f32>(&json, width).unwrap() {
            JsonRows::Dense { values: rows, n_rows } => {
                prop_assert_eq!(n_rows, n);
                prop_assert_eq!(rows.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), values.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            }
            other => prop_assert!(false, "dense rows expected, not {:?}", other),
        }
    }

    #[test]
    fn answers_hold_one_line_or_object_per_row(rows in prop::collection::vec((0i32..1000, any::<f32>()), 0..30)) {
        let (clusters, distances): (Vec<i32>, Vec<f32>) = rows.iter().copied().unzip();
        let csv = String::from_utf8(write_answers(&clusters, &distances, AnswerFormat::Csv)).unwrap();
        prop_assert_eq!(csv.lines().count(), rows.len());
        for (line, (c, d)) in csv.lines().zip(&rows) {
            prop_assert_eq!(line, format!("{}.0,{}", c, repr(f64::from(*d))));
        }
        let lines = String::from_utf8(write_answers(&clusters, &distances, AnswerFormat::JsonLines)).unwrap();
        prop_assert_eq!(lines.lines().count(), rows.len());
        let json = String::from_utf8(write_answers(&clusters, &distances, AnswerFormat::Json)).unwrap();
        prop_assert_eq!(json.matches("closest_cluster").count(), rows.len());
    }
}
