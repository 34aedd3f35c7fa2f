//! Spec inference: from a table's column types and the question to a [`ChartSpec`].

use crate::{
    error::ChartError,
    profile::{ColumnKind, ColumnProfile, TimeUnit, name_words, profile},
    spec::{
        AUTO_PIE_PARTS, Aggregation, ChartSpec, ChartType, Grouping, MAX_BINS, MAX_CATEGORIES,
        MAX_PIE_PARTS, MAX_SCATTER_POINTS, MAX_SERIES, MAX_TIME_POINTS,
    },
    table::Table,
};

/// Infers the chart for `table` and `question`: explicit requests ("as a pie chart") win when
/// the data allows them; otherwise the shape of the data decides.
pub fn infer(table: &Table, question: &str) -> Result<ChartSpec, ChartError> {
    if table.columns().is_empty() {
        return Err(ChartError::Empty("the data has no columns".into()));
    }
    if table.is_empty() {
        return Err(ChartError::Empty(
            "the data has no rows (the query returned nothing)".into(),
        ));
    }
    let cols = profile(table);
    let words = question_words(question);
    let has = |w: &str| words.iter().any(|x| x == w);
    let asked = requested_type(&words);
    let mut notes: Vec<String> = Vec::new();

    let mentioned = |c: &ColumnProfile| mentions(&words, &c.name);
    let measures: Vec<&ColumnProfile> = order_by_mention(
        cols.iter()
            .filter(|c| c.kind == ColumnKind::Numeric && c.non_null > 0)
            .collect(),
        &mentioned,
    );
    let temporal: Vec<&ColumnProfile> = order_by_mention(
        cols.iter()
            .filter(|c| matches!(c.kind, ColumnKind::Temporal(_)) && c.cardinality > 0)
            .collect(),
        &mentioned,
    );
    let categories: Vec<&ColumnProfile> = order_by_mention(
        cols.iter()
            .filter(|c| c.kind == ColumnKind::Categorical && c.cardinality > 0)
            .collect(),
        &mentioned,
    );
    if measures.is_empty() && temporal.is_empty() && categories.is_empty() {
        return Err(ChartError::Empty("every value in the data is empty".into()));
    }
    let mean_wanted = has("average") || has("mean") || has("avg");
    let value_agg = if mean_wanted {
        Aggregation::Mean
    } else {
        Aggregation::Sum
    };

    // The chart the data suggests, then the one asked for if the data allows it.
    let natural = natural_type(&measures, &temporal, &categories, &words);
    let chart_type = match asked {
        Some(t) if feasible(t, &measures, &temporal, &categories) => t,
        Some(t) => {
            notes.push(format!(
                "a {} chart does not fit this data; showing a {} chart",
                t.as_str(),
                natural.as_str()
            ));
            natural
        }
        None => natural,
    };

    let mut spec = match chart_type {
        ChartType::Scatter => {
            let x = measures[0];
            let y = measures.get(1).copied().unwrap_or(x);
            let series = categories
                .iter()
                .chain(temporal.iter())
                .find(|c| (2..=MAX_SERIES).contains(&c.cardinality));
            let mut spec = base(chart_type, &x.name, Some(&y.name), series.map(|s| &s.name));
            spec.title = format!(
                "{} vs {}",
                humanize(&y.name),
                lower_first(&humanize(&x.name))
            );
            if table.len() > MAX_SCATTER_POINTS {
                spec.sample = Some(MAX_SCATTER_POINTS);
                notes.push(format!(
                    "an even sample of {} of {} points",
                    thousands(MAX_SCATTER_POINTS),
                    thousands(table.len())
                ));
            }
            spec
        }
        ChartType::Histogram => {
            let x = measures[0];
            let mut spec = base(chart_type, &x.name, None, None);
            spec.aggregation = Aggregation::Count;
            let n = x.non_null.max(1) as f64;
            let sturges = (n.log2().ceil() as usize) + 1;
            spec.bins = Some(sturges.clamp(1, MAX_BINS).min(x.cardinality.max(1)));
            spec.title = format!("Distribution of {}", lower_first(&humanize(&x.name)));
            spec.y_label = "Count".into();
            spec
        }
        _ => {
            // x: time for time charts, else a category (or time as categories).
            let x = if matches!(chart_type, ChartType::Line | ChartType::Area) {
                temporal
                    .first()
                    .or(categories.first())
                    .copied()
                    .or(measures.first().copied())
            } else {
                pick_category(&categories, &temporal)
            };
            let Some(x) = x else {
                return Err(ChartError::Empty("no column to put on the x axis".into()));
            };
            let y = measures.iter().find(|m| m.name != x.name).copied();
            let series = if chart_type == ChartType::Pie {
                None
            } else {
                categories
                    .iter()
                    .chain(temporal.iter())
                    .filter(|c| c.name != x.name)
                    .find(|c| c.cardinality >= 2 && c.cardinality <= 50)
                    .copied()
            };
            let mut spec = base(
                chart_type,
                &x.name,
                y.map(|y| y.name.as_str()),
                series.map(|s| &s.name),
            );
            spec.aggregation = if y.is_none() {
                Aggregation::Count
            } else if has_duplicates(table, &spec) {
                value_agg
            } else {
                Aggregation::None
            };
            let what = match (spec.aggregation, y) {
                (Aggregation::Count, _) => "Count".to_owned(),
                (Aggregation::Mean, Some(y)) => {
                    format!("Average {}", lower_first(&humanize(&y.name)))
                }
                (_, Some(y)) => humanize(&y.name),
                (_, None) => "Count".to_owned(),
            };
            spec.y_label = what.clone();
            match spec.aggregation {
                Aggregation::Sum => notes.push(format!("sum per {}", lower_first(&spec.x_label))),
                Aggregation::Mean => {
                    notes.push(format!("average per {}", lower_first(&spec.x_label)))
                }
                _ => {}
            }
            if let ColumnKind::Temporal(unit) = x.kind {
                spec.title = format!("{what} over time");
                let mut unit = unit;
                let mut points = x.cardinality;
                while points > MAX_TIME_POINTS {
                    let Some(coarser) = unit.coarser() else { break };
                    unit = coarser;
                    points = distinct_buckets(table, &x.name, x.kind, unit);
                }
                if unit != time_base(x.kind) {
                    spec.time_unit = Some(unit);
                    if spec.aggregation == Aggregation::None {
                        spec.aggregation = value_agg;
                    }
                    notes.retain(|n| !n.starts_with("sum per") && !n.starts_with("average per"));
                    notes.push(format!(
                        "{} {} of {} rows",
                        unit.adjective(),
                        if spec.aggregation == Aggregation::Mean {
                            "averages"
                        } else if spec.aggregation == Aggregation::Count {
                            "counts"
                        } else {
                            "totals"
                        },
                        thousands(table.len())
                    ));
                }
            } else {
                spec.title = format!("{what} by {}", lower_first(&humanize(&x.name)));
            }
            if let Some(s) = series {
                let joint = if spec.title.ends_with("over time") {
                    "by"
                } else {
                    "and"
                };
                spec.title = format!("{} {joint} {}", spec.title, lower_first(&humanize(&s.name)));
                if s.cardinality > MAX_SERIES {
                    spec.max_series = Some(MAX_SERIES);
                    notes.push(format!(
                        "the {MAX_SERIES} largest of {} {}",
                        s.cardinality,
                        lower_first(&humanize(&s.name))
                    ));
                }
                if matches!(
                    chart_type,
                    ChartType::Column | ChartType::Bar | ChartType::Area
                ) {
                    spec.grouping = Some(
                        if has("stacked")
                            || has("stack")
                            || has("composition")
                            || chart_type == ChartType::Area
                            || (!has("grouped") && s.cardinality > 4)
                        {
                            Grouping::Stacked
                        } else {
                            Grouping::Grouped
                        },
                    );
                    if has("grouped") || has("side") {
                        spec.grouping = Some(Grouping::Grouped);
                    }
                }
            }
            match chart_type {
                ChartType::Pie if x.cardinality > MAX_PIE_PARTS => {
                    spec.limit = Some(MAX_PIE_PARTS - 1);
                    notes.push(format!(
                        "the {} largest of {} parts; the rest as Other",
                        MAX_PIE_PARTS - 1,
                        x.cardinality
                    ));
                }
                ChartType::Column | ChartType::Bar if x.cardinality > MAX_CATEGORIES => {
                    spec.limit = Some(MAX_CATEGORIES);
                    notes.push(format!(
                        "the {MAX_CATEGORIES} largest of {} {}",
                        thousands(x.cardinality),
                        lower_first(&humanize(&x.name))
                    ));
                }
                _ => {}
            }
            spec
        }
    };
    if spec.chart_type == ChartType::Column
        && asked != Some(ChartType::Column)
        && (has("horizontal") || long_labels(&cols, &spec.x) || spec_categories(&cols, &spec) > 15)
        && !has("vertical")
    {
        spec.chart_type = ChartType::Bar;
    }
    if !notes.is_empty() {
        let text = notes.join("; ");
        let mut chars = text.chars();
        spec.subtitle = Some(match chars.next() {
            Some(c) => c.to_uppercase().chain(chars).collect(),
            None => text,
        });
    }
    Ok(spec)
}

