//! Column typing: which columns are measures, which are time, which are categories, and how
//! many distinct values each has.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::table::{Cell, Table};

/// The granularity of a temporal column's values (and of a time bucket).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Timestamps.
    DateTime,
    /// Calendar days.
    Day,
    /// Months (`2025-01`, `Jan 2025`).
    Month,
    /// Quarters (`2025-Q1`).
    Quarter,
    /// Years.
    Year,
}

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Numbers that can be summed or averaged (a measure).
    Numeric,
    /// Points in time of the given granularity.
    Temporal(TimeUnit),
    /// Labels (text, ids, or numbers that only name things).
    Categorical,
}

/// What inference knows about one column.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnProfile {
    /// Column name.
    pub name: String,
    /// Its type.
    pub kind: ColumnKind,
    /// Distinct non-null values.
    pub cardinality: usize,
    /// Non-null values.
    pub non_null: usize,
    /// Longest value as text, in characters.
    pub max_chars: usize,
    /// Whether every numeric value is ≥ 0 (true for non-numeric columns).
    pub non_negative: bool,
}

/// Profiles every column of `table`.
pub fn profile(table: &Table) -> Vec<ColumnProfile> {
    table
        .columns()
        .iter()
        .enumerate()
        .map(|(i, name)| profile_column(name, table.column(i)))
        .collect()
}

fn profile_column<'a>(name: &str, cells: impl Iterator<Item = &'a Cell>) -> ColumnProfile {
    let cells: Vec<&Cell> = cells.filter(|c| !matches!(c, Cell::Null)).collect();
    let mut distinct: HashSet<String> = HashSet::new();
    let mut max_chars = 0;
    for c in &cells {
        let t = c.text().unwrap_or_default();
        max_chars = max_chars.max(t.chars().count());
        distinct.insert(t);
    }
    let all_numbers = !cells.is_empty() && cells.iter().all(|c| c.number().is_some());
    let non_negative = cells.iter().all(|c| c.number().is_none_or(|n| n >= 0.0));
    let kind = if all_numbers {
        numeric_kind(name, &cells)
    } else if !cells.is_empty() {
        temporal_unit(&cells).map_or(ColumnKind::Categorical, ColumnKind::Temporal)
    } else {
        ColumnKind::Categorical
    };
    ColumnProfile {
        name: name.to_owned(),
        kind,
        cardinality: distinct.len(),
        non_null: cells.len(),
        max_chars,
        non_negative,
    }
}

/// Numbers are measures, except years (a `year` column of plausible years) and identifiers.
fn numeric_kind(name: &str, cells: &[&Cell]) -> ColumnKind {
    let words = name_words(name);
    let integers = || {
        cells
            .iter()
            .filter_map(|c| c.number())
            .all(|n| n.fract() == 0.0)
    };
    let has = |w: &str| words.iter().any(|x| x == w);
    if (has("year") || has("yr"))
        && integers()
        && cells
            .iter()
            .filter_map(|c| c.number())
            .all(|n| (1000.0..=2999.0).contains(&n))
    {
        return ColumnKind::Temporal(TimeUnit::Year);
    }
    let ordinal = ["month", "quarter", "week", "weekday", "day", "hour", "rank"];
    let identifier = has("id") || has("code") || has("zip") || has("postcode") || has("phone");
    if integers() && (identifier || ordinal.iter().any(|w| words.last().is_some_and(|x| x == w))) {
        return ColumnKind::Categorical;
    }
    ColumnKind::Numeric
}

