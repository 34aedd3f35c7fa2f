//! quarry-chart: from a table and a question to a chart.
//!
//! [`Table`] reads quarry's `data` artifacts (CSV with a header row, or a JSON array of row
//! objects); [`infer`] picks the chart ([`ChartSpec`]: type, x, y, series, aggregation,
//! title, subtitle) from the columns' types and the question; [`prepare`] reduces the table
//! to the points drawn; [`render_html`] writes the interactive G2Plot page, [`render_svg`]
//! and [`svg_to_png`] the static chart. [`Chart::build`] does all of it.
//!
//! Pure computation: no I/O, no async runtime, no HTTP. Depends on no other quarry crate.

mod error;
pub mod html;
mod infer;
mod png;
mod prepare;
mod profile;
mod spec;
mod svg;
mod table;

pub use error::ChartError;
pub use html::{BUNDLE_URL, Bundle, INSTALL_HINT, inline_bundle, render_html};
pub use infer::infer;
pub use png::svg_to_png;
pub use prepare::{ChartData, Point, XValue, prepare};
pub use profile::{ColumnKind, ColumnProfile, TimeUnit, profile};
pub use spec::{Aggregation, ChartSpec, ChartType, Grouping};
pub use svg::{HEIGHT, WIDTH, render_svg};
pub use table::{Cell, MAX_COLUMNS, MAX_ROWS, Table};

/// A rendered chart: the spec, its data, and the three files.
#[derive(Clone, Debug)]
pub struct Chart {
    /// What was drawn.
    pub spec: ChartSpec,
    /// The points drawn.
    pub data: ChartData,
    /// The interactive page.
    pub html: String,
    /// The static chart.
    pub svg: String,
    /// The static chart, rasterised.
    pub png: Vec<u8>,
}

impl Chart {
    /// Infers the spec from `table` and `question`, then renders it.
    pub fn build(table: &Table, question: &str, bundle: Bundle<'_>) -> Result<Self, ChartError> {
        let spec = infer(table, question)?;
        Self::render(table, spec, bundle)
    }

    /// Renders `spec` (inferred earlier, or sent back by a client) over `table`.
    pub fn render(table: &Table, spec: ChartSpec, bundle: Bundle<'_>) -> Result<Self, ChartError> {
        let data = prepare(table, &spec)?;
        let svg = render_svg(&spec, &data)?;
        let png = svg_to_png(&svg)?;
        let html = render_html(&spec, &data, &svg, bundle);
        Ok(Self {
            spec,
            data,
            html,
            svg,
            png,
        })
    }

    /// A file name for the chart: `line_chart`, `bar_chart`…
    pub fn file_stem(&self) -> String {
        format!("{}_chart", self.spec.chart_type.as_str())
    }
}

/// Where a source checkout keeps the G2Plot bundle after `npm ci` in `web/` (the default of
/// the server's `chart_bundle` setting).
pub fn default_bundle_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../web/node_modules/@antv/g2plot/dist/g2plot.min.js")
}

#[cfg(test)]
mod tests;