fn base(chart_type: ChartType, x: &str, y: Option<&str>, series: Option<&String>) -> ChartSpec {
    ChartSpec {
        chart_type,
        x: x.to_owned(),
        y: y.map(str::to_owned),
        series: series.cloned(),
        grouping: None,
        aggregation: Aggregation::None,
        time_unit: None,
        limit: None,
        max_series: None,
        sample: None,
        bins: None,
        title: String::new(),
        subtitle: None,
        x_label: humanize(x),
        y_label: y.map(humanize).unwrap_or_else(|| "Count".into()),
    }
}

/// The chart the data's shape suggests.
fn natural_type(
    measures: &[&ColumnProfile],
    temporal: &[&ColumnProfile],
    categories: &[&ColumnProfile],
    words: &[String],
) -> ChartType {
    let has = |w: &str| words.iter().any(|x| x == w);
    if !temporal.is_empty() && (!measures.is_empty() || categories.is_empty()) {
        return if has("cumulative") || has("volume") {
            ChartType::Area
        } else {
            ChartType::Line
        };
    }
    if let Some(cat) = categories.first() {
        let whole = has("share")
            || has("proportion")
            || has("proportions")
            || has("percentage")
            || has("composition")
            || has("breakdown")
            || has("split")
            || has("part");
        let parts = cat.cardinality;
        let second_dim = categories.len() > 1 && categories[1].cardinality <= MAX_SERIES;
        if whole
            && !second_dim
            && (2..=AUTO_PIE_PARTS).contains(&parts)
            && measures.first().is_none_or(|m| m.non_negative)
        {
            return ChartType::Pie;
        }
        if measures.len() >= 2 && (has("vs") || has("versus") || has("correlation")) {
            return ChartType::Scatter;
        }
        return ChartType::Column;
    }
    match measures.len() {
        0 => ChartType::Column,
        1 => ChartType::Histogram,
        _ => ChartType::Scatter,
    }
}

