//! From a table and a spec to the points drawn: grouping, aggregation, time buckets, top-N,
//! sampling and bins. Both renderers draw the same [`ChartData`].

use std::collections::HashMap;

use serde::Serialize;

use crate::{
    error::ChartError,
    profile::{ColumnKind, bucket, profile, time_label, time_of},
    spec::{Aggregation, ChartSpec, ChartType, MAX_BINS},
    table::{Cell, Table, format_number},
};

/// Hard bound on x positions, whatever a spec asks for.
pub const MAX_X_POSITIONS: usize = 5_000;
/// Hard bound on series, whatever a spec asks for.
pub const HARD_MAX_SERIES: usize = 20;
/// Hard bound on scatter points, whatever a spec asks for.
pub const HARD_MAX_POINTS: usize = 5_000;

/// An x value: a label (category, time bucket, bin) or a number (scatter).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum XValue {
    /// A position on a category axis.
    Label(String),
    /// A position on a numeric axis.
    Number(f64),
}

/// One drawn value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// Where along x.
    pub x: XValue,
    /// The value.
    pub y: f64,
    /// Its series, when the chart has series.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
}

/// What the renderers draw.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChartData {
    /// Category/time/bin labels in axis order (empty for scatter).
    pub x_labels: Vec<String>,
    /// Series names in legend order (empty without series).
    pub series: Vec<String>,
    /// The points.
    pub points: Vec<Point>,
}

const EMPTY_LABEL: &str = "(empty)";

/// Reduces `table` to the points `spec` draws.
pub fn prepare(table: &Table, spec: &ChartSpec) -> Result<ChartData, ChartError> {
    let col = |name: &str| {
        table.index_of(name).ok_or_else(|| {
            ChartError::InvalidSpec(format!("the data has no column named {name:?}"))
        })
    };
    let xi = col(&spec.x)?;
    let yi = spec.y.as_deref().map(col).transpose()?;
    let si = spec.series.as_deref().map(col).transpose()?;
    let data = match spec.chart_type {
        ChartType::Scatter => scatter(table, spec, xi, yi, si)?,
        ChartType::Histogram => histogram(table, spec, xi)?,
        _ => grouped(table, spec, xi, yi, si)?,
    };
    if data.points.is_empty() {
        return Err(ChartError::Empty(format!(
            "no row has a value for {}{}",
            spec.x,
            spec.y
                .as_deref()
                .map(|y| format!(" and {y}"))
                .unwrap_or_default()
        )));
    }
    Ok(data)
}

fn series_label(row: &[Cell], si: Option<usize>) -> Option<String> {
    si.map(|i| row[i].text().unwrap_or_else(|| EMPTY_LABEL.into()))
}

fn scatter(
    table: &Table,
    spec: &ChartSpec,
    xi: usize,
    yi: Option<usize>,
    si: Option<usize>,
) -> Result<ChartData, ChartError> {
    let yi = yi.ok_or_else(|| ChartError::InvalidSpec("a scatter chart needs y".into()))?;
    let rows: Vec<&Vec<Cell>> = table
        .rows()
        .iter()
        .filter(|r| r[xi].number().is_some() && r[yi].number().is_some())
        .collect();
    let keep = spec
        .sample
        .unwrap_or(HARD_MAX_POINTS)
        .clamp(1, HARD_MAX_POINTS);
    let stride = rows.len().div_ceil(keep).max(1);
    let mut series: Vec<String> = Vec::new();
    let mut points = Vec::new();
    for r in rows.iter().step_by(stride) {
        let s = series_label(r, si);
        if let Some(s) = &s
            && !series.contains(s)
        {
            if series.len() == HARD_MAX_SERIES {
                continue;
            }
            series.push(s.clone());
        }
        points.push(Point {
            x: XValue::Number(r[xi].number().unwrap_or_default()),
            y: r[yi].number().unwrap_or_default(),
            series: s,
        });
    }
    Ok(ChartData {
        x_labels: Vec::new(),
        series,
        points,
    })
}

