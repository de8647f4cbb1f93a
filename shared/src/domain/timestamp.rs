//! Timestamps: stored as epoch milliseconds (`BIGINT`), shown as RFC 3339 UTC with milliseconds.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{format_description::well_known::Rfc3339, macros::format_description, OffsetDateTime};

/// A point in time with millisecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time, truncated to milliseconds.
    pub fn now() -> Self {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        Self((nanos / 1_000_000) as i64)
    }

    /// From epoch milliseconds.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Epoch milliseconds.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// This time plus `duration`.
    pub fn plus(self, duration: std::time::Duration) -> Self {
        Self(self.0.saturating_add(duration.as_millis() as i64))
    }

    /// This time minus `duration`.
    pub fn minus(self, duration: std::time::Duration) -> Self {
        Self(self.0.saturating_sub(duration.as_millis() as i64))
    }

    /// The time from `earlier` to this one (zero if `earlier` is later).
    pub fn since(self, earlier: Self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// RFC 3339 UTC with exactly three fractional digits, e.g. `2026-11-23T22:00:00.123Z`.
    pub fn to_rfc3339(self) -> String {
        const FORMAT: &[time::format_description::FormatItem<'static>] = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(FORMAT).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
    }

    /// Parses an RFC 3339 time (any offset), truncated to milliseconds.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        Some(Self(t.unix_timestamp_nanos().div_euclid(1_000_000) as i64))
    }

    /// Parses an RFC 3339 time (any offset), rounded up to the next millisecond: the earliest
    /// stored time that is not before it (for "at or after" filters).
    pub fn parse_rfc3339_ceil(text: &str) -> Option<Self> {
        let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        let nanos = t.unix_timestamp_nanos();
        Some(Self(
            nanos.div_euclid(1_000_000) as i64 + i64::from(nanos.rem_euclid(1_000_000) != 0),
        ))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse_rfc3339(&text).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 time"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_and_round_trips() {
        let t = Timestamp::from_millis(1_795_471_200_123);
        assert_eq!(t.to_rfc3339(), "2026-11-23T22:00:00.123Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Some(t));
    }

    #[test]
    fn ceil_parsing_rounds_sub_millisecond_times_up() {
        let at = |text| Timestamp::parse_rfc3339_ceil(text).map(Timestamp::millis);
        assert_eq!(at("2026-11-23T22:00:00.123Z"), Some(1_795_471_200_123));
        assert_eq!(at("2026-11-23T22:00:00.1231Z"), Some(1_795_471_200_124));
        assert_eq!(at("2026-11-23T23:00:00.123+01:00"), Some(1_795_471_200_123));
        assert_eq!(at("1969-12-31T23:59:59.9995Z"), Some(0));
        assert_eq!(at("yesterday"), None);
    }
}
