//! [`Num`]: a number exactly as the scenario wrote it, so that validation can
//! say `must be ≥ 0` or `more than 6 decimal places` about the key, rather
//! than a deserializer's generic complaint.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::fmt;

use floorline_core::money::Ppm;

/// A TOML integer or float, kept as its shortest exact decimal text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Num(String);

impl Num {
    /// A whole number.
    pub fn integer(&self) -> Result<i64, String> {
        let t = self.0.as_str();
        if t.starts_with('-') && t.len() > 1 && t != "-0" && !t.contains('.') {
            // Negative integers parse; the caller decides whether they are allowed.
            return t
                .parse::<i64>()
                .map_err(|_| format!("`{t}` is out of range"));
        }
        match t.strip_suffix(".0").unwrap_or(t).parse::<i64>() {
            Ok(v) => Ok(v),
            Err(_) if t.contains('.') || t.contains('e') => {
                Err(format!("must be a whole number, not `{t}`"))
            }
            Err(_) => Err(format!("`{t}` is out of range")),
        }
    }

    /// A non-negative decimal with at most 6 places, as ppm.
    pub fn fraction(&self) -> Result<Ppm, String> {
        let t = self.0.as_str();
        if t.starts_with('-') {
            return if t.trim_start_matches(['-', '0', '.']).is_empty() {
                Ok(Ppm::ZERO)
            } else {
                Err("must be ≥ 0".into())
            };
        }
        Ppm::parse_decimal(t)
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Num, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                if !v.is_finite() {
                    return Err(E::custom("must be a finite number"));
                }
                // Rust prints the shortest decimal that reads back as `v`, never
                // in exponent form: `0.90` arrives as "0.9".
                Ok(Num(format!("{v}")))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: toml::Value) -> Num {
        Num::deserialize(v).unwrap()
    }

    #[test]
    fn integers_and_fractions() {
        assert_eq!(num(toml::Value::Integer(600)).integer(), Ok(600));
        assert_eq!(num(toml::Value::Float(3.0)).integer(), Ok(3));
        assert!(num(toml::Value::Float(3.5)).integer().is_err());
        assert_eq!(num(toml::Value::Integer(-2)).integer(), Ok(-2));
        assert_eq!(num(toml::Value::Float(0.9)).fraction(), Ok(Ppm(900_000)));
        assert_eq!(num(toml::Value::Integer(2)).fraction(), Ok(Ppm(2_000_000)));
        assert_eq!(
            num(toml::Value::Float(-0.1)).fraction(),
            Err("must be ≥ 0".into())
        );
        assert!(num(toml::Value::Float(0.1234567)).fraction().is_err());
        assert!(Num::deserialize(toml::Value::String("1".into())).is_err());
    }
}