fn histogram(table: &Table, spec: &ChartSpec, xi: usize) -> Result<ChartData, ChartError> {
    let values: Vec<f64> = table.column(xi).filter_map(Cell::number).collect();
    if values.is_empty() {
        return Err(ChartError::Empty(format!("{} has no numbers", spec.x)));
    }
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let bins = if max > min {
        spec.bins.unwrap_or(10).clamp(1, MAX_BINS)
    } else {
        1
    };
    let width = if max > min {
        (max - min) / bins as f64
    } else {
        1.0
    };
    let mut counts = vec![0usize; bins];
    for v in &values {
        let i = (((v - min) / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    let x_labels: Vec<String> = (0..bins)
        .map(|i| {
            let lo = min + width * i as f64;
            if max > min {
                format!("{}–{}", short(lo), short(lo + width))
            } else {
                short(lo)
            }
        })
        .collect();
    let points = x_labels
        .iter()
        .zip(&counts)
        .map(|(l, c)| Point {
            x: XValue::Label(l.clone()),
            y: *c as f64,
            series: None,
        })
        .collect();
    Ok(ChartData {
        x_labels,
        series: Vec::new(),
        points,
    })
}

/// A bin edge with at most 3 significant decimals.
fn short(v: f64) -> String {
    let scale = if v.abs() >= 100.0 { 1.0 } else { 1000.0 };
    format_number((v * scale).round() / scale)
}

#[derive(Default)]
struct Acc {
    sum: f64,
    n: usize,
}

fn grouped(
    table: &Table,
    spec: &ChartSpec,
    xi: usize,
    yi: Option<usize>,
    si: Option<usize>,
) -> Result<ChartData, ChartError> {
    let profiles = profile(table);
    let x_kind = profiles[xi].kind;
    // x key: (time order or first-seen order, label).
    let mut x_order: Vec<(f64, String)> = Vec::new();
    let mut x_index: HashMap<String, usize> = HashMap::new();
    let mut series: Vec<String> = Vec::new();
    let mut acc: HashMap<(usize, Option<String>), Acc> = HashMap::new();
    let numeric_x = table.column(xi).all(|c| !matches!(c, Cell::Text(_)));
    for row in table.rows() {
        let (order, label) = match x_kind {
            ColumnKind::Temporal(unit) => {
                let Some(t) = time_of(&row[xi], unit) else {
                    continue;
                };
                let unit = spec.time_unit.unwrap_or(unit);
                let b = bucket(t, unit);
                (b.and_utc().timestamp() as f64, time_label(b, unit))
            }
            _ => match &row[xi] {
                Cell::Null => (f64::INFINITY, EMPTY_LABEL.to_owned()),
                cell => {
                    let label = cell.text().unwrap_or_default();
                    let order = if numeric_x {
                        cell.number().unwrap_or_default()
                    } else {
                        x_order.len() as f64
                    };
                    (order, label)
                }
            },
        };
        let y = match (spec.aggregation, yi) {
            (Aggregation::Count, _) | (_, None) => 1.0,
            (_, Some(i)) => match row[i].number() {
                Some(v) => v,
                None => continue,
            },
        };
        let x = match x_index.get(&label) {
            Some(i) => *i,
            None => {
                if x_order.len() == MAX_X_POSITIONS * 4 {
                    continue;
                }
                x_index.insert(label.clone(), x_order.len());
                x_order.push((order, label));
                x_order.len() - 1
            }
        };
        let s = series_label(row, si);
        if let Some(s) = &s
            && !series.contains(s)
        {
            series.push(s.clone());
        }
        let a = acc.entry((x, s)).or_default();
        a.sum += y;
        a.n += 1;
    }
    let value = |a: &Acc| match spec.aggregation {
        Aggregation::Mean => a.sum / a.n.max(1) as f64,
        _ => a.sum,
    };
    // Totals per x and per series, for top-N.
    let mut x_total = vec![0.0; x_order.len()];
    let mut s_total: HashMap<&str, f64> = HashMap::new();
    for ((x, s), a) in &acc {
        x_total[*x] += value(a).abs();
        if let Some(s) = s {
            *s_total.entry(s.as_str()).or_default() += value(a).abs();
        }
    }
    let series_cap = spec
        .max_series
        .unwrap_or(HARD_MAX_SERIES)
        .clamp(1, HARD_MAX_SERIES);
    let mut kept_series = series.clone();
    if kept_series.len() > series_cap {
        kept_series.sort_by(|a, b| {
            s_total
                .get(b.as_str())
                .unwrap_or(&0.0)
                .total_cmp(s_total.get(a.as_str()).unwrap_or(&0.0))
        });
        kept_series.truncate(series_cap);
        series.retain(|s| kept_series.contains(s));
    }
    let mut xs: Vec<usize> = (0..x_order.len()).collect();
    let time_like = matches!(x_kind, ColumnKind::Temporal(_)) || numeric_x;
    if time_like {
        xs.sort_by(|a, b| x_order[*a].0.total_cmp(&x_order[*b].0));
    }
    let pie = spec.chart_type == ChartType::Pie;
    let limit = spec.limit.map(|l| l.clamp(1, MAX_X_POSITIONS));
    let mut other: Option<f64> = None;
    if pie || limit.is_some_and(|l| xs.len() > l) {
        // Largest first (pies and top-N charts read best that way).
        xs.sort_by(|a, b| x_total[*b].total_cmp(&x_total[*a]));
    }
    if let Some(l) = limit
        && xs.len() > l
    {
        let rest = xs.split_off(l);
        if pie {
            other = Some(rest.iter().map(|x| x_total[*x]).sum());
        }
    }
    xs.truncate(MAX_X_POSITIONS);
    let mut points = Vec::new();
    let mut x_labels = Vec::new();
    for x in &xs {
        let label = &x_order[*x].1;
        x_labels.push(label.clone());
        let keys: Vec<Option<String>> = if si.is_some() {
            series.iter().cloned().map(Some).collect()
        } else {
            vec![None]
        };
        for s in keys {
            if let Some(a) = acc.get(&(*x, s.clone())) {
                let y = value(a);
                if pie && y <= 0.0 {
                    continue;
                }
                points.push(Point {
                    x: XValue::Label(label.clone()),
                    y,
                    series: s,
                });
            }
        }
    }
    if let Some(o) = other.filter(|o| *o > 0.0) {
        x_labels.push("Other".into());
        points.push(Point {
            x: XValue::Label("Other".into()),
            y: o,
            series: None,
        });
    }
    Ok(ChartData {
        x_labels,
        series,
        points,
    })
}
