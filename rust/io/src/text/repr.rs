//! Floats spelled as Python's `repr` spells them: the shortest digits that read back as the same
//! double (ryu's, the same digits as Python's `float_repr_style = 'short'`), laid out as Python
//! lays them out: positional for decimal exponents from -4 to 15 with at least one digit after
//! the point (`3.0`, `0.0001`, `1000000000000000.0`), scientific otherwise with a signed exponent
//! of at least two digits (`1e-05`, `1e+16`, `1.5e+300`); `nan`, `inf`, `-inf`.

use std::io::Write;

/// Appends Python's `repr(value)` to `out`.
///
/// ```
/// use fastkmeans_io::text::write_float_repr;
///
/// let mut out = Vec::new();
/// for value in [3.0, 0.1 + 0.2, 1e16, 1e-5, -0.0, 123456.789e-12] {
///     write_float_repr(value, &mut out);
///     out.push(b' ');
/// }
/// assert_eq!(out, b"3.0 0.30000000000000004 1e+16 1e-05 -0.0 1.23456789e-07 ");
/// ```
pub fn write_float_repr(value: f64, out: &mut Vec<u8>) {
    if !value.is_finite() {
        out.extend_from_slice(if value.is_nan() {
            b"nan"
        } else if value > 0.0 {
            b"inf"
        } else {
            b"-inf"
        });
        return;
    }
    if value == 0.0 {
        out.extend_from_slice(if value.is_sign_negative() { b"-0.0" } else { b"0.0" });
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(value).as_bytes();
    let (negative, text) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    // ryu writes "123.45", "0.00012", "1.5e-7" or "1e16": take its digits and the decimal point's place.
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e') {
        Some(at) => (&text[..at], parse_exponent(&text[at + 1..])),
        None => (text, 0),
    };
    let integer_digits = mantissa.iter().position(|&b| b == b'.').unwrap_or(mantissa.len());
    let mut digits = [0u8; 32];
    let mut n = 0;
    for &b in mantissa.iter().filter(|&&b| b != b'.') {
        digits[n] = b;
        n += 1;
    }
    let first = digits[..n].iter().position(|&b| b != b'0').unwrap_or(0); // value is not 0
    while n > first + 1 && digits[n - 1] == b'0' {
        n -= 1; // "100.0" -> "1"
    }
    let digits = &digits[first..n];
    // The point's place relative to the first significant digit: value = 0.d1d2... * 10^decpt.
    let decpt = integer_digits as i32 - first as i32 + exponent;
    if negative {
        out.push(b'-');
    }
    if decpt <= -4 || decpt > 16 {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let e = decpt - 1;
        // Writing to a Vec cannot fail.
        let _ = write!(out, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.unsigned_abs());
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', decpt.unsigned_abs() as usize));
        out.extend_from_slice(digits);
    } else {
        let decpt = decpt as usize;
        if decpt >= digits.len() {
            out.extend_from_slice(digits);
            out.extend(std::iter::repeat_n(b'0', decpt - digits.len()));
            out.extend_from_slice(b".0");
        } else {
            out.extend_from_slice(&digits[..decpt]);
            out.push(b'.');
            out.extend_from_slice(&digits[decpt..]);
        }
    }
}

fn parse_exponent(text: &[u8]) -> i32 {
    let (sign, digits) = match text {
        [b'-', rest @ ..] => (-1, rest),
        [b'+', rest @ ..] => (1, rest),
        _ => (1, text),
    };
    sign * digits.iter().fold(0i32, |e, &d| e * 10 + i32::from(d - b'0'))
}

#[cfg(test)]
mod tests {
    use super::write_float_repr;

    fn repr(value: f64) -> String {
        let mut out = Vec::new();
        write_float_repr(value, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn spells_as_python() {
        // Each pair: a value and Python 3's repr of it.
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (100.0, "100.0"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (9999999999999998.0, "9999999999999998.0"),
            (1e22, "1e+22"),
            (1e100, "1e+100"),
            (-1e-100, "-1e-100"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (23.40593910217285, "23.40593910217285"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for &(value, expected) in cases {
            assert_eq!(repr(value), expected, "{value:e}");
        }
    }
}
