//! The interactive chart: one HTML page drawing the spec with AntV G2Plot. Every string from
//! the data reaches the page as escaped JSON or text, never as markup: titles are
//! HTML-escaped, the data sits in a `application/json` script with `<` escaped, and the
//! tooltip is built from escaped text.

use serde_json::json;

use crate::{
    prepare::ChartData,
    spec::{ChartSpec, ChartType, Grouping},
};

/// Where the page loads G2Plot from when it is served by quarry.
pub const BUNDLE_URL: &str = "/assets/g2plot.min.js";
/// The tag that loads the bundle; [`inline_bundle`] replaces it with the bundle itself.
const BUNDLE_TAG: &str = "<script src=\"/assets/g2plot.min.js\" data-quarry-bundle></script>";

/// The colours of both renderers (G2Plot's default palette), so static and interactive agree.
pub const PALETTE: [&str; 10] = [
    "#5B8FF9", "#5AD8A6", "#5D7092", "#F6BD16", "#E8684A", "#6DC8EC", "#9270CA", "#FF9D4D",
    "#269A99", "#FF99C3",
];

/// How the page gets G2Plot.
#[derive(Clone, Copy, Debug)]
pub enum Bundle<'a> {
    /// `<script src="/assets/g2plot.min.js">`: the page is viewed through quarry.
    Linked,
    /// The bundle's text inlined: the page opens offline.
    Inline(&'a str),
    /// No bundle is installed: the page shows the static SVG and says how to install it.
    Missing,
}

/// What the page shows when G2Plot cannot run (and always inside `<noscript>`).
pub const INSTALL_HINT: &str = "The interactive chart needs the G2Plot bundle, which is not \
    installed: run scripts/setup-web (npm ci in web/) and restart quarry. The static chart is \
    shown instead.";

/// Renders the page. `svg` is the static chart, shown when G2Plot is unavailable.
pub fn render_html(spec: &ChartSpec, data: &ChartData, svg: &str, bundle: Bundle<'_>) -> String {
    let config = json!({
        "spec": spec,
        "data": data.points,
        "xLabels": data.x_labels,
        "series": data.series,
        "palette": PALETTE,
        "plot": plot_options(spec, data),
    });
    let config = script_json(&config.to_string());
    let title = escape(&spec.title);
    let subtitle = spec
        .subtitle
        .as_deref()
        .map(|s| format!("<p class=\"subtitle\">{}</p>", escape(s)))
        .unwrap_or_default();
    let (bundle_html, missing) = match bundle {
        Bundle::Linked => (BUNDLE_TAG.to_owned(), false),
        Bundle::Inline(js) => (inline_script(js), false),
        Bundle::Missing => (String::new(), true),
    };
    let hint = escape(INSTALL_HINT);
    let fallback_class = if missing { "" } else { " hidden" };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="quarry">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #1f1f1f; background: #fff; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }}
.subtitle {{ color: #666; margin: 0 0 12px; font-size: 14px; }}
#chart {{ height: 480px; }}
#fallback.hidden {{ display: none; }}
#fallback .hint {{ color: #8a5300; background: #fff7e6; padding: 8px 12px; border-radius: 4px; font-size: 14px; }}
#fallback svg {{ max-width: 100%; height: auto; }}
.quarry-tooltip {{ padding: 8px; font-size: 12px; line-height: 1.5; }}
.quarry-tooltip .t {{ font-weight: 600; margin-bottom: 4px; }}
.quarry-tooltip .dot {{ display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 6px; }}
</style>
</head>
<body data-chart-state="loading">
<h1 id="title">{title}</h1>
{subtitle}
<div id="chart" role="img" aria-label="{title}"></div>
<div id="fallback" class="{fallback_class}"><p class="hint">{hint}</p>{svg}</div>
<noscript><p>This chart needs JavaScript; the static version is in the SVG and PNG files beside it.</p></noscript>
<script type="application/json" id="quarry-chart">{config}</script>
{bundle_html}
<script>
{RENDER_JS}
</script>
</body>
</html>
"#,
        svg = strip_xml_declaration(svg),
    )
}

/// The page with its bundle link replaced by the bundle itself (for `?standalone=1`).
/// Pages that do not link the bundle come back unchanged.
pub fn inline_bundle(html: &str, bundle_js: &str) -> String {
    html.replacen(BUNDLE_TAG, &inline_script(bundle_js), 1)
}

fn inline_script(js: &str) -> String {
    // `</script` would end the element early; in G2Plot it only occurs inside strings, where
    // `<\/script` means the same.
    format!(
        "<script data-quarry-bundle>{}</script>",
        js.replace("</script", "<\\/script")
    )
}

fn strip_xml_declaration(svg: &str) -> &str {
    match svg.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(svg, |(_, r)| r.trim_start()),
        None => svg,
    }
}

