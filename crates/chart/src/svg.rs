//! The static chart: SVG drawn with plotters (its SVG backend escapes all text).

use plotters::{coord::Shift, prelude::*};

use crate::{
    error::ChartError,
    html::PALETTE,
    prepare::{ChartData, XValue},
    spec::{ChartSpec, ChartType, Grouping},
    table::format_number,
};

/// Width of the static chart, in pixels.
pub const WIDTH: u32 = 960;
/// Height of the static chart, in pixels.
pub const HEIGHT: u32 = 540;

const FONT: &str = "sans-serif";

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError::Render(e.to_string())
}

fn color(i: usize) -> RGBColor {
    let hex = PALETTE[i % PALETTE.len()].trim_start_matches('#');
    let c = |r: std::ops::Range<usize>| {
        hex.get(r)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(128)
    };
    RGBColor(c(0..2), c(2..4), c(4..6))
}

/// Renders the chart as an SVG document of [`WIDTH`]×[`HEIGHT`].
pub fn render_svg(spec: &ChartSpec, data: &ChartData) -> Result<String, ChartError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let title_style = TextStyle::from((FONT, 22).into_font()).color(&BLACK);
        root.draw(&Text::new(clip(&spec.title, 80), (20, 14), title_style))
            .map_err(err)?;
        let mut top = 46;
        if let Some(sub) = &spec.subtitle {
            let style = TextStyle::from((FONT, 14).into_font()).color(&RGBColor(102, 102, 102));
            root.draw(&Text::new(clip(sub, 120), (20, top), style))
                .map_err(err)?;
            top += 22;
        }
        let legend: Vec<String> = if spec.chart_type == ChartType::Pie {
            data.x_labels.clone()
        } else {
            data.series.clone()
        };
        if !legend.is_empty() && spec.chart_type != ChartType::Pie {
            draw_legend(&root, &legend, top + 4)?;
            top += 26;
        }
        let (_, body) = root.split_vertically(top + 6);
        match spec.chart_type {
            ChartType::Pie => pie(&body, data)?,
            ChartType::Scatter => scatter(&body, spec, data)?,
            ChartType::Bar => bars(&body, spec, data, true)?,
            ChartType::Column | ChartType::Histogram => bars(&body, spec, data, false)?,
            ChartType::Line | ChartType::Area => lines(&body, spec, data)?,
        }
        root.present().map_err(err)?;
    }
    Ok(out)
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn draw_legend(root: &Area<'_>, names: &[String], y: i32) -> Result<(), ChartError> {
    let mut x = 20;
    let style = TextStyle::from((FONT, 13).into_font()).color(&BLACK);
    for (i, name) in names.iter().enumerate() {
        let label = clip(name, 24);
        let w = 22 + 8 * label.chars().count() as i32;
        if x + w > WIDTH as i32 - 20 {
            let more = format!("+{} more", names.len() - i);
            root.draw(&Text::new(more, (x, y), style.clone()))
                .map_err(err)?;
            break;
        }
        root.draw(&Rectangle::new(
            [(x, y + 2), (x + 12, y + 14)],
            color(i).filled(),
        ))
        .map_err(err)?;
        root.draw(&Text::new(label, (x + 16, y), style.clone()))
            .map_err(err)?;
        x += w + 12;
    }
    Ok(())
}

/// Compact axis numbers: 45230 → 45.2k.
fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{}B", format_number((v / 1e8).round() / 10.0))
    } else if a >= 1e6 {
        format!("{}M", format_number((v / 1e5).round() / 10.0))
    } else if a >= 1e4 {
        format!("{}k", format_number((v / 1e2).round() / 10.0))
    } else {
        format_number((v * 100.0).round() / 100.0)
    }
}

/// A y range with a little headroom, always including 0 for bars.
fn value_range(values: impl Iterator<Item = f64>, include_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if include_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.08;
    (
        if lo < 0.0 || !include_zero {
            lo - pad
        } else {
            lo
        },
        hi + pad,
    )
}

/// How many category labels fit: every one when they fit, else fewer (plotters then picks
/// round steps, and labels sit on whole positions only).
fn label_count(n: usize, room_px: u32, label_px: u32) -> usize {
    let fit = (room_px / label_px.max(1)).max(1) as usize;
    n.min(fit).max(1)
}

