//! The examples' one small chart helper: line charts as SVG, drawn with
//! `plotters`, one panel per chart stacked in one file.
#![allow(dead_code)]

use std::path::Path;

use plotters::prelude::*;

/// Where a panel's legend goes.
pub use plotters::prelude::SeriesLabelPosition as LegendPosition;

/// One line of a panel.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Grey and dashed: a reference line (a ceiling), not a measurement.
    pub reference: bool,
}

/// One chart.
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub series: Vec<Series>,
    /// Where the legend goes (upper right unless told).
    pub legend: Option<SeriesLabelPosition>,
}

const PANEL: (u32, u32) = (900, 420);

/// A palette that stays readable for a dozen lines.
const COLORS: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 128),
    RGBColor(128, 128, 0),
    RGBColor(0, 128, 128),
];

/// Writes `panels`, one under the other, to the SVG file `path`.
pub fn write_svg(path: &Path, panels: &[Panel]) -> Result<(), String> {
    let height = PANEL.1 * panels.len().max(1) as u32;
    let root = SVGBackend::new(path, (PANEL.0, height)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let areas = root.split_evenly((panels.len().max(1), 1));
    for (panel, area) in panels.iter().zip(&areas) {
        draw(panel, area).map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))
}

fn bounds(panel: &Panel) -> ((f64, f64), (f64, f64)) {
    let pts = || panel.series.iter().flat_map(|s| s.points.iter().copied());
    let fold = |f: fn(&(f64, f64)) -> f64| {
        pts()
            .map(|p| f(&p))
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    };
    let (mut x, mut y) = (fold(|p| p.0), fold(|p| p.1));
    if !x.0.is_finite() {
        (x, y) = ((1.0, 10.0), (0.0, 1.0));
    }
    if y.0 == y.1 {
        (y.0, y.1) = (y.0 - 1.0, y.1 + 1.0);
    }
    let pad = (y.1 - y.0) * 0.05;
    (x, (y.0 - pad, y.1 + pad))
}

fn draw<DB: DrawingBackend>(
    panel: &Panel,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let ((x0, x1), (y0, y1)) = bounds(panel);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&panel.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60);
    if panel.log_x {
        plot(
            panel,
            &mut builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1)?,
        )
    } else {
        plot(panel, &mut builder.build_cartesian_2d(x0..x1, y0..y1)?)
    }
}

/// The mesh, the lines (reference series dashed and grey) and the legend,
/// on either kind of x axis.
fn plot<'a, DB, X>(
    panel: &Panel,
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .x_label_formatter(&|v| format!("{v:e}"))
        .draw()?;
    let mut color = 0;
    for s in &panel.series {
        let style = if s.reference {
            RGBColor(120, 120, 120).stroke_width(1)
        } else {
            color += 1;
            COLORS[(color - 1) % COLORS.len()].stroke_width(2)
        };
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|p| p.1.is_finite())
            .collect();
        if s.reference {
            chart
                .draw_series(DashedLineSeries::new(points, 6, 4, style))?
                .label(s.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        } else {
            chart
                .draw_series(LineSeries::new(points, style))?
                .label(s.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
    }
    chart
        .configure_series_labels()
        .position(
            panel
                .legend
                .clone()
                .unwrap_or(SeriesLabelPosition::UpperRight),
        )
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
