//! `chatroom bench --plot FILE.svg`: a run's latency distribution as an HDR percentile
//! plot (latency against percentile, the tail spread out on a log scale), and a ramp's ack
//! p95 and deliveries/s against members, drawn as SVG with plotters.

use std::path::Path;

use hdrhistogram::Histogram;
use plotters::prelude::*;

use super::{RAMP_LIMIT, RampStep};

/// One point of a latency distribution: this fraction of the samples took at most `ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    pub quantile: f64,
    pub ms: f64,
}

/// Why a plot was not written.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {path}: {reason}")]
pub struct PlotError {
    path: String,
    reason: String,
}

/// The deepest percentile plotted: 99.999 %.
const DEEPEST_NINES: u32 = 5;

/// A histogram's distribution at the quantiles an HDR plot shows: ten steps per nine, from
/// the median out to 99.999 %, then the maximum.
pub fn curve(histogram: &Histogram<u64>) -> Vec<CurvePoint> {
    if histogram.is_empty() {
        return Vec::new();
    }
    let ms = |micros: u64| micros as f64 / 1000.0;
    let mut points: Vec<CurvePoint> = (3..=DEEPEST_NINES * 10)
        .map(|tenth| 1.0 - 10f64.powf(-f64::from(tenth) / 10.0))
        .map(|quantile| CurvePoint {
            quantile,
            ms: ms(histogram.value_at_quantile(quantile)),
        })
        .collect();
    points.push(CurvePoint {
        quantile: 1.0 - 10f64.powi(-(DEEPEST_NINES as i32 + 1)),
        ms: ms(histogram.max()),
    });
    points
}

/// Where a quantile goes on the x axis: 1 / (1 − q), so 90 % is 10, 99 % is 100, and so on.
fn spread(quantile: f64) -> f64 {
    1.0 / (1.0 - quantile).max(1e-9)
}

