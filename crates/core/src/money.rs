//! Integer money and exact ratios (SPEC §1).
//!
//! Money is `i64` micro-USD; fractions are [`Ppm`]. Formulas multiply in `i128`
//! and round once at their end: `⌊n/d⌋` ([`mul_div_floor`]) or half up,
//! `⌊(2n + d) / 2d⌋` ([`mul_div_round`]). When an `i128` product would
//! overflow, the same formula is evaluated with big integers, so the result is
//! always exact; only a result that does not fit `i128` is an error.

use crate::time::EpochId;
use num_bigint::BigInt;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use crate::CoreError;

/// One US dollar in micro-USD.
pub const MICRO_USD_PER_USD: i64 = 1_000_000;
/// One whole in parts per million.
pub const PPM_ONE: i64 = 1_000_000;

/// The largest amount, either sign, of one adjustment or clawback, and the
/// largest balance, either sign, an adjustment may leave an account at:
/// $1 000 000 000 (10¹⁵ µUSD). With the pool bounded as well
/// ([`MAX_POOL_MICRO_USD`]), a balance moves by at most 10¹⁵ per settled
/// month, so no balance comes near `i64::MAX` (≈ 9.2 · 10¹⁸) for thousands of
/// years of the largest pool: a settlement credit cannot overflow, and one
/// account's balance can never block a settlement.
pub const MAX_ADJUSTMENT_MICRO_USD: i64 = 1_000_000_000 * MICRO_USD_PER_USD;

/// Upper bound of `pool_micro_usd`: $1 000 000 000 a month (see
/// [`MAX_ADJUSTMENT_MICRO_USD`]).
pub const MAX_POOL_MICRO_USD: i64 = 1_000_000_000 * MICRO_USD_PER_USD;

/// A fraction in parts per million. Written in config as a decimal with at most
/// six places (`0.90` → 900 000); more places is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ppm(pub i64);

impl Ppm {
    pub const ZERO: Ppm = Ppm(0);
    pub const ONE: Ppm = Ppm(PPM_ONE);

    /// Parses a non-negative decimal (`"0.9"`, `"1"`, `"0.000001"`) exactly.
    pub fn parse_decimal(text: &str) -> Result<Ppm, String> {
        let text = text.trim();
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !(frac.is_empty() || digits(frac)) {
            return Err(format!("`{text}` is not a non-negative decimal number"));
        }
        if frac.len() > 6 {
            return Err(format!("`{text}` has more than 6 decimal places"));
        }
        let whole: i64 = whole
            .parse()
            .map_err(|_| format!("`{text}` is too large"))?;
        let mut frac_ppm: i64 = 0;
        for b in frac.bytes().chain(std::iter::repeat(b'0')).take(6) {
            frac_ppm = frac_ppm * 10 + i64::from(b - b'0');
        }
        whole
            .checked_mul(PPM_ONE)
            .and_then(|w| w.checked_add(frac_ppm))
            .map(Ppm)
            .ok_or_else(|| format!("`{text}` is too large"))
    }

    /// The decimal form, shortest exact (`900000` → `0.9`).
    pub fn to_decimal(self) -> String {
        let whole = self.0 / PPM_ONE;
        let frac = self.0 % PPM_ONE;
        if frac == 0 {
            return format!("{whole}.0");
        }
        let mut s = format!("{whole}.{frac:06}");
        while s.ends_with('0') {
            s.pop();
        }
        s
    }
}

impl fmt::Display for Ppm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_decimal())
    }
}

impl Serialize for Ppm {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // A JSON/TOML number with the exact decimal digits.
        let text = self.to_decimal();
        match text.parse::<f64>() {
            Ok(v) => s.serialize_f64(v),
            Err(_) => s.serialize_str(&text),
        }
    }
}

