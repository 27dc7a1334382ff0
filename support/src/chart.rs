//! The examples' one small chart helper: line charts as SVG, drawn with
//! `plotters`, one panel per chart stacked in one file.
#![allow(dead_code)]

use std::path::Path;

use plotters::prelude::*;

/// Where a panel's legend goes.
pub use plotters::prelude::SeriesLabelPosition as LegendPosition;

/// How a line looks; the number picks the shade or colour, so that the
/// same line keeps its colour from panel to panel.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// A reference line (a ceiling), not a measurement: grey, dashed (0
    /// light, 1 dark), drawn over the others.
    Reference(usize),
    /// One of regnorm's paths: shades of blue (0 darkest).
    Ours(usize),
    /// Anything else (a peer, a coefficient): its own colour, never blue.
    Other(usize),
}

impl Look {
    /// Draw order: others, then regnorm's paths, then references on top.
    fn layer(self) -> u8 {
        match self {
            Look::Other(_) => 0,
            Look::Ours(_) => 1,
            Look::Reference(_) => 2,
        }
    }
}

/// One line of a panel.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub look: Look,
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

/// regnorm's paths: dark to light blue.
const BLUES: [RGBColor; 3] = [
    RGBColor(8, 48, 107),
    RGBColor(33, 113, 181),
    RGBColor(107, 174, 214),
];

/// Everything else: distinct colours, none of them blue.
const OTHERS: [RGBColor; 10] = [
    RGBColor(230, 97, 1),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(128, 128, 0),
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

/// The mesh, the lines (see [`Look`]) and the legend,
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
    for layer in 0..3 {
        for s in panel.series.iter().filter(|s| s.look.layer() == layer) {
            let style = match s.look {
                Look::Reference(i) => {
                    let grey = if i == 0 { 150 } else { 70 };
                    RGBColor(grey, grey, grey).stroke_width(2)
                }
                Look::Ours(i) => BLUES[i % BLUES.len()].stroke_width(3),
                Look::Other(i) => OTHERS[i % OTHERS.len()].stroke_width(2),
            };
            let points: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.1.is_finite())
                .collect();
            let legend =
                move |(x, y): (i32, i32)| PathElement::new(vec![(x, y), (x + 18, y)], style);
            if let Look::Reference(i) = s.look {
                let (dash, gap) = if i == 0 { (4, 4) } else { (10, 5) };
                chart
                    .draw_series(DashedLineSeries::new(points, dash, gap, style))?
                    .label(s.name.as_str())
                    .legend(legend);
            } else {
                chart
                    .draw_series(LineSeries::new(points, style))?
                    .label(s.name.as_str())
                    .legend(legend);
            }
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
