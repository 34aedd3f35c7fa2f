//! Renders one example of each chart type as PNG (and SVG) into a directory: the images of
//! docs/charts.md.
//!
//!     cargo run -p quarry-chart --example gallery -- docs/images/charts

use std::path::PathBuf;

use quarry_chart::{Bundle, Chart, Table};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "docs/images/charts".into()),
    );
    std::fs::create_dir_all(&out)?;
    let months = [
        "2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06", "2025-07", "2025-08",
        "2025-09", "2025-10", "2025-11", "2025-12",
    ];
    let mut monthly = String::from("month,revenue\n");
    let mut by_region = String::from("month,region,revenue\n");
    for (i, m) in months.iter().enumerate() {
        let base = 42_000.0 + 2_500.0 * i as f64 + if i % 3 == 0 { 4_000.0 } else { 0.0 };
        monthly.push_str(&format!("{m},{base:.2}\n"));
        for (j, r) in ["North", "South", "West"].iter().enumerate() {
            by_region.push_str(&format!("{m},{r},{:.2}\n", base / (j as f64 + 1.5)));
        }
    }
    let products = "product_name,total_revenue\nWidget Pro,45230.00\nGadget Max,38110.50\n\
        Doohickey Deluxe Edition,30500.00\nThingamajig Compact,21980.25\nSprocket Basic,15200.00\n\
        Gizmo Lite,9800.00\n";
    let categories = "category,channel,sales\nBooks,web,120\nBooks,store,80\nGames,web,200\n\
        Games,store,150\nMusic,web,90\nMusic,store,60\nToys,web,140\nToys,store,170\n";
    let segments = "segment,revenue\nConsumer,5400\nCorporate,3100\nHome office,1800\nPublic,700\n";
    let mut scatter = String::from("unit_price,quantity\n");
    let mut values = String::from("order_value\n");
    for i in 0..120u32 {
        let p = 5.0 + f64::from((i * 37) % 95);
        let q = (400.0 / p).round() + f64::from((i * 13) % 7);
        scatter.push_str(&format!("{p},{q}\n"));
        let v = 40.0 + f64::from((i * 7919) % 97) + f64::from((i * 104_729) % 61);
        values.push_str(&format!("{v}\n"));
    }
    let examples: [(&str, &str, &str); 8] = [
        ("line", monthly.as_str(), "monthly revenue trend"),
        (
            "area",
            by_region.as_str(),
            "revenue by region over time as an area chart",
        ),
        ("column", categories, "sales by category and channel"),
        (
            "stacked_column",
            categories,
            "stacked sales by category and channel",
        ),
        ("bar", products, "top products by revenue"),
        ("pie", segments, "share of revenue by segment"),
        ("scatter", scatter.as_str(), "unit price vs quantity"),
        ("histogram", values.as_str(), "distribution of order value"),
    ];
    for (name, data, question) in examples {
        let table = Table::parse(data.as_bytes())?;
        let chart = Chart::build(&table, question, Bundle::Linked)?;
        std::fs::write(out.join(format!("{name}.png")), &chart.png)?;
        std::fs::write(
            out.join(format!("{name}.json")),
            serde_json::to_string_pretty(&chart.spec)? + "\n",
        )?;
    }
    Ok(())
}