/// A tick of the x axis as a percentile: "90%", "99.9%".
fn percent_label(x: &f64) -> String {
    let percent = 100.0 * (1.0 - 1.0 / x);
    let text = format!("{percent:.4}");
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

/// Draws latency distributions (such as a run's delivery and acknowledgement latencies) as
/// one HDR percentile plot.
pub fn percentile_plot(
    path: &Path,
    title: &str,
    series: &[(&str, &[CurvePoint])],
) -> Result<(), PlotError> {
    draw(path, |root| {
        let top = series
            .iter()
            .flat_map(|(_, points)| points.iter().map(|p| p.ms))
            .fold(1.0f64, f64::max);
        let x_end = spread(1.0 - 10f64.powi(-(DEEPEST_NINES as i32 + 1)));
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d((1.0f64..x_end).log_scale(), 0.0f64..top * 1.1)?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_label_formatter(&percent_label)
            .draw()?;
        for (n, (name, points)) in series.iter().enumerate() {
            let colour = Palette99::pick(n).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|p| (spread(p.quantile), p.ms)),
                    colour.stroke_width(2),
                ))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}

/// Draws a ramp: ack p95 against members (with the 500 ms limit the ramp stops at) above,
/// deliveries/s against members below. Failed steps are left out.
pub fn ramp_plot(path: &Path, steps: &[RampStep]) -> Result<(), PlotError> {
    let rows: Vec<(f64, f64, f64)> = steps
        .iter()
        .filter_map(|step| {
            let report = step.report.as_ref().ok()?;
            Some((
                step.clients as f64,
                report.ack_ms.p95,
                report.deliveries_per_sec,
            ))
        })
        .collect();
    draw(path, |root| {
        let (upper, lower) = root.split_vertically(root.dim_in_pixel().1 / 2);
        let (first, last) = rows
            .iter()
            .fold((f64::MAX, 1.0f64), |(lo, hi), r| (lo.min(r.0), hi.max(r.0)));
        let first = if rows.is_empty() { 1.0 } else { first };
        let members = first * 0.8..last * 1.25;
        let limit = RAMP_LIMIT.as_secs_f64() * 1000.0;
        let ack_top = rows.iter().map(|r| r.1).fold(limit, f64::max) * 1.1;
        let mut acks = ChartBuilder::on(&upper)
            .caption("ack p95 against members", ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(members.clone().log_scale(), 0.0..ack_top)?;
        acks.configure_mesh()
            .x_desc("members")
            .y_desc("ack p95 (ms)")
            .draw()?;
        acks.draw_series(LineSeries::new(
            [(members.start, limit), (members.end, limit)],
            RED.mix(0.6),
        ))?
        .label(format!("limit, {limit:.0} ms"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.mix(0.6)));
        let line = Palette99::pick(0).to_rgba();
        acks.draw_series(LineSeries::new(
            rows.iter().map(|r| (r.0, r.1)),
            line.stroke_width(2),
        ))?
        .label("ack p95")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line));
        acks.draw_series(
            rows.iter()
                .map(|r| Circle::new((r.0, r.1), 3, line.filled())),
        )?;
        acks.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;

        let rate_top = rows.iter().map(|r| r.2).fold(1.0, f64::max) * 1.1;
        let mut rates = ChartBuilder::on(&lower)
            .caption("deliveries/s against members", ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(members.log_scale(), 0.0..rate_top)?;
        rates
            .configure_mesh()
            .x_desc("members")
            .y_desc("deliveries/s")
            .draw()?;
        let line = Palette99::pick(1).to_rgba();
        rates.draw_series(LineSeries::new(
            rows.iter().map(|r| (r.0, r.2)),
            line.stroke_width(2),
        ))?;
        rates.draw_series(
            rows.iter()
                .map(|r| Circle::new((r.0, r.2), 3, line.filled())),
        )?;
        Ok(())
    })
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Draws on a white 900×600 SVG at `path` and writes it out.
fn draw(path: &Path, paint: impl FnOnce(&Area<'_>) -> DrawResult) -> Result<(), PlotError> {
    let failed = |reason: String| PlotError {
        path: path.display().to_string(),
        reason,
    };
    let root = SVGBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(e.to_string()))?;
    paint(&root).map_err(|e| failed(e.to_string()))?;
    root.present().map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::tally::new_histogram;
    use crate::bench::{Percentiles, Report};

    fn histogram_of_ms(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut histogram = new_histogram();
        for ms in values {
            histogram.record(ms * 1000).unwrap();
        }
        histogram
    }

    fn svg(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    /// A file name in a directory of its own, removed with the returned guard.
    fn temp_svg(name: &str) -> (std::path::PathBuf, impl Drop) {
        struct Cleanup(std::path::PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let dir = std::env::temp_dir().join(format!("chatroom-plot-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        (dir.join(name), Cleanup(dir))
    }

    #[test]
    fn a_curve_runs_from_the_median_out_to_the_maximum() {
        let points = curve(&histogram_of_ms(1..=1000));
        assert!((points[0].quantile - 0.5).abs() < 0.002, "{:?}", points[0]);
        assert!((points[0].ms - 500.0).abs() < 2.0, "{:?}", points[0]);
        assert!(points.windows(2).all(|w| w[0].quantile < w[1].quantile));
        assert!(points.windows(2).all(|w| w[0].ms <= w[1].ms));
        let last = points.last().unwrap();
        assert!((last.ms - 1000.0).abs() < 2.0, "{last:?}");
        assert!(curve(&new_histogram()).is_empty());
    }

    #[test]
    fn percentiles_read_as_percentiles_on_the_axis() {
        assert_eq!(percent_label(&spread(0.5)), "50%");
        assert_eq!(percent_label(&spread(0.99)), "99%");
        assert_eq!(percent_label(&spread(0.999)), "99.9%");
        assert_eq!(percent_label(&10.0), "90%");
    }

    #[test]
    fn a_percentile_plot_is_an_svg_with_its_title_axes_and_lines() {
        let (path, _cleanup) = temp_svg("latency.svg");
        let delivery = curve(&histogram_of_ms(1..=200));
        let acks = curve(&histogram_of_ms(1..=50));
        percentile_plot(
            &path,
            "latency by percentile",
            &[("delivery", &delivery), ("send acknowledged", &acks)],
        )
        .unwrap();
        let drawn = svg(&path);
        assert!(drawn.starts_with("<svg"), "{}", &drawn[..80]);
        for text in [
            "latency by percentile",
            "percentile",
            "latency (ms)",
            "delivery",
            "send acknowledged",
            "99%",
        ] {
            assert!(drawn.contains(text), "no {text:?} in the plot");
        }
        // Each curve is one line through all its points.
        let long_lines = drawn
            .split("<polyline")
            .skip(1)
            .filter(|line| {
                let points = line.split("points=\"").nth(1).unwrap_or("");
                let points = &points[..points.find('"').unwrap_or(0)];
                points.split_whitespace().count() >= delivery.len()
            })
            .count();
        assert_eq!(long_lines, 2, "one line per curve");
    }

    #[test]
    fn a_ramp_plot_shows_ack_p95_and_throughput_against_members_with_the_limit() {
        let (path, _cleanup) = temp_svg("ramp.svg");
        let step = |clients: usize, p95: f64, rate: f64| RampStep {
            clients,
            report: Ok(Report {
                clients,
                publishers: 4,
                rooms: 1,
                servers: Vec::new(),
                connect_s: 1.0,
                messages_sent: 1,
                deliveries_expected: 1,
                deliveries: 1,
                deliveries_per_sec: rate,
                lost: 0,
                duplicated: 0,
                out_of_order: 0,
                misrouted: 0,
                latency_ms: Percentiles::default(),
                ack_ms: Percentiles {
                    p95,
                    ..Percentiles::default()
                },
                elapsed_s: 1.0,
                latency_curve: Vec::new(),
                ack_curve: Vec::new(),
            }),
        };
        let steps = [
            step(500, 20.0, 200_000.0),
            step(1000, 80.0, 210_000.0),
            step(2000, 620.0, 190_000.0),
            RampStep {
                clients: 4000,
                report: Err(crate::bench::BenchError::RateLimited("refused".into())),
            },
        ];
        ramp_plot(&path, &steps).unwrap();
        let drawn = svg(&path);
        for text in [
            "ack p95 against members",
            "deliveries/s against members",
            "limit, 500 ms",
            "members",
        ] {
            assert!(drawn.contains(text), "no {text:?} in the plot");
        }
        // Three steps measured, each a dot in both charts; the failed one is left out.
        assert_eq!(drawn.matches("<circle").count(), 6);
    }

    #[test]
    fn a_plot_that_cannot_be_written_says_where() {
        let err = percentile_plot(Path::new("/nonexistent/dir/x.svg"), "t", &[]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/dir/x.svg"), "{err}");
    }
}