/// `total_revenue` → `["total", "revenue"]`; `orderId` → `["order", "id"]`.
pub(crate) fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if !ch.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
        cur.extend(ch.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// The finest unit every value of the column parses as, or `None` when one does not.
fn temporal_unit(cells: &[&Cell]) -> Option<TimeUnit> {
    let mut finest: Option<TimeUnit> = None;
    for c in cells {
        let Cell::Text(t) = c else { return None };
        let (at, unit) = parse_time(t)?;
        let unit = effective_unit(at, unit);
        finest = Some(finest.map_or(unit, |f| f.min(unit)));
    }
    finest
}

/// The coarsest unit a value really has: SQL often writes months as `2025-01-01` or
/// `2025-01-01 00:00:00` (`date_trunc('month', …)`), which should read as months.
fn effective_unit(at: NaiveDateTime, unit: TimeUnit) -> TimeUnit {
    let midnight = at.time() == chrono::NaiveTime::MIN;
    match unit {
        TimeUnit::DateTime if !midnight => TimeUnit::DateTime,
        TimeUnit::DateTime | TimeUnit::Day if at.day() == 1 => TimeUnit::Month,
        TimeUnit::DateTime => TimeUnit::Day,
        other => other,
    }
}

/// A temporal value: its instant (for ordering and bucketing) and granularity.
pub fn parse_time(raw: &str) -> Option<(NaiveDateTime, TimeUnit)> {
    let t = raw.trim();
    if t.len() < 4 || t.len() > 40 {
        return None;
    }
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0);
    for fmt in ["%Y-%m-%d", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, fmt) {
            return midnight(d).map(|x| (x, TimeUnit::Day));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some((d, TimeUnit::DateTime));
        }
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some((d.naive_utc(), TimeUnit::DateTime));
    }
    if let Some(d) = t
        .strip_suffix(" UTC")
        .or_else(|| t.strip_suffix("+00"))
        .and_then(|s| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok())
    {
        return Some((d, TimeUnit::DateTime));
    }
    // Months: 2025-01, 2025/01, Jan 2025, January 2025, 2025-Jan.
    if t.len() == 7
        && let Some(sep) = t.get(4..5)
    {
        let fmt = if sep == "/" { "%Y/%m/%d" } else { "%Y-%m-%d" };
        if let Ok(d) = NaiveDate::parse_from_str(&format!("{t}{sep}01"), fmt) {
            return midnight(d).map(|x| (x, TimeUnit::Month));
        }
    }
    if let Some(d) = month_text(t) {
        return midnight(d).map(|x| (x, TimeUnit::Month));
    }
    if let Some(d) = quarter(t) {
        return midnight(d).map(|x| (x, TimeUnit::Quarter));
    }
    None
}

fn month_text(t: &str) -> Option<NaiveDate> {
    for fmt in ["%d %b %Y", "%d %B %Y", "%d %Y-%b", "%d %Y %b", "%d %b-%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(&format!("1 {t}"), fmt) {
            return Some(d);
        }
    }
    None
}

/// `2025-Q1`, `2025 Q1`, `Q1 2025`, `2025Q1`.
fn quarter(t: &str) -> Option<NaiveDate> {
    let up = t.to_ascii_uppercase().replace([' ', '-'], "");
    let (year, q) = if let Some(rest) = up.strip_prefix('Q') {
        let (q, y) = rest.split_at(1.min(rest.len()));
        (y.to_owned(), q.to_owned())
    } else {
        let (y, q) = up.split_once('Q')?;
        (y.to_owned(), q.to_owned())
    };
    let year: i32 = year.parse().ok()?;
    let q: u32 = q.parse().ok()?;
    if !(1..=4).contains(&q) || !(1000..=2999).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, (q - 1) * 3 + 1, 1)
}

/// The instant of a temporal cell of a column of `unit` (numbers are years).
pub fn time_of(cell: &Cell, unit: TimeUnit) -> Option<NaiveDateTime> {
    match cell {
        Cell::Number(n) if unit == TimeUnit::Year => {
            NaiveDate::from_ymd_opt(*n as i32, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0))
        }
        Cell::Text(t) => parse_time(t).map(|(d, _)| d),
        _ => None,
    }
}

