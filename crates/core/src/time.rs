//! Timestamps: UTC, serialised the way the seeds show them (`2026-01-12T21:53:33.204Z`).

use chrono::{DateTime, SecondsFormat, Utc};

/// The current time, truncated to microseconds so it survives a store round trip unchanged.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    let micros = now.timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or(now)
}

/// Fixed-width text form (microseconds, `Z`) that sorts in time order; used by stores.
pub fn to_sortable(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a stored or wire timestamp (any RFC 3339 form).
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Formats `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` into a stack buffer. Listings render two
/// timestamps per row, so this avoids chrono's general formatter and any allocation.
/// Years outside 0–9999 fall back to chrono.
fn write_wire<R>(t: &DateTime<Utc>, f: impl FnOnce(&str) -> R) -> R {
    let secs = t.timestamp();
    let nanos = t.timestamp_subsec_nanos();
    // Years 0000–9999 only; leap seconds (nanos ≥ 1e9) too are left to chrono.
    if !(-62_167_219_200..253_402_300_800).contains(&secs) || nanos >= 1_000_000_000 {
        return f(&t.to_rfc3339_opts(SecondsFormat::Millis, true));
    }
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    let mut buf = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, value: u32, digits: usize| {
        let mut v = value;
        for i in (0..digits).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, sod / 3600, 2);
    put(14, sod / 60 % 60, 2);
    put(17, sod % 60, 2);
    put(20, nanos / 1_000_000, 3);
    f(std::str::from_utf8(&buf).unwrap_or_default())
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian), by Howard
/// Hinnant's `civil_from_days`; valid for the years `write_wire` formats.
fn civil_from_days(days: i64) -> (u32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as u32, month as u32, day as u32)
}

/// Serde adapter: RFC 3339 with milliseconds and `Z`, as on the wire of every surface.
pub mod wire {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        super::write_wire(t, |text| s.serialize_str(text))
    }

    /// Accepts any RFC 3339 timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        super::parse(&s).ok_or_else(|| serde::de::Error::custom("invalid RFC 3339 timestamp"))
    }

    /// The same for optional timestamps.
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        /// Serialises `Some(t)` like [`super::serialize`], `None` as null.
        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        /// Accepts null or any RFC 3339 timestamp.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(s) => super::super::parse(&s)
                    .map(Some)
                    .ok_or_else(|| serde::de::Error::custom("invalid RFC 3339 timestamp")),
                None => Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortable_form_round_trips_and_sorts() {
        let a = now();
        let b = a + chrono::Duration::microseconds(1);
        assert_eq!(parse(&to_sortable(&a)), Some(a));
        assert!(to_sortable(&a) < to_sortable(&b));
        assert_eq!(to_sortable(&a).len(), "2026-01-12T21:53:33.204000Z".len());
    }

    #[test]
    fn wire_form_matches_chrono_for_every_millisecond_shape() {
        let samples = [
            "2026-01-12T21:53:33.204Z",
            "0001-02-03T04:05:06.007Z",
            "9999-12-31T23:59:59.999Z",
            "2024-02-29T00:00:00.000Z",
        ];
        for s in samples {
            let t = parse(s).unwrap_or_default();
            let ours = write_wire(&t, str::to_owned);
            assert_eq!(ours, t.to_rfc3339_opts(SecondsFormat::Millis, true));
            assert_eq!(ours, s);
        }
        let now = now();
        assert_eq!(
            write_wire(&now, str::to_owned),
            now.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        // Every day of four centuries, against chrono.
        let mut t = parse("1900-01-01T00:00:00.123Z").unwrap_or_default();
        for _ in 0..(400 * 366) {
            assert_eq!(
                write_wire(&t, str::to_owned),
                t.to_rfc3339_opts(SecondsFormat::Millis, true)
            );
            t += chrono::Duration::seconds(86_399);
        }
        let far = DateTime::from_timestamp(253_402_300_800, 0).unwrap_or_default();
        assert_eq!(chrono::Datelike::year(&far), 10000);
        assert_eq!(
            write_wire(&far, str::to_owned),
            far.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
    }
}