impl<'de> Deserialize<'de> for Ppm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ppm, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Ppm;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal fraction with at most 6 decimal places")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ppm, E> {
                Ppm::parse_decimal(&v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ppm, E> {
                Ppm::parse_decimal(&v.to_string()).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Ppm, E> {
                // Rust prints the shortest decimal that reads back as `v`, never
                // in exponent form, so `0.90` arrives here as "0.9" exactly.
                if !v.is_finite() {
                    return Err(E::custom("must be a finite number"));
                }
                Ppm::parse_decimal(&format!("{v}")).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ppm, E> {
                Ppm::parse_decimal(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// `⌊n/d⌋` for non-negative `n` and positive `d`.
pub fn floor_div(n: i128, d: i128) -> i128 {
    if d <= 0 {
        return 0;
    }
    n.div_euclid(d)
}

/// Half-up rounding of `n/d` for non-negative `n` and positive `d`: `⌊(2n + d) / 2d⌋`.
pub fn round_div(n: i128, d: i128, what: &'static str) -> Result<i128, CoreError> {
    if d <= 0 {
        return Ok(0);
    }
    match (
        n.checked_mul(2).and_then(|x| x.checked_add(d)),
        d.checked_mul(2),
    ) {
        (Some(num), Some(den)) => Ok(num.div_euclid(den)),
        _ => big_to_i128(
            (BigInt::from(n) * 2 + BigInt::from(d)) / (BigInt::from(d) * 2),
            what,
        ),
    }
}

fn product(factors: &[i128]) -> Option<i128> {
    factors.iter().try_fold(1i128, |acc, f| acc.checked_mul(*f))
}

fn big_product(factors: &[i128]) -> BigInt {
    factors
        .iter()
        .fold(BigInt::from(1), |acc, f| acc * BigInt::from(*f))
}

fn big_to_i128(v: BigInt, what: &'static str) -> Result<i128, CoreError> {
    i128::try_from(v).map_err(|_| CoreError::Overflow(what))
}

/// `⌊Π nums / Π dens⌋`, exact. All factors non-negative, dens positive.
pub fn mul_div_floor(nums: &[i128], dens: &[i128], what: &'static str) -> Result<i128, CoreError> {
    match (product(nums), product(dens)) {
        (Some(n), Some(d)) => Ok(floor_div(n, d)),
        _ => {
            let d = big_product(dens);
            if d <= BigInt::from(0) {
                return Ok(0);
            }
            big_to_i128(big_product(nums) / d, what)
        }
    }
}

/// `round(Π nums / Π dens)` half up, exact. All factors non-negative, dens positive.
pub fn mul_div_round(nums: &[i128], dens: &[i128], what: &'static str) -> Result<i128, CoreError> {
    match (product(nums), product(dens)) {
        (Some(n), Some(d)) => round_div(n, d, what),
        _ => {
            let n = big_product(nums);
            let d = big_product(dens);
            if d <= BigInt::from(0) {
                return Ok(0);
            }
            big_to_i128((n * 2 + &d) / (d * 2), what)
        }
    }
}

/// Narrows an `i128` result to money; out of range is an overflow error.
pub fn to_money(v: i128, what: &'static str) -> Result<i64, CoreError> {
    i64::try_from(v).map_err(|_| CoreError::Overflow(what))
}

/// `⌊amount · fraction⌋` in micro-USD, e.g. the reserve `⌊pool · workhorse_reserve⌋`.
pub fn apply_ppm(amount: i64, fraction: Ppm) -> i128 {
    floor_div(
        i128::from(amount) * i128::from(fraction.0),
        i128::from(PPM_ONE),
    )
}

/// D21: a period's portion of a monthly amount `x`: `⌊x · (e − S) / T⌋ −
/// ⌊x · (s − S) / T⌋` for the period `[s, e)` of the month `[S, E)`, `T = E
/// − S`. The portions of a month's periods sum to `x` exactly; a month's
/// portion of itself is `x`.
pub fn portion(x: i64, period: EpochId) -> i64 {
    let month = period.month_id();
    let (big_s, t) = (i128::from(month.start().0), i128::from(month.length_ms()));
    if t <= 0 {
        return 0;
    }
    let upto = |at: i64| floor_div(i128::from(x) * (i128::from(at) - big_s), t);
    // Both terms lie in [0, x] (0 ≤ at − S ≤ T), so the difference fits.
    i64::try_from(upto(period.end().0) - upto(period.start().0)).unwrap_or(0)
}

/// Greatest common divisor of two non-negative numbers.
pub fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

/// A non-negative exact ratio `num/den` (`den > 0`), kept reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub num: i128,
    pub den: i128,
}

impl Ratio {
    pub const ONE: Ratio = Ratio { num: 1, den: 1 };
    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };

    pub fn new(num: i128, den: i128) -> Ratio {
        if den <= 0 || num <= 0 {
            return Ratio::ZERO;
        }
        let g = gcd(num, den);
        Ratio {
            num: num / g,
            den: den / g,
        }
    }

    /// Clamps into `[0, 1]`.
    pub fn clamp_unit(self) -> Ratio {
        if self.num >= self.den {
            Ratio::ONE
        } else {
            self
        }
    }

    /// Exact comparison by cross-multiplication (big integers on overflow).
    pub fn cmp_exact(&self, other: &Ratio) -> std::cmp::Ordering {
        match (
            self.num.checked_mul(other.den),
            other.num.checked_mul(self.den),
        ) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => (BigInt::from(self.num) * BigInt::from(other.den))
                .cmp(&(BigInt::from(other.num) * BigInt::from(self.den))),
        }
    }

    pub fn min(self, other: Ratio) -> Ratio {
        if self.cmp_exact(&other) == std::cmp::Ordering::Greater {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppm_parses_exact_decimals() {
        assert_eq!(Ppm::parse_decimal("0.90"), Ok(Ppm(900_000)));
        assert_eq!(Ppm::parse_decimal("1"), Ok(Ppm(1_000_000)));
        assert_eq!(Ppm::parse_decimal("0.000001"), Ok(Ppm(1)));
        assert!(Ppm::parse_decimal("0.0000001").is_err());
        assert!(Ppm::parse_decimal("-0.1").is_err());
        assert!(Ppm::parse_decimal("abc").is_err());
        assert!(Ppm::parse_decimal("1e-3").is_err());
    }

    #[test]
    fn ppm_from_json_and_toml_numbers() {
        let v: Ppm = serde_json::from_str("0.95").unwrap();
        assert_eq!(v, Ppm(950_000));
        let v: Result<Ppm, _> = serde_json::from_str("0.1234567");
        assert!(v.is_err());
        assert_eq!(Ppm(900_000).to_decimal(), "0.9");
        assert_eq!(Ppm(1_000_000).to_decimal(), "1.0");
    }

    #[test]
    fn rounding_is_half_up_once() {
        // 5/2 = 2.5 → 3; 7/4 = 1.75 → 2; 5/4 = 1.25 → 1
        assert_eq!(round_div(5, 2, "t"), Ok(3));
        assert_eq!(round_div(7, 4, "t"), Ok(2));
        assert_eq!(round_div(5, 4, "t"), Ok(1));
        assert_eq!(mul_div_round(&[18_000_000, 1], &[2], "t"), Ok(9_000_000));
    }

    #[test]
    fn big_fallback_is_exact() {
        let huge = i128::MAX / 3;
        // (huge · 6) / (3 · 2) = huge, computed through big integers.
        assert_eq!(mul_div_floor(&[huge, 6], &[3, 2], "t"), Ok(huge));
        assert_eq!(mul_div_round(&[huge, 6], &[3, 2], "t"), Ok(huge));
        assert!(mul_div_floor(&[huge, 6], &[1], "t").is_err());
    }

    #[test]
    fn ratios_compare_exactly() {
        let a = Ratio::new(1, 3);
        let b = Ratio::new(333_333, 1_000_000);
        assert_eq!(a.cmp_exact(&b), std::cmp::Ordering::Greater);
        assert_eq!(Ratio::new(2, 4), Ratio::new(1, 2));
        assert_eq!(Ratio::new(5, 4).clamp_unit(), Ratio::ONE);
    }
}
