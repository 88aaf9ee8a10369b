//! Type resolution of plain scalars under the YAML 1.2 core schema.
//!
//! Only *plain* (unquoted) scalars are resolved; quoted and block scalars are always
//! strings. The rules are those of the core schema (YAML 1.2.2, section 10.3.2):
//!
//! | type  | plain text                                                               |
//! |-------|--------------------------------------------------------------------------|
//! | null  | empty, `null`, `Null`, `NULL`, `~`                                       |
//! | bool  | `true`, `True`, `TRUE`, `false`, `False`, `FALSE`                        |
//! | int   | `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`                              |
//! | float | `[-+]?(\.[0-9]+\|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?.inf`, `.nan` |
//!
//! Everything else is a string. YAML 1.1 spellings such as `yes`, `on` or `0777` are
//! strings (or, for `0777`, the decimal integer 777), as the 1.2 core schema says.

/// The value a plain scalar resolves to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Resolved<'a> {
    /// `null`, `~` or empty.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits in an `i128`.
    Int(i128),
    /// A float, or an integer too large for an `i128` (approximated).
    Float(f64),
    /// Anything else: the text itself.
    Str(&'a str),
}

/// Resolves the text of a plain scalar.
pub(crate) fn resolve_plain(text: &str) -> Resolved<'_> {
    // Numbers start with a digit, a sign or `.`: a scalar starting with a letter is a
    // null, a bool or a string.
    if text.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) {
        return word(text).unwrap_or(Resolved::Str(text));
    }
    // Most numbers are a few decimal digits (ports, counts): read at once. Eighteen
    // digits fit an `i64`; a longer or other number takes the general way.
    let b = text.as_bytes();
    if (1..=18).contains(&b.len()) && b.iter().all(u8::is_ascii_digit) {
        let n = b.iter().fold(0i64, |n, c| n * 10 + i64::from(c - b'0'));
        return Resolved::Int(i128::from(n));
    }
    resolve_any(text)
}

/// The nulls, bools and not-a-number of the core schema.
fn word(text: &str) -> Option<Resolved<'static>> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Some(Resolved::Null),
        "true" | "True" | "TRUE" => Some(Resolved::Bool(true)),
        "false" | "False" | "FALSE" => Some(Resolved::Bool(false)),
        ".nan" | ".NaN" | ".NAN" => Some(Resolved::Float(f64::NAN)),
        _ => None,
    }
}

/// [`resolve_plain`] without its shortcut for strings.
fn resolve_any(text: &str) -> Resolved<'_> {
    if let Some(r) = word(text) {
        return r;
    }
    if let Some(r) = resolve_int(text) {
        return r;
    }
    if let Some(f) = resolve_float(text) {
        return Resolved::Float(f);
    }
    Resolved::Str(text)
}

/// The integer forms: decimal with an optional sign, `0o` octal and `0x` hexadecimal.
fn resolve_int(text: &str) -> Option<Resolved<'_>> {
    let (digits, radix, negative) = if let Some(hex) = text.strip_prefix("0x") {
        (hex, 16, false)
    } else if let Some(oct) = text.strip_prefix("0o") {
        (oct, 8, false)
    } else if let Some(rest) = text.strip_prefix('-') {
        (rest, 10, true)
    } else {
        (text.strip_prefix('+').unwrap_or(text), 10, false)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    // `digits` holds only ASCII digits of the radix, so parsing fails only on overflow.
    match i128::from_str_radix(digits, radix) {
        Ok(v) => Some(Resolved::Int(if negative { -v } else { v })),
        Err(_) => {
            // Too large for an i128: keep the magnitude as a float, like JSON parsers do.
            let mut f = 0f64;
            for c in digits.chars() {
                f = f * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0));
            }
            Some(Resolved::Float(if negative { -f } else { f }))
        }
    }
}

/// The float forms of the core schema (integers have been tried before).
fn resolve_float(text: &str) -> Option<f64> {
    let (sign, body) = match text.as_bytes().first() {
        Some(b'-') => (-1.0, &text[1..]),
        Some(b'+') => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return Some(sign * f64::INFINITY);
    }
    let b = body.as_bytes();
    let mut i = 0;
    let int_digits = count_digits(&b[i..]);
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = count_digits(&b[i..]);
        i += frac_digits;
    } else if int_digits == 0 {
        return None;
    }
    // `[0-9]+(\.[0-9]*)?` or `\.[0-9]+`: a lone `.` is not a number.
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = count_digits(&b[i..]);
        if exp_digits == 0 {
            return None;
        }
        i += exp_digits;
    }
    if i != b.len() {
        return None;
    }
    // Rust's float syntax accepts every string matched above.
    text.parse::<f64>().ok()
}

