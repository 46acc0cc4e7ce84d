//! The plot of a run: requests/s and p99 latency by concurrency, one panel per tool and
//! measure, one line per server (log scales: FastMCP and the echo are orders apart).

use std::path::Path;

use plotters::coord::combinators::IntoLogRange;
use plotters::prelude::*;

use crate::report::{ECHO, FASTMCP, HttpCell, MANGO, RAW, RAW_PER_CALL, Report};

fn color(server: &str) -> RGBColor {
    match server {
        MANGO => RGBColor(230, 120, 0),
        RAW => RGBColor(30, 90, 200),
        RAW_PER_CALL => RGBColor(120, 160, 230),
        ECHO => RGBColor(120, 120, 120),
        FASTMCP => RGBColor(200, 40, 60),
        _ => RGBColor(0, 0, 0),
    }
}

/// The range `[lo/1.5, hi*8]` of the positive values, for a log axis: room on top for
/// the legend.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        (0.1, 10.0)
    } else {
        (lo / 1.5, hi * 8.0)
    }
}

/// The x position of a concurrency: its base-2 logarithm (1, 8 and 64 at 0, 3 and 6).
fn x_of(concurrency: usize) -> f64 {
    (concurrency.max(1) as f64).log2()
}

/// Draws the report's HTTP cells as an SVG at `path`.
pub fn draw(report: &Report, path: &Path) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let root = SVGBackend::new(path, (1100, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let root = root
        .titled(
            "mango vs raw rmcp over Streamable HTTP (stateless JSON)",
            ("sans-serif", 22),
        )
        .map_err(|x| e(&x))?;
    let panels = root.split_evenly((2, 2));
    let tools = ["add", "note_add"];
    type Measure = (&'static str, fn(&HttpCell) -> f64);
    let measures: [Measure; 2] = [
        ("requests/s", |c| c.requests_per_second),
        ("p99 latency (ms)", |c| c.p99_ms),
    ];
    let mut servers: Vec<&str> = Vec::new();
    for c in &report.http {
        if !servers.contains(&c.server.as_str()) {
            servers.push(&c.server);
        }
    }
    for (i, panel) in panels.iter().enumerate() {
        let tool = tools[i / 2];
        let (label, value) = measures[i % 2];
        let cells: Vec<&HttpCell> = report.http.iter().filter(|c| c.tool == tool).collect();
        let (lo, hi) = span(cells.iter().map(|c| value(c)));
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{tool}: {label}"), ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.3f64..6.3f64, (lo..hi).log_scale())
            .map_err(|x| e(&x))?;
        chart
            .configure_mesh()
            .x_desc("concurrent connections")
            .x_labels(7)
            .max_light_lines(1)
            .y_labels(6)
            .x_label_formatter(&|x| {
                let c = 2f64.powf(x.round());
                if (x - x.round()).abs() < 0.01 && [1.0, 8.0, 64.0].contains(&c) {
                    format!("{c:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| {
                if *y >= 1000.0 {
                    format!("{:.0}k", y / 1000.0)
                } else if *y >= 10.0 {
                    format!("{y:.0}")
                } else {
                    format!("{y:.1}")
                }
            })
            .draw()
            .map_err(|x| e(&x))?;
        for server in &servers {
            let mut points: Vec<(f64, f64)> = cells
                .iter()
                .filter(|c| c.server == *server && value(c) > 0.0)
                .map(|c| (x_of(c.concurrency), value(c)))
                .collect();
            if points.is_empty() {
                continue;
            }
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let c = color(server);
            chart
                .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))
                .map_err(|x| e(&x))?
                .label(*server)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            chart
                .draw_series(PointSeries::of_element(
                    points,
                    3,
                    c.filled(),
                    &|p, s, st| Circle::new(p, s, st),
                ))
                .map_err(|x| e(&x))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 12))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|x| e(&x))?;
    }
    root.present().map_err(|x| e(&x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_spans_skip_zeros_and_have_a_default() {
        assert_eq!(span([0.0, 10.0, 100.0].into_iter()), (10.0 / 1.5, 800.0));
        assert_eq!(span(std::iter::empty()), (0.1, 10.0));
        assert_eq!((x_of(1), x_of(8), x_of(64)), (0.0, 3.0, 6.0));
    }
}