fn label_at(labels: &[String], v: f64, max: usize) -> String {
    let i = v.round();
    if (v - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    labels
        .get(i as usize)
        .map(|l| clip(l, max))
        .unwrap_or_default()
}

/// Stacked or side-by-side values per (x index, series index).
struct Matrix {
    values: Vec<Vec<Option<f64>>>,
    series: usize,
}

fn matrix(data: &ChartData) -> Matrix {
    let series = data.series.len().max(1);
    let mut values = vec![vec![None; series]; data.x_labels.len()];
    for p in &data.points {
        let XValue::Label(l) = &p.x else { continue };
        let Some(xi) = data.x_labels.iter().position(|x| x == l) else {
            continue;
        };
        let si = p
            .series
            .as_ref()
            .and_then(|s| data.series.iter().position(|x| x == s))
            .unwrap_or(0);
        values[xi][si] = Some(p.y);
    }
    Matrix { values, series }
}

fn bars(
    body: &Area<'_>,
    spec: &ChartSpec,
    data: &ChartData,
    horizontal: bool,
) -> Result<(), ChartError> {
    let m = matrix(data);
    let n = data.x_labels.len();
    let stacked = spec.grouping == Some(Grouping::Stacked) && m.series > 1;
    let range = if stacked {
        value_range(
            m.values.iter().flat_map(|row| {
                let pos: f64 = row.iter().flatten().filter(|v| **v > 0.0).sum();
                let neg: f64 = row.iter().flatten().filter(|v| **v < 0.0).sum();
                [pos, neg]
            }),
            true,
        )
    } else {
        value_range(m.values.iter().flatten().flatten().copied(), true)
    };
    let cats = -0.5f64..(n as f64 - 0.5);
    let longest = data
        .x_labels
        .iter()
        .map(|l| l.chars().count().min(24))
        .max()
        .unwrap_or(1) as u32;
    let labels = data.x_labels.clone();
    let mut rects: Vec<(f64, f64, f64, f64, usize)> = Vec::new(); // (c0, c1, v0, v1, colour)
    for (xi, row) in m.values.iter().enumerate() {
        let (mut pos, mut neg) = (0.0, 0.0);
        let slots = if stacked { 1 } else { m.series };
        let width = if spec.chart_type == ChartType::Histogram {
            0.98
        } else {
            0.7
        };
        let slot_w = width / slots as f64;
        for (si, v) in row.iter().enumerate() {
            let Some(v) = *v else { continue };
            let c0 = xi as f64 - width / 2.0 + if stacked { 0.0 } else { slot_w * si as f64 };
            let (v0, v1) = if stacked {
                if v >= 0.0 {
                    pos += v;
                    (pos - v, pos)
                } else {
                    neg += v;
                    (neg - v, neg)
                }
            } else {
                (0.0, v)
            };
            let colour = if data.series.is_empty() { 0 } else { si };
            rects.push((c0, c0 + slot_w, v0, v1, colour));
        }
    }
    if horizontal {
        let label_px = (longest * 7 + 16).min(190);
        let mut chart = ChartBuilder::on(body)
            .margin(16)
            .margin_right(36)
            .x_label_area_size(44)
            .y_label_area_size(label_px)
            .build_cartesian_2d(range.0..range.1, cats)
            .map_err(err)?;
        let flip = |c: f64| (n as f64 - 1.0) - c;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(label_count(n, 400, 16))
            .x_desc(&spec.y_label)
            .y_desc(&spec.x_label)
            .x_label_formatter(&|v| compact(*v))
            .y_label_formatter(&|v| label_at(&labels, flip(*v), 24))
            .light_line_style(WHITE)
            .axis_desc_style((FONT, 14))
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(rects.iter().map(|(c0, c1, v0, v1, k)| {
                Rectangle::new([(*v0, flip(*c0)), (*v1, flip(*c1))], color(*k).filled())
            }))
            .map_err(err)?;
    } else {
        let label_px = 8 * longest.min(14) + 8;
        let mut chart = ChartBuilder::on(body)
            .margin(16)
            .margin_right(24)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(cats, range.0..range.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(label_count(n, WIDTH - 140, label_px))
            .x_desc(&spec.x_label)
            .y_desc(&spec.y_label)
            .x_label_formatter(&|v| label_at(&labels, *v, 14))
            .y_label_formatter(&|v| compact(*v))
            .light_line_style(WHITE)
            .axis_desc_style((FONT, 14))
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(rects.iter().map(|(c0, c1, v0, v1, k)| {
                Rectangle::new([(*c0, *v0), (*c1, *v1)], color(*k).filled())
            }))
            .map_err(err)?;
    }
    Ok(())
}

fn lines(body: &Area<'_>, spec: &ChartSpec, data: &ChartData) -> Result<(), ChartError> {
    let m = matrix(data);
    let n = data.x_labels.len();
    let area = spec.chart_type == ChartType::Area;
    let stacked = area && m.series > 1 && spec.grouping != Some(Grouping::Grouped);
    // Per series: the (x, base, top) of each point.
    let mut tracks: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); m.series];
    for (xi, row) in m.values.iter().enumerate() {
        let mut acc = 0.0;
        for (si, v) in row.iter().enumerate() {
            let Some(v) = *v else { continue };
            let base = if stacked { acc } else { 0.0 };
            acc += v;
            tracks[si].push((xi as f64, base, base + v));
        }
    }
    let range = value_range(
        tracks
            .iter()
            .flatten()
            .flat_map(|(_, b, t)| if area { vec![*b, *t] } else { vec![*t] }),
        area,
    );
    let labels = data.x_labels.clone();
    let longest = labels
        .iter()
        .map(|l| l.chars().count().min(14))
        .max()
        .unwrap_or(1) as u32;
    let x_range = if n > 1 {
        0.0..(n as f64 - 1.0)
    } else {
        -0.5..0.5
    };
    let mut chart = ChartBuilder::on(body)
        .margin(16)
        .margin_right(30)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, range.0..range.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(label_count(n, WIDTH - 140, 8 * longest + 12))
        .x_desc(&spec.x_label)
        .y_desc(&spec.y_label)
        .x_label_formatter(&|v| label_at(&labels, *v, 14))
        .y_label_formatter(&|v| compact(*v))
        .light_line_style(WHITE)
        .axis_desc_style((FONT, 14))
        .label_style((FONT, 12))
        .draw()
        .map_err(err)?;
    for (si, track) in tracks.iter().enumerate().rev() {
        let c = color(if data.series.is_empty() { 0 } else { si });
        if area {
            let mut poly: Vec<(f64, f64)> = track.iter().map(|(x, _, t)| (*x, *t)).collect();
            poly.extend(track.iter().rev().map(|(x, b, _)| (*x, *b)));
            chart
                .draw_series(std::iter::once(Polygon::new(poly, c.mix(0.55).filled())))
                .map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new(
                track.iter().map(|(x, _, t)| (*x, *t)),
                c.stroke_width(2),
            ))
            .map_err(err)?;
        if !area && track.len() <= 60 {
            chart
                .draw_series(
                    track
                        .iter()
                        .map(|(x, _, t)| Circle::new((*x, *t), 3, c.filled())),
                )
                .map_err(err)?;
        }
    }
    Ok(())
}

