use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An amount of yuan, exact to the fen.
///
/// In code and in the API it is a `rust_decimal` (JSON: the string `"680.00"`); in the database
/// it is `i64` fen on both engines, so no float and no engine-specific NUMERIC handling ever
/// touches an amount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount has more than two decimal places")]
    TooPrecise,
    #[error("amount is out of range")]
    OutOfRange,
    #[error("not a decimal amount")]
    NotANumber,
}

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Builds an amount, refusing anything finer than a fen rather than silently rounding.
    pub fn new(value: Decimal) -> Result<Self, MoneyError> {
        let normalized = value.normalize();
        if normalized.scale() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        // Keep every amount inside what i64 fen can hold so that storing never fails later.
        let fen = (value * Decimal::ONE_HUNDRED).trunc();
        if i64::try_from(fen).is_err() {
            return Err(MoneyError::OutOfRange);
        }
        let mut v = value;
        v.rescale(2);
        Ok(Money(v))
    }

    pub fn from_fen(fen: i64) -> Self {
        Money(Decimal::new(fen, 2))
    }

    /// The amount in fen, for storage. Every `Money` was range-checked when built, and
    /// arithmetic is checked, so this cannot overflow.
    pub fn fen(&self) -> i64 {
        let scaled = (self.0 * Decimal::ONE_HUNDRED).trunc();
        i64::try_from(scaled).unwrap_or(if scaled.is_sign_negative() {
            i64::MIN
        } else {
            i64::MAX
        })
    }

    pub fn as_decimal(&self) -> Decimal {
        self.0
    }

    pub fn is_negative(&self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.fen()
            .checked_add(other.fen())
            .map(Money::from_fen)
            .ok_or(MoneyError::OutOfRange)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.fen()
            .checked_sub(other.fen())
            .map(Money::from_fen)
            .ok_or(MoneyError::OutOfRange)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d = Decimal::from_str_exact(s.trim()).map_err(|_| MoneyError::NotANumber)?;
        Money::new(d)
    }
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Only strings: a JSON number may already have passed through a float in the client.
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_two_places() {
        let m: Money = "680".parse().unwrap();
        assert_eq!(m.to_string(), "680.00");
        assert_eq!(m.fen(), 68000);
        assert_eq!(Money::from_fen(-5).to_string(), "-0.05");
    }

    #[test]
    fn refuses_fractions_of_a_fen() {
        assert_eq!("0.001".parse::<Money>(), Err(MoneyError::TooPrecise));
        assert_eq!("1.10".parse::<Money>().unwrap().fen(), 110);
        assert_eq!("abc".parse::<Money>(), Err(MoneyError::NotANumber));
        assert_eq!("1e3".parse::<Money>(), Err(MoneyError::NotANumber));
    }

    #[test]
    fn refuses_amounts_beyond_i64_fen() {
        assert_eq!(
            "99999999999999999999".parse::<Money>(),
            Err(MoneyError::OutOfRange)
        );
        let max = Money::from_fen(i64::MAX);
        assert_eq!(
            max.checked_add(Money::from_fen(1)),
            Err(MoneyError::OutOfRange)
        );
    }

    #[test]
    fn json_is_a_string_and_numbers_are_refused() {
        let m: Money = serde_json::from_str("\"12.30\"").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"12.30\"");
        assert!(serde_json::from_str::<Money>("12.3").is_err());
    }
}