fn feasible(
    t: ChartType,
    measures: &[&ColumnProfile],
    temporal: &[&ColumnProfile],
    categories: &[&ColumnProfile],
) -> bool {
    let dims = temporal.len() + categories.len();
    match t {
        ChartType::Scatter => measures.len() >= 2,
        ChartType::Histogram => !measures.is_empty(),
        ChartType::Pie => dims > 0 && measures.first().is_none_or(|m| m.non_negative),
        ChartType::Line | ChartType::Area => dims > 0 || measures.len() >= 2,
        ChartType::Column | ChartType::Bar => dims > 0,
    }
}

/// The chart type the question names, if any.
fn requested_type(words: &[String]) -> Option<ChartType> {
    let has = |w: &str| words.iter().any(|x| x == w);
    if has("pie") || has("donut") || has("doughnut") {
        Some(ChartType::Pie)
    } else if has("histogram") || has("distribution") || has("histogramme") {
        Some(ChartType::Histogram)
    } else if has("scatter") || has("scatterplot") {
        Some(ChartType::Scatter)
    } else if has("area") {
        Some(ChartType::Area)
    } else if has("line") || has("lines") {
        Some(ChartType::Line)
    } else if has("horizontal") && (has("bar") || has("bars")) {
        Some(ChartType::Bar)
    } else if has("column") || has("columns") || has("bar") || has("bars") {
        Some(ChartType::Column)
    } else {
        None
    }
}