fn scatter(body: &Area<'_>, spec: &ChartSpec, data: &ChartData) -> Result<(), ChartError> {
    let num = |x: &XValue| match x {
        XValue::Number(n) => *n,
        XValue::Label(_) => 0.0,
    };
    let xr = value_range(data.points.iter().map(|p| num(&p.x)), false);
    let yr = value_range(data.points.iter().map(|p| p.y), false);
    let mut chart = ChartBuilder::on(body)
        .margin(16)
        .margin_right(30)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(&spec.x_label)
        .y_desc(&spec.y_label)
        .x_label_formatter(&|v| compact(*v))
        .y_label_formatter(&|v| compact(*v))
        .light_line_style(WHITE)
        .axis_desc_style((FONT, 14))
        .label_style((FONT, 12))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(data.points.iter().map(|p| {
            let si = p
                .series
                .as_ref()
                .and_then(|s| data.series.iter().position(|x| x == s))
                .unwrap_or(0);
            Circle::new((num(&p.x), p.y), 4, color(si).mix(0.8).filled())
        }))
        .map_err(err)?;
    Ok(())
}

fn pie(body: &Area<'_>, data: &ChartData) -> Result<(), ChartError> {
    let (w, h) = body.dim_in_pixel();
    let parts: Vec<(String, f64)> = data
        .points
        .iter()
        .filter(|p| p.y > 0.0)
        .map(|p| match &p.x {
            XValue::Label(l) => (l.clone(), p.y),
            XValue::Number(n) => (format_number(*n), p.y),
        })
        .collect();
    let total: f64 = parts.iter().map(|(_, v)| v).sum();
    if total <= 0.0 {
        return Ok(());
    }
    let r = (f64::from(h.min(w)) / 2.0 - 24.0).max(20.0);
    let (cx, cy) = (r + 60.0, f64::from(h) / 2.0);
    let mut angle = -std::f64::consts::FRAC_PI_2;
    let style = TextStyle::from((FONT, 14).into_font()).color(&BLACK);
    for (i, (label, v)) in parts.iter().enumerate() {
        let sweep = v / total * std::f64::consts::TAU;
        let steps = ((sweep / 0.03).ceil() as usize).max(2);
        let mut poly = vec![(cx as i32, cy as i32)];
        for s in 0..=steps {
            let a = angle + sweep * s as f64 / steps as f64;
            poly.push(((cx + r * a.cos()) as i32, (cy + r * a.sin()) as i32));
        }
        body.draw(&Polygon::new(poly, color(i).filled()))
            .map_err(err)?;
        angle += sweep;
        // The legend, beside the pie: swatch, label and share.
        let lx = (cx + r + 60.0) as i32;
        let ly = 30 + 26 * i as i32;
        body.draw(&Rectangle::new(
            [(lx, ly + 2), (lx + 14, ly + 16)],
            color(i).filled(),
        ))
        .map_err(err)?;
        let text = format!(
            "{} — {} ({:.1}%)",
            clip(label, 40),
            compact(*v),
            v / total * 100.0
        );
        body.draw(&Text::new(text, (lx + 22, ly), style.clone()))
            .map_err(err)?;
    }
    Ok(())
}
