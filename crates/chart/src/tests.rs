//! Inference over a table of data shapes, and the static renderers' output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::{Aggregation, Bundle, Chart, ChartError, ChartType, Grouping, Table, TimeUnit, infer};

/// `n` rows of `f(i)`, under `header`.
fn csv(header: &str, n: usize, f: impl Fn(usize) -> String) -> String {
    let mut s = format!("{header}\n");
    for i in 0..n {
        s.push_str(&f(i));
        s.push('\n');
    }
    s
}

const MONTHS: [&str; 12] = [
    "2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06", "2025-07", "2025-08",
    "2025-09", "2025-10", "2025-11", "2025-12",
];

struct Case {
    name: &'static str,
    data: String,
    question: &'static str,
    chart: ChartType,
    x: &'static str,
    y: Option<&'static str>,
    series: Option<&'static str>,
    check: fn(&crate::ChartSpec),
}

fn none(_: &crate::ChartSpec) {}

fn cases() -> Vec<Case> {
    let day = |i: usize| {
        chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap() + chrono::Days::new(i as u64)
    };
    vec![
        Case {
            name: "monthly revenue trend",
            data: csv("month,revenue", 12, |i| {
                format!("{},{}", MONTHS[i], 1000 + i * 10)
            }),
            question: "monthly revenue trend",
            chart: ChartType::Line,
            x: "month",
            y: Some("revenue"),
            series: None,
            check: |s| assert_eq!(s.aggregation, Aggregation::None),
        },
        Case {
            name: "daily dates as JSON with numeric strings",
            data: format!(
                "[{}]",
                (0..30)
                    .map(|i| format!(r#"{{"day":"{}","total":"{}.50"}}"#, day(i), i))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            question: "revenue per day",
            chart: ChartType::Line,
            x: "day",
            y: Some("total"),
            series: None,
            check: none,
        },
        Case {
            name: "years as integers",
            data: csv("year,orders", 6, |i| format!("{},{}", 2019 + i, 50 + i)),
            question: "orders per year",
            chart: ChartType::Line,
            x: "year",
            y: Some("orders"),
            series: None,
            check: none,
        },
        Case {
            name: "time series with a series column",
            data: csv("month,region,revenue", 24, |i| {
                format!("{},{},{}", MONTHS[i % 12], ["North", "South"][i / 12], i)
            }),
            question: "revenue by month and region",
            chart: ChartType::Line,
            x: "month",
            y: Some("revenue"),
            series: Some("region"),
            check: none,
        },
        Case {
            name: "too many days are resampled to months",
            data: csv("day,sales", 1000, |i| format!("{},{}", day(i), i % 17)),
            question: "sales over time",
            chart: ChartType::Line,
            x: "day",
            y: Some("sales"),
            series: None,
            check: |s| {
                assert_eq!(s.time_unit, Some(TimeUnit::Month));
                assert_eq!(s.aggregation, Aggregation::Sum);
                assert!(
                    s.subtitle.as_deref().unwrap().contains("Monthly totals"),
                    "{s:?}"
                );
            },
        },
        Case {
            name: "explicit area",
            data: csv("month,visits", 12, |i| format!("{},{}", MONTHS[i], i * 3)),
            question: "visits as an area chart",
            chart: ChartType::Area,
            x: "month",
            y: Some("visits"),
            series: None,
            check: none,
        },
        Case {
            name: "short categories",
            data: csv("category,revenue", 5, |i| format!("cat{i},{}", 10 * i + 1)),
            question: "revenue by category",
            chart: ChartType::Column,
            x: "category",
            y: Some("revenue"),
            series: None,
            check: |s| assert_eq!(s.title, "Revenue by category"),
        },
        Case {
            name: "long labels go horizontal",
            data: csv("product_name,total_revenue", 10, |i| {
                format!("Widget Professional Edition {i},{}", 45230 - i * 100)
            }),
            question: "top products by revenue",
            chart: ChartType::Bar,
            x: "product_name",
            y: Some("total_revenue"),
            series: None,
            check: none,
        },
        Case {
            name: "many categories go horizontal and keep the top 30",
            data: csv("city,customers", 120, |i| format!("C{i},{}", i % 40)),
            question: "customers per city",
            chart: ChartType::Bar,
            x: "city",
            y: Some("customers"),
            series: None,
            check: |s| {
                assert_eq!(s.limit, Some(30));
                assert!(s.subtitle.as_deref().unwrap().contains("30 largest of 120"));
            },
        },
        Case {
            name: "category with a small series column is grouped",
            data: csv("region,year_label,sales", 6, |i| {
                format!("{},{},{}", ["N", "S", "E"][i % 3], ["a", "b"][i / 3], i)
            }),
            question: "sales by region",
            chart: ChartType::Column,
            x: "region",
            y: Some("sales"),
            series: Some("year_label"),
            check: |s| assert_eq!(s.grouping, Some(Grouping::Grouped)),
        },
        Case {
            name: "stacked when asked",
            data: csv("region,channel,sales", 6, |i| {
                format!(
                    "{},{},{}",
                    ["N", "S", "E"][i % 3],
                    ["web", "shop"][i / 3],
                    i
                )
            }),
            question: "stacked bar of sales by region and channel",
            chart: ChartType::Column,
            x: "region",
            y: Some("sales"),
            series: Some("channel"),
            check: |s| assert_eq!(s.grouping, Some(Grouping::Stacked)),
        },
        Case {
            name: "share of a few parts is a pie",
            data: csv("segment,revenue", 4, |i| format!("seg{i},{}", 10 + i)),
            question: "share of revenue by segment",
            chart: ChartType::Pie,
            x: "segment",
            y: Some("revenue"),
            series: None,
            check: none,
        },
        Case {
            name: "share of many parts is not a pie",
            data: csv("segment,revenue", 20, |i| format!("seg{i},{}", 10 + i)),
            question: "share of revenue by segment",
            chart: ChartType::Bar,
            x: "segment",
            y: Some("revenue"),
            series: None,
            check: none,
        },
        Case {
            name: "explicit pie wins, with the rest as Other",
            data: csv("country,orders", 12, |i| format!("country{i},{}", 100 - i)),
            question: "show it as a pie chart",
            chart: ChartType::Pie,
            x: "country",
            y: Some("orders"),
            series: None,
            check: |s| assert_eq!(s.limit, Some(7)),
        },
        Case {
            name: "two measures make a scatter",
            data: csv("price,quantity", 50, |i| format!("{},{}", i, 100 - i)),
            question: "price and quantity",
            chart: ChartType::Scatter,
            x: "price",
            y: Some("quantity"),
            series: None,
            check: none,
        },
        Case {
            name: "scatter with many points is sampled",
            data: csv("a,b", 5000, |i| format!("{},{}", i, i * 2)),
            question: "a vs b",
            chart: ChartType::Scatter,
            x: "a",
            y: Some("b"),
            series: None,
            check: |s| {
                assert_eq!(s.sample, Some(2000));
                assert!(s.subtitle.as_deref().unwrap().contains("2,000 of 5,000"));
            },
        },
        Case {
            name: "one measure is a histogram",
            data: csv("order_value", 200, |i| format!("{}", (i * 37) % 500)),
            question: "order values",
            chart: ChartType::Histogram,
            x: "order_value",
            y: None,
            series: None,
            check: |s| {
                assert_eq!(s.bins, Some(9));
                assert_eq!(s.aggregation, Aggregation::Count);
            },
        },
        Case {
            name: "distribution asked with a category present",
            data: csv("customer,amount", 100, |i| format!("c{i},{}", i % 23)),
            question: "distribution of amount",
            chart: ChartType::Histogram,
            x: "amount",
            y: None,
            series: None,
            check: none,
        },
        Case {
            name: "categories without measure are counted",
            data: csv("status", 30, |i| {
                ["open", "closed", "pending"][i % 3].to_owned()
            }),
            question: "orders by status",
            chart: ChartType::Column,
            x: "status",
            y: None,
            series: None,
            check: |s| {
                assert_eq!(s.aggregation, Aggregation::Count);
                assert_eq!(s.y_label, "Count");
            },
        },
        Case {
            name: "repeated categories are summed and said so",
            data: csv("category,amount", 9, |i| format!("k{},{}", i % 3, i)),
            question: "amount by category",
            chart: ChartType::Column,
            x: "category",
            y: Some("amount"),
            series: None,
            check: |s| {
                assert_eq!(s.aggregation, Aggregation::Sum);
                assert!(s.subtitle.as_deref().unwrap().contains("Sum per category"));
            },
        },
        Case {
            name: "average when asked",
            data: csv("category,amount", 9, |i| format!("k{},{}", i % 3, i)),
            question: "average amount by category",
            chart: ChartType::Column,
            x: "category",
            y: Some("amount"),
            series: None,
            check: |s| assert_eq!(s.aggregation, Aggregation::Mean),
        },
        Case {
            name: "mentioned measure is chosen",
            data: csv("month,orders,revenue", 12, |i| {
                format!("{},{},{}", MONTHS[i], i, i * 9)
            }),
            question: "revenue per month",
            chart: ChartType::Line,
            x: "month",
            y: Some("revenue"),
            series: None,
            check: none,
        },
        Case {
            name: "id columns are categories, not measures",
            data: csv("customer_id,spend", 8, |i| format!("{},{}", 100 + i, i * 5)),
            question: "spend per customer",
            chart: ChartType::Column,
            x: "customer_id",
            y: Some("spend"),
            series: None,
            check: none,
        },
        Case {
            name: "explicit line over categories",
            data: csv("stage,users", 5, |i| format!("s{i},{}", 100 - i * 10)),
            question: "line chart of users per stage",
            chart: ChartType::Line,
            x: "stage",
            y: Some("users"),
            series: None,
            check: none,
        },
        Case {
            name: "impossible request falls back and says so",
            data: csv("category,revenue", 4, |i| format!("c{i},{i}")),
            question: "scatter plot please",
            chart: ChartType::Column,
            x: "category",
            y: Some("revenue"),
            series: None,
            check: |s| assert!(s.subtitle.as_deref().unwrap().contains("does not fit")),
        },
        Case {
            name: "quarters",
            data: csv("quarter,profit", 8, |i| {
                format!("{}-Q{},{}", 2023 + i / 4, i % 4 + 1, i)
            }),
            question: "profit by quarter",
            chart: ChartType::Line,
            x: "quarter",
            y: Some("profit"),
            series: None,
            check: none,
        },
        Case {
            name: "horizontal when asked",
            data: csv("team,score", 4, |i| format!("t{i},{i}")),
            question: "horizontal bar chart of scores",
            chart: ChartType::Bar,
            x: "team",
            y: Some("score"),
            series: None,
            check: none,
        },
    ]
}

#[test]
fn inference_table() {
    let cases = cases();
    assert!(cases.len() >= 20);
    for c in cases {
        let table = Table::parse(c.data.as_bytes()).unwrap();
        let spec = infer(&table, c.question).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(spec.chart_type, c.chart, "{}: {spec:#?}", c.name);
        assert_eq!(spec.x, c.x, "{}: {spec:#?}", c.name);
        assert_eq!(spec.y.as_deref(), c.y, "{}: {spec:#?}", c.name);
        assert_eq!(spec.series.as_deref(), c.series, "{}: {spec:#?}", c.name);
        (c.check)(&spec);
        // Every inferred spec renders, and survives a round trip through JSON.
        let back: crate::ChartSpec =
            serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
        Chart::render(&table, spec, Bundle::Linked).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    }
}

#[test]
fn empty_and_unusable_data_say_why() {
    let t = Table::parse(b"month,revenue\n").unwrap();
    let e = infer(&t, "x").unwrap_err();
    assert!(matches!(e, ChartError::Empty(_)));
    assert!(e.to_string().contains("no rows"), "{e}");
    let t = Table::parse(b"a,b\n,\n,\n").unwrap();
    assert!(matches!(infer(&t, "x"), Err(ChartError::Empty(_))));
    // A spec naming a missing column is refused, not drawn.
    let t = Table::parse(b"a,b\nx,1\n").unwrap();
    let mut spec = infer(&t, "").unwrap();
    spec.y = Some("nope".into());
    assert!(matches!(
        Chart::render(&t, spec, Bundle::Linked),
        Err(ChartError::InvalidSpec(_))
    ));
}

fn well_formed(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("SVG is not well-formed: {e}"))
}

fn texts(doc: &roxmltree::Document<'_>) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::to_owned))
        .collect()
}

#[test]
fn static_charts_are_well_formed_with_labels_and_right_sized_png() {
    let data = csv("product,revenue", 4, |i| {
        format!("{},{}", ["Apple", "Pear", "Fig", "Kiwi"][i], 10 + i)
    });
    let table = Table::parse(data.as_bytes()).unwrap();
    for t in crate::ChartType::ALL {
        let mut spec = infer(&table, "revenue by product").unwrap();
        spec.chart_type = t;
        if t == ChartType::Scatter {
            spec.x = "revenue".into();
        }
        if t == ChartType::Histogram {
            spec.x = "revenue".into();
            spec.y = None;
            spec.bins = Some(3);
            spec.aggregation = Aggregation::Count;
        }
        let chart = Chart::render(&table, spec, Bundle::Missing).unwrap();
        let doc = well_formed(&chart.svg);
        let all = texts(&doc).join("|");
        assert!(all.contains("Revenue by product"), "{t:?}: {all}");
        if !matches!(t, ChartType::Scatter | ChartType::Histogram) {
            for label in ["Apple", "Pear", "Fig", "Kiwi"] {
                assert!(all.contains(label), "{t:?} lacks {label}: {all}");
            }
        }
        let png = resvg::tiny_skia::Pixmap::decode_png(&chart.png).unwrap();
        assert_eq!((png.width(), png.height()), (crate::WIDTH, crate::HEIGHT));
        // Text was drawn with the embedded font: the title row is not blank.
        let dark = png
            .pixels()
            .iter()
            .take(crate::WIDTH as usize * 40)
            .filter(|p| p.red() < 100)
            .count();
        assert!(
            dark > 100,
            "{t:?}: no title text in the PNG ({dark} dark pixels)"
        );
        // Without the bundle the page still shows the static chart and says how to install.
        assert!(chart.html.contains("scripts/setup-web"));
        assert!(chart.html.contains("<svg"));
    }
}

#[test]
fn markup_in_data_is_escaped_everywhere() {
    let evil = "<img src=x onerror=alert(1)>";
    let data = format!(
        "\"<script>alert('c')</script>\",revenue\n\"{evil}\",1\n\"</script><script>alert(2)</script>\",2\n"
    );
    let table = Table::parse(data.as_bytes()).unwrap();
    let chart = Chart::build(&table, "revenue", Bundle::Linked).unwrap();
    let doc = well_formed(&chart.svg);
    let all = texts(&doc).join("|");
    assert!(all.contains("<img src=x"), "{all}");
    assert!(all.contains("</script><script>alert("), "{all}");
    assert!(!chart.svg.contains("<img"));
    assert!(!chart.html.contains("<img"), "raw markup in the page");
    assert!(
        !chart.html.contains("<script>alert"),
        "raw script in the page"
    );
    assert_eq!(
        chart.html.matches("</script>").count(),
        chart.html.matches("<script").count()
    );
}

/// Random tables (odd shapes, extreme numbers, markup, empty cells) either chart or give a
/// data error: never a panic, never a rendering failure.
#[test]
fn random_tables_chart_or_fail_cleanly() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let cells = [
        "",
        "0",
        "-1",
        "1e99",
        "-1e99",
        "1e300",
        "3.5",
        "2025-01",
        "2025-13",
        "2024-02-29",
        "2025-Q3",
        "1999",
        "<b>x</b>",
        "\"q\"",
        "x,y",
        "NaN",
        "é",
        "2025-01-01T10:00:00Z",
        "7",
    ];
    let names = [
        "year",
        "month",
        "a",
        "value",
        "id",
        "",
        "cat",
        "<i>",
        "total revenue",
    ];
    let questions = [
        "",
        "pie",
        "histogram",
        "scatter",
        "stacked area",
        "average by month",
        "bar",
    ];
    for _ in 0..300 {
        let cols = 1 + (next() % 4) as usize;
        let rows = (next() % 40) as usize;
        let mut csv = String::new();
        let header: Vec<String> = (0..cols)
            .map(|_| names[(next() % names.len() as u64) as usize].to_owned())
            .collect();
        csv.push_str(&header.join(","));
        csv.push('\n');
        for _ in 0..rows {
            let row: Vec<String> = (0..cols)
                .map(|_| {
                    let c = cells[(next() % cells.len() as u64) as usize];
                    format!("\"{}\"", c.replace('"', "\"\""))
                })
                .collect();
            csv.push_str(&row.join(","));
            csv.push('\n');
        }
        let q = questions[(next() % questions.len() as u64) as usize];
        let Ok(table) = Table::parse(csv.as_bytes()) else {
            continue;
        };
        // SVG only: rasterising 300 charts is slow in debug builds, and PNG comes from the SVG.
        let rendered = infer(&table, q).and_then(|spec| {
            let data = crate::prepare(&table, &spec)?;
            crate::render_svg(&spec, &data)
        });
        match rendered {
            Ok(svg) => {
                well_formed(&svg);
            }
            Err(ChartError::Render(e)) => panic!("render failed on {q:?}:\n{csv}\n{e}"),
            Err(_) => {}
        }
    }
}