fn count_digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortcut for strings agrees with the full resolution on every first byte.
    #[test]
    fn the_string_shortcut_agrees_with_every_form() {
        let rests = [
            "", "ull", "ULL", "rue", "RUE", "alse", "ALSE", "x1f", "o17", "12", ".5", "e3", "inf",
            "nan", "~", "-1", "+1", "abc", ":x",
        ];
        for first in 0u8..0x80 {
            for rest in rests {
                let text = format!("{}{rest}", char::from(first));
                // Compared as written out: `NaN` is not equal to itself.
                let (fast, full) = (resolve_plain(&text), resolve_any(&text));
                assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{text:?}");
            }
        }
    }

    /// The decimal shortcut (up to eighteen digits) gives what the general way gives, at
    /// its bounds and around them, leading zeros included.
    #[test]
    fn the_decimal_shortcut_agrees_with_the_general_way() {
        let texts = [
            "0",
            "7",
            "00",
            "0777",
            "53",
            "65535",
            "999999999999999999",
            "000000000000000001",
            "1000000000000000000",
            "9223372036854775807",
            "9223372036854775808",
            "99999999999999999999999999999999999999999",
            "",
            "1a",
            "12 ",
        ];
        for text in texts {
            let (fast, full) = (resolve_plain(text), resolve_any(text));
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{text:?}");
        }
    }

    #[test]
    fn core_schema_nulls_and_bools() {
        for t in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(resolve_plain(t), Resolved::Null, "{t}");
        }
        assert_eq!(resolve_plain("True"), Resolved::Bool(true));
        assert_eq!(resolve_plain("FALSE"), Resolved::Bool(false));
        for t in ["yes", "no", "on", "off", "nULL", "tRUE", "y"] {
            assert_eq!(resolve_plain(t), Resolved::Str(t), "{t}");
        }
    }

    #[test]
    fn core_schema_ints() {
        assert_eq!(resolve_plain("8080"), Resolved::Int(8080));
        assert_eq!(resolve_plain("-12"), Resolved::Int(-12));
        assert_eq!(resolve_plain("+12"), Resolved::Int(12));
        assert_eq!(resolve_plain("0777"), Resolved::Int(777));
        assert_eq!(resolve_plain("0o17"), Resolved::Int(15));
        assert_eq!(resolve_plain("0x1F"), Resolved::Int(31));
        assert_eq!(resolve_plain("0x"), Resolved::Str("0x"));
        assert_eq!(resolve_plain("0o8"), Resolved::Str("0o8"));
        assert_eq!(resolve_plain("-0x10"), Resolved::Str("-0x10"));
        assert_eq!(resolve_plain("1_000"), Resolved::Str("1_000"));
        assert_eq!(resolve_plain("8080/tcp"), Resolved::Str("8080/tcp"));
        let big = "9".repeat(60);
        assert!(matches!(resolve_plain(&big), Resolved::Float(f) if f > 1e59));
    }

    #[test]
    fn core_schema_floats() {
        assert_eq!(resolve_plain("1.5"), Resolved::Float(1.5));
        assert_eq!(resolve_plain("-.5"), Resolved::Float(-0.5));
        assert_eq!(resolve_plain("1."), Resolved::Float(1.0));
        assert_eq!(resolve_plain("1e3"), Resolved::Float(1000.0));
        assert_eq!(resolve_plain("2.5E-1"), Resolved::Float(0.25));
        assert_eq!(resolve_plain("-.inf"), Resolved::Float(f64::NEG_INFINITY));
        assert!(matches!(resolve_plain(".NaN"), Resolved::Float(f) if f.is_nan()));
        for t in [
            ".",
            "1e",
            "e3",
            "1.2.3",
            "10.0.0.0/8",
            "1.5x",
            "+",
            "-",
            ".e1",
            "inf",
        ] {
            assert_eq!(resolve_plain(t), Resolved::Str(t), "{t}");
        }
    }
}
