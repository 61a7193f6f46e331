//! Charts drawn by `plotters` into an SVG string (the browser lays out the text, so Chinese
//! labels need no font files) and shown inline, scaled to the card's width.

use crate::i18n::Lang;
use crate::reports::Series;
use crate::session::use_lang;
use plotters::prelude::*;
use yew::prelude::*;

/// The drawing size; the SVG scales to the card (viewBox), so this sets the proportions.
const WIDTH: u32 = 600;
const HEIGHT: u32 = 280;

const PALETTE: [RGBColor; 4] = [
    RGBColor(37, 99, 235),
    RGBColor(22, 163, 74),
    RGBColor(245, 158, 11),
    RGBColor(220, 38, 38),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One line per series (trends over days or months).
    Line,
    /// Bars grouped per label (figures per grade, store, rule...).
    Bars,
}

/// Text that goes into the SVG: markup characters out (names come from the database).
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '<' | '>' | '&' | '"' | '\''))
        .collect()
}

/// An axis figure as readers of the language count: 万 (ten thousand) in Chinese, k and M in
/// English.
pub fn axis_figure(y: f64, unit: &str, lang: Lang) -> String {
    let short = |v: f64, suffix: &str| format!("{v:.1}{suffix}{unit}");
    match lang {
        Lang::Zh if y.abs() >= 10_000.0 => short(y / 10_000.0, "万"),
        Lang::En if y.abs() >= 1_000_000.0 => short(y / 1_000_000.0, "M"),
        Lang::En if y.abs() >= 10_000.0 => short(y / 1_000.0, "k"),
        _ if y.fract().abs() < 1e-9 => format!("{y:.0}{unit}"),
        _ => format!("{y:.1}{unit}"),
    }
}

/// The chart as an SVG document, or `None` when plotters refused (it never should).
pub fn render_svg(kind: Kind, series: &Series, y_unit: &str, lang: Lang) -> Option<String> {
    let n = series.labels.len().max(1);
    let top = series
        .lines
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::max);
    let bottom = series
        .lines
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::min);
    // Headroom above the highest value for the legend (upper right).
    let top = if top <= 0.0 { 1.0 } else { top * 1.4 };
    let bottom = if bottom < 0.0 { bottom * 1.12 } else { 0.0 };
    let labels: Vec<String> = series.labels.iter().map(|l| clean(l)).collect();
    // Counts get whole-number ticks.
    let whole = series
        .lines
        .iter()
        .all(|(_, v)| v.iter().all(|x| x.fract() == 0.0));
    let unit = clean(y_unit);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), bottom..top)
            .ok()?;
        let label_of = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let y_fmt = |y: &f64| axis_figure(*y, &unit, lang);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(RGBColor(238, 240, 244))
            .bold_line_style(RGBColor(226, 230, 236))
            .x_labels(n.min(10))
            .y_labels(if whole && top < 6.0 {
                top.ceil() as usize + 1
            } else {
                6
            })
            .x_label_formatter(&label_of)
            .y_label_formatter(&y_fmt)
            .label_style(("sans-serif", 15).into_font().color(&RGBColor(75, 85, 99)))
            .axis_style(RGBColor(156, 163, 175))
            .draw()
            .ok()?;
        let groups = series.lines.len().max(1) as f64;
        let width = 0.8 / groups;
        for (k, (name, values)) in series.lines.iter().enumerate() {
            let colour = PALETTE[k % PALETTE.len()];
            let drawn = match kind {
                Kind::Line => chart
                    .draw_series(
                        LineSeries::new(
                            values.iter().enumerate().map(|(i, v)| (i as f64, *v)),
                            colour.stroke_width(2),
                        )
                        .point_size(if n <= 31 { 3 } else { 0 }),
                    )
                    .ok()?,
                Kind::Bars => chart
                    .draw_series(values.iter().enumerate().map(|(i, v)| {
                        let left = i as f64 - 0.4 + k as f64 * width;
                        Rectangle::new(
                            [(left + width * 0.08, 0.0), (left + width * 0.92, *v)],
                            colour.filled(),
                        )
                    }))
                    .ok()?,
            };
            drawn.label(clean(name)).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled())
            });
        }
        if !series.lines.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(226, 230, 236))
                .label_font(("sans-serif", 15))
                .draw()
                .ok()?;
        }
        root.present().ok()?;
    }
    Some(svg)
}

#[derive(Properties, PartialEq)]
pub struct ChartProps {
    pub id: AttrValue,
    pub title: AttrValue,
    pub kind: Kind,
    pub series: Series,
    #[prop_or_default]
    pub unit: AttrValue,
    /// Shown instead of a flat chart when every value is zero.
    pub empty_text: AttrValue,
}

/// A titled chart card.
#[function_component(Chart)]
pub fn chart(props: &ChartProps) -> Html {
    let lang = use_lang();
    let svg = use_memo(
        (props.kind, props.series.clone(), props.unit.clone(), lang),
        |(kind, series, unit, lang)| render_svg(*kind, series, unit, *lang),
    );
    let body = if props.series.labels.is_empty() || props.series.is_all_zero() {
        html! { <div class="state empty-state">{ props.empty_text.clone() }</div> }
    } else {
        match &*svg {
            Some(svg) => Html::from_html_unchecked(AttrValue::from(svg.clone())),
            None => html! { <div class="state empty-state">{ props.empty_text.clone() }</div> },
        }
    };
    html! {
        <figure class="card chart" id={props.id.clone()}>
            <figcaption>{ props.title.clone() }</figcaption>
            <div class="chart-body">{ body }</div>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> Series {
        Series {
            labels: vec!["H".into(), "A".into(), "<b>".into()],
            lines: vec![
                ("线索".into(), vec![5.0, 3.0, 1.0]),
                ("成交".into(), vec![2.0, 1.0, 0.0]),
            ],
        }
    }

    #[test]
    fn bars_are_drawn_as_rectangles_with_labels_and_legend() {
        let svg = render_svg(Kind::Bars, &series(), "", Lang::Zh).unwrap();
        assert!(svg.starts_with("<svg"));
        // 6 bars + 2 legend swatches + the background, at least.
        assert!(svg.matches("<rect").count() >= 9, "{svg}");
        assert!(svg.contains("线索") && svg.contains("成交"));
        assert!(svg.contains("\nH\n"), "{svg}");
        assert!(!svg.contains("<b>"));
    }

    #[test]
    fn lines_are_drawn_as_polylines() {
        let svg = render_svg(Kind::Line, &series(), "元", Lang::Zh).unwrap();
        assert!(svg.contains("<polyline"), "{svg}");
    }

    #[test]
    fn a_flat_series_still_renders() {
        let s = Series {
            labels: vec!["x".into()],
            lines: vec![("a".into(), vec![0.0])],
        };
        assert!(s.is_all_zero());
        assert!(render_svg(Kind::Bars, &s, "", Lang::En).is_some());
    }

    #[test]
    fn axis_figures_count_as_the_language_does() {
        assert_eq!(axis_figure(125_000.0, "", Lang::Zh), "12.5万");
        assert_eq!(axis_figure(125_000.0, "", Lang::En), "125.0k");
        assert_eq!(axis_figure(2_500_000.0, "", Lang::En), "2.5M");
        assert_eq!(axis_figure(800.0, "%", Lang::En), "800%");
        assert_eq!(axis_figure(2.5, "", Lang::Zh), "2.5");
    }
}
