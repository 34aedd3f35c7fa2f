//! The chart spec: what to draw, from which columns, reduced how. [`crate::infer`] chooses
//! it; [`crate::prepare`] and the renderers follow it.

use serde::{Deserialize, Serialize};

use crate::profile::TimeUnit;

/// Kinds of chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartType {
    /// A measure over time, one line per series.
    Line,
    /// A measure over time as filled areas (stacked when there are series).
    Area,
    /// Vertical bars per category.
    Column,
    /// Horizontal bars per category (long labels, many categories).
    Bar,
    /// Few parts of a whole.
    Pie,
    /// Two measures against each other.
    Scatter,
    /// One measure's distribution, in bins.
    Histogram,
}

impl ChartType {
    /// Every chart type.
    pub const ALL: [Self; 7] = [
        Self::Line,
        Self::Area,
        Self::Column,
        Self::Bar,
        Self::Pie,
        Self::Scatter,
        Self::Histogram,
    ];

    /// The wire name (`line`, `bar`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Line => "line",
            Self::Area => "area",
            Self::Column => "column",
            Self::Bar => "bar",
            Self::Pie => "pie",
            Self::Scatter => "scatter",
            Self::Histogram => "histogram",
        }
    }
}

/// How series share a category's place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    /// Side by side.
    Grouped,
    /// On top of each other.
    Stacked,
}

/// How rows sharing an x (and series) become one value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Each row is one point.
    #[default]
    None,
    /// Sum of `y`.
    Sum,
    /// Mean of `y`.
    Mean,
    /// Number of rows (no `y`).
    Count,
}

/// A chart: what to draw and how the data is reduced to it. Serialised as the `result.spec`
/// of `POST /agents/chart`, and accepted back to re-render the same data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChartSpec {
    /// The kind of chart.
    #[serde(rename = "type")]
    pub chart_type: ChartType,
    /// The x column: time or category; for scatter the first measure; for histogram the
    /// binned measure; for pie the parts.
    pub x: String,
    /// The measure column; `None` counts rows (and for histograms).
    pub y: Option<String>,
    /// The column that splits the data into series (colours).
    pub series: Option<String>,
    /// Grouped or stacked series (column, bar, area).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grouping: Option<Grouping>,
    /// How rows sharing an x (and series) become one value.
    #[serde(default)]
    pub aggregation: Aggregation,
    /// Temporal x resampled to this unit (bucket starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_unit: Option<TimeUnit>,
    /// Only the largest this many categories (pie: the rest as "Other").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Only this many series (the largest by total).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_series: Option<usize>,
    /// Scatter: an evenly spaced sample of this many rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<usize>,
    /// Histogram: number of bins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bins: Option<usize>,
    /// Title.
    pub title: String,
    /// What the reader must know: aggregation, sampling, dropped values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    /// Axis title of x.
    pub x_label: String,
    /// Axis title of y.
    pub y_label: String,
}

/// Most categories drawn as bars before only the largest are kept.
pub const MAX_CATEGORIES: usize = 30;
/// Most parts of a pie (the rest are summed as "Other").
pub const MAX_PIE_PARTS: usize = 8;
/// Most parts for which a pie is chosen without being asked for.
pub const AUTO_PIE_PARTS: usize = 6;
/// Most series (colours).
pub const MAX_SERIES: usize = 10;
/// Most points along a time axis before resampling to a coarser unit.
pub const MAX_TIME_POINTS: usize = 400;
/// Most scatter points before sampling.
pub const MAX_SCATTER_POINTS: usize = 2_000;
/// Most histogram bins.
pub const MAX_BINS: usize = 40;