/// JSON safe inside `<script>`: no `<`, `>`, `&` or line separators in the text.
fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Text safe in HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The G2Plot constructor and options (data and tooltip are added by the page script).
fn plot_options(spec: &ChartSpec, data: &ChartData) -> serde_json::Value {
    let has_series = !data.series.is_empty();
    let series_field = has_series.then_some("series");
    let axis = |text: &str| json!({ "title": { "text": text } });
    let legend = if has_series || spec.chart_type == ChartType::Pie {
        json!({ "position": "top-left" })
    } else {
        json!(false)
    };
    let grouped = spec.grouping == Some(Grouping::Grouped);
    let stacked = spec.grouping == Some(Grouping::Stacked);
    let meta = json!({
        "x": { "alias": spec.x_label },
        "y": { "alias": spec.y_label },
    });
    let (ctor, options) = match spec.chart_type {
        ChartType::Line => (
            "Line",
            json!({ "xField": "x", "yField": "y", "seriesField": series_field,
                    "point": { "size": 3 }, "xAxis": axis(&spec.x_label),
                    "yAxis": axis(&spec.y_label) }),
        ),
        ChartType::Area => (
            "Area",
            json!({ "xField": "x", "yField": "y", "seriesField": series_field,
                    "isStack": stacked, "xAxis": axis(&spec.x_label),
                    "yAxis": axis(&spec.y_label) }),
        ),
        ChartType::Column | ChartType::Histogram => (
            "Column",
            json!({ "xField": "x", "yField": "y", "seriesField": series_field,
                    "isGroup": grouped, "isStack": stacked,
                    "columnWidthRatio": if spec.chart_type == ChartType::Histogram { 0.98 } else { 0.6 },
                    "xAxis": axis(&spec.x_label), "yAxis": axis(&spec.y_label) }),
        ),
        ChartType::Bar => (
            "Bar",
            // G2Plot's bar puts the value on x and the category on y.
            json!({ "xField": "y", "yField": "x", "seriesField": series_field,
                    "isGroup": grouped, "isStack": stacked,
                    "xAxis": axis(&spec.y_label), "yAxis": axis(&spec.x_label) }),
        ),
        ChartType::Pie => (
            "Pie",
            json!({ "angleField": "y", "colorField": "x", "radius": 0.8,
                    "label": { "type": "outer" } }),
        ),
        ChartType::Scatter => (
            "Scatter",
            json!({ "xField": "x", "yField": "y", "colorField": series_field,
                    "size": 4, "shape": "circle",
                    "xAxis": axis(&spec.x_label), "yAxis": axis(&spec.y_label) }),
        ),
    };
    let mut options = options;
    if let Some(o) = options.as_object_mut() {
        o.retain(|_, v| !v.is_null());
        o.insert("meta".into(), meta);
        o.insert("legend".into(), legend);
        o.insert("animation".into(), json!(false));
        o.insert("autoFit".into(), json!(true));
    }
    json!({ "ctor": ctor, "options": options })
}

/// The page script: reads the config, builds the plot, escapes every tooltip string, and
/// falls back to the static chart when G2Plot is unavailable or fails.
const RENDER_JS: &str = r#"(function () {
  'use strict';
  var body = document.body;
  function showFallback(state) {
    document.getElementById('fallback').classList.remove('hidden');
    document.getElementById('chart').style.display = 'none';
    body.dataset.chartState = state;
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  var cfg = JSON.parse(document.getElementById('quarry-chart').textContent);
  if (typeof window.G2Plot === 'undefined') { showFallback('fallback'); return; }
  try {
    var o = cfg.plot.options;
    o.data = cfg.data;
    o.color = cfg.palette;
    o.tooltip = {
      customContent: function (title, items) {
        var html = '<div class="quarry-tooltip"><div class="t">' + esc(title == null ? '' : title) + '</div>';
        (items || []).forEach(function (it) {
          var d = it.data || {};
          var name = d.series != null ? d.series : (cfg.spec.type === 'pie' ? d.x : cfg.spec.y_label);
          html += '<div><span class="dot" style="background:' + esc(it.color || '#999') + '"></span>' +
            esc(name) + ': ' + esc(d.y) + '</div>';
        });
        return html + '</div>';
      }
    };
    var plot = new window.G2Plot[cfg.plot.ctor](document.getElementById('chart'), o);
    plot.render();
    window.quarryPlot = plot;
    requestAnimationFrame(function () { body.dataset.chartState = 'ready'; });
  } catch (e) {
    console.warn('G2Plot could not draw the chart: ' + e);
    showFallback('fallback');
  }
})();"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_the_script() {
        let s = script_json(r#"{"a":"</script><script>alert(1)</script>"}"#);
        assert!(!s.contains("</script"));
        assert!(!s.contains('<'));
        assert_eq!(escape("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }

    #[test]
    fn inlining_replaces_the_link_once() {
        let page = format!("<body>{BUNDLE_TAG}</body>");
        let out = inline_bundle(&page, "var a='</script>';");
        assert!(!out.contains(BUNDLE_URL));
        assert!(out.contains("var a='<\\/script>';"));
    }
}