/// The start of the `unit` bucket holding `t`.
pub fn bucket(t: NaiveDateTime, unit: TimeUnit) -> NaiveDateTime {
    let d = t.date();
    let start = match unit {
        TimeUnit::DateTime => return t,
        TimeUnit::Day => Some(d),
        TimeUnit::Month => NaiveDate::from_ymd_opt(d.year(), d.month(), 1),
        TimeUnit::Quarter => NaiveDate::from_ymd_opt(d.year(), (d.month0() / 3) * 3 + 1, 1),
        TimeUnit::Year => NaiveDate::from_ymd_opt(d.year(), 1, 1),
    };
    start.and_then(|s| s.and_hms_opt(0, 0, 0)).unwrap_or(t)
}

/// How a bucket start reads on an axis.
pub fn time_label(t: NaiveDateTime, unit: TimeUnit) -> String {
    match unit {
        TimeUnit::DateTime => t.format("%Y-%m-%d %H:%M").to_string(),
        TimeUnit::Day => t.format("%Y-%m-%d").to_string(),
        TimeUnit::Month => t.format("%Y-%m").to_string(),
        TimeUnit::Quarter => format!("{}-Q{}", t.year(), t.month0() / 3 + 1),
        TimeUnit::Year => t.year().to_string(),
    }
}

impl TimeUnit {
    /// The next coarser unit, for resampling.
    pub fn coarser(self) -> Option<Self> {
        match self {
            Self::DateTime => Some(Self::Day),
            Self::Day => Some(Self::Month),
            Self::Month => Some(Self::Quarter),
            Self::Quarter => Some(Self::Year),
            Self::Year => None,
        }
    }

    /// An adjective for subtitles ("monthly").
    pub fn adjective(self) -> &'static str {
        match self {
            Self::DateTime => "exact",
            Self::Day => "daily",
            Self::Month => "monthly",
            Self::Quarter => "quarterly",
            Self::Year => "yearly",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn kinds(csv: &str) -> Vec<ColumnKind> {
        profile(&Table::parse(csv.as_bytes()).unwrap())
            .into_iter()
            .map(|p| p.kind)
            .collect()
    }

    #[test]
    fn columns_are_typed() {
        use ColumnKind::*;
        assert_eq!(
            kinds("month,revenue,name,customer_id,year,day\n2025-01,1.5,a,7,2024,2025-01-03\n"),
            [
                Temporal(TimeUnit::Month),
                Numeric,
                Categorical,
                Categorical,
                Temporal(TimeUnit::Year),
                Temporal(TimeUnit::Day)
            ]
        );
        assert_eq!(
            kinds("q,m,t,x\n2025-Q1,Jan 2025,2025-01-03T10:00:00Z,2024\n"),
            [
                Temporal(TimeUnit::Quarter),
                Temporal(TimeUnit::Month),
                Temporal(TimeUnit::DateTime),
                Numeric
            ]
        );
        assert_eq!(kinds("a\n2025-01\nsoon\n"), [Categorical]);
        // What SQL engines print for dates, timestamps and truncated months.
        assert_eq!(
            kinds(
                "a,b,c,d,e\n2025-01-01 00:00:00,2025-03-01T00:00:00.000Z,2025-01-05 00:00:00+00,\
                 2025-01-05 10:30:00,2025-02-01\n2025-02-01 00:00:00,2025-04-01T00:00:00.000Z,\
                 2025-01-06 00:00:00+00,2025-01-05T11:00:00,2025-03-01\n"
            ),
            [
                Temporal(TimeUnit::Month),
                Temporal(TimeUnit::Month),
                Temporal(TimeUnit::Day),
                Temporal(TimeUnit::DateTime),
                Temporal(TimeUnit::Month)
            ]
        );
    }

    #[test]
    fn buckets_and_labels() {
        let (t, u) = parse_time("2025-05-17").unwrap();
        assert_eq!(u, TimeUnit::Day);
        assert_eq!(
            time_label(bucket(t, TimeUnit::Month), TimeUnit::Month),
            "2025-05"
        );
        assert_eq!(
            time_label(bucket(t, TimeUnit::Quarter), TimeUnit::Quarter),
            "2025-Q2"
        );
        assert_eq!(name_words("orderId"), ["order", "id"]);
        assert_eq!(name_words("total_revenue"), ["total", "revenue"]);
    }
}