fn question_words(q: &str) -> Vec<String> {
    q.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(200)
        .map(str::to_owned)
        .collect()
}

/// Whether the question names the column (all its words, e.g. "total revenue" for
/// `total_revenue`, or its last word, e.g. "revenue").
fn mentions(words: &[String], column: &str) -> bool {
    let parts = name_words(column);
    let contains = |w: &String| words.iter().any(|x| x == w || x.trim_end_matches('s') == w);
    !parts.is_empty()
        && (parts.iter().all(contains) || parts.last().is_some_and(|w| w.len() > 2 && contains(w)))
}

fn order_by_mention<'a>(
    mut cols: Vec<&'a ColumnProfile>,
    mentioned: &impl Fn(&ColumnProfile) -> bool,
) -> Vec<&'a ColumnProfile> {
    // Stable: mentioned columns first, otherwise the data's own order.
    cols.sort_by_key(|c| !mentioned(c));
    cols
}

/// The category axis of a bar chart: a mentioned or the first category column, else time.
fn pick_category<'a>(
    categories: &[&'a ColumnProfile],
    temporal: &[&'a ColumnProfile],
) -> Option<&'a ColumnProfile> {
    categories
        .iter()
        .find(|c| c.cardinality > 1)
        .or(categories.first())
        .or(temporal.first())
        .copied()
}

fn long_labels(cols: &[ColumnProfile], x: &str) -> bool {
    cols.iter().any(|c| c.name == x && c.max_chars > 12)
}

fn spec_categories(cols: &[ColumnProfile], spec: &ChartSpec) -> usize {
    let n = cols
        .iter()
        .find(|c| c.name == spec.x)
        .map_or(0, |c| c.cardinality);
    spec.limit.map_or(n, |l| n.min(l))
}

fn time_base(kind: ColumnKind) -> TimeUnit {
    match kind {
        ColumnKind::Temporal(u) => u,
        _ => TimeUnit::Year,
    }
}

fn has_duplicates(table: &Table, spec: &ChartSpec) -> bool {
    let xi = table.index_of(&spec.x);
    let si = spec.series.as_deref().and_then(|s| table.index_of(s));
    let mut seen = std::collections::HashSet::new();
    table.rows().iter().any(|r| {
        let key = (xi.and_then(|i| r[i].text()), si.and_then(|i| r[i].text()));
        !seen.insert(key)
    })
}

fn distinct_buckets(table: &Table, x: &str, kind: ColumnKind, unit: TimeUnit) -> usize {
    let Some(i) = table.index_of(x) else { return 0 };
    let base = time_base(kind);
    table
        .column(i)
        .filter_map(|c| crate::profile::time_of(c, base))
        .map(|t| crate::profile::bucket(t, unit))
        .collect::<std::collections::HashSet<_>>()
        .len()
}

/// `total_revenue` → `Total revenue`.
pub fn humanize(name: &str) -> String {
    let words = name_words(name);
    if words.is_empty() {
        return name.to_owned();
    }
    let text = words.join(" ");
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if !s.chars().nth(1).is_some_and(char::is_uppercase) => {
            c.to_lowercase().chain(chars).collect()
        }
        _ => s.to_owned(),
    }
}

/// `12345` → `12,345`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
