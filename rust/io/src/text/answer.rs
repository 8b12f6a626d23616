//! The endpoint's answers, byte for byte as SageMaker's k-means endpoint writes them: one
//! `closest_cluster` (a cluster index written as a float, `3.0`) and one `distance_to_cluster`
//! (a float32 distance written as the double it widens to, `23.40593910217285`) per row.

use super::write_float_repr;

/// An answer's media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerFormat {
    /// `text/csv`: `closest_cluster,distance_to_cluster` per line.
    Csv,
    /// `application/json`: `{"predictions":[{"closest_cluster":1.0,"distance_to_cluster":3.0},...]}`.
    Json,
    /// `application/jsonlines`: `{"distance_to_cluster": 3.0, "closest_cluster": 1.0}` per line
    /// (SageMaker's key order and spacing).
    JsonLines,
}

/// Writes the answer for rows whose closest clusters and distances are given.
///
/// # Panics
///
/// If `closest_cluster` and `distance_to_cluster` differ in length.
///
/// ```
/// use fastkmeans_io::text::{write_answers, AnswerFormat};
///
/// let json = write_answers(&[1, 0], &[3.0, 0.1], AnswerFormat::Json);
/// assert_eq!(
///     String::from_utf8(json).unwrap(),
///     r#"{"predictions":[{"closest_cluster":1.0,"distance_to_cluster":3.0},{"closest_cluster":0.0,"distance_to_cluster":0.10000000149011612}]}"#
/// );
/// assert_eq!(write_answers(&[2], &[0.5], AnswerFormat::Csv), b"2.0,0.5\n");
/// ```
pub fn write_answers(closest_cluster: &[i32], distance_to_cluster: &[f32], format: AnswerFormat) -> Vec<u8> {
    assert_eq!(closest_cluster.len(), distance_to_cluster.len(), "one cluster and one distance a row");
    let n = closest_cluster.len();
    let mut out = Vec::with_capacity(32 + n * 64);
    let rows = closest_cluster.iter().zip(distance_to_cluster);
    match format {
        AnswerFormat::Csv => {
            for (&cluster, &distance) in rows {
                write_float_repr(f64::from(cluster), &mut out);
                out.push(b',');
                write_float_repr(f64::from(distance), &mut out);
                out.push(b'\n');
            }
        }
        AnswerFormat::Json => {
            out.extend_from_slice(b"{\"predictions\":[");
            for (i, (&cluster, &distance)) in rows.enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"closest_cluster\":");
                write_float_repr(f64::from(cluster), &mut out);
                out.extend_from_slice(b",\"distance_to_cluster\":");
                write_float_repr(f64::from(distance), &mut out);
                out.push(b'}');
            }
            out.extend_from_slice(b"]}");
        }
        AnswerFormat::JsonLines => {
            for (&cluster, &distance) in rows {
                out.extend_from_slice(b"{\"distance_to_cluster\": ");
                write_float_repr(f64::from(distance), &mut out);
                out.extend_from_slice(b", \"closest_cluster\": ");
                write_float_repr(f64::from(cluster), &mut out);
                out.extend_from_slice(b"}\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_keep_sagemakers_key_order_and_spacing() {
        let out = write_answers(&[0, 7], &[1e-5, 2.0], AnswerFormat::JsonLines);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"distance_to_cluster\": 9.999999747378752e-06, \"closest_cluster\": 0.0}\n\
             {\"distance_to_cluster\": 2.0, \"closest_cluster\": 7.0}\n"
        );
    }

    #[test]
    fn no_rows_is_an_empty_list() {
        assert_eq!(write_answers(&[], &[], AnswerFormat::Json), b"{\"predictions\":[]}");
        assert!(write_answers(&[], &[], AnswerFormat::Csv).is_empty());
    }
}
