//! Small SVG charts drawn on the server: stacked bars and lines, coloured by the style sheet
//! (no script, no inline style). Each mark carries a `<title>` with its figure, and each chart
//! its data as a table for those who would rather read.

use maud::{html, Markup};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 10.0;

/// A named series and the style sheet class it is drawn in.
pub struct Series<'a, T> {
    pub name: &'a str,
    pub class: &'a str,
    pub values: Vec<T>,
}

fn plot_height() -> f64 {
    HEIGHT - BOTTOM - TOP
}

/// The x axis's labels (a day shortened to `MM-DD`), every other one when crowded.
fn x_labels(labels: &[String], x_of: impl Fn(usize) -> f64) -> Markup {
    let step = if labels.len() > 8 { 2 } else { 1 };
    html! {
        @for (i, label) in labels.iter().enumerate().filter(|(i, _)| i % step == 0) {
            text.axis x=(format!("{:.1}", x_of(i))) y=(format!("{:.1}", HEIGHT - 8.0)) text-anchor="middle" {
                (short_label(label))
            }
        }
    }
}

/// A `YYYY-MM-DD` day as `MM-DD`; any other label as it is.
fn short_label(label: &str) -> &str {
    let is_day = label.len() == 10
        && label.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if is_day {
        &label[5..]
    } else {
        label
    }
}

/// A count axis's top: even (so its middle tick is a whole number), at least 2.
fn count_axis_top(max: u64) -> f64 {
    (max.max(2) + max.max(2) % 2) as f64
}

fn y_axis(max: f64, format: &dyn Fn(f64) -> String) -> Markup {
    html! {
        @for tick in [0.0, 0.5, 1.0] {
            @let y = TOP + plot_height() * (1.0 - tick);
            line.grid x1=(LEFT) x2=(WIDTH) y1=(format!("{y:.1}")) y2=(format!("{y:.1}")) {}
            text.axis x=(LEFT - 6.0) y=(format!("{:.1}", y + 4.0)) text-anchor="end" { (format(max * tick)) }
        }
    }
}

fn legend<T>(series: &[Series<'_, T>]) -> Markup {
    html! {
        p.legend { @for s in series { span class=(format!("key {}", s.class)) {} " " (s.name) " " } }
    }
}

fn data_table<T>(labels: &[String], series: &[Series<'_, T>], show: impl Fn(&T) -> String) -> Markup {
    html! {
        details {
            summary { "Data" }
            table {
                thead { tr { th { "" } @for s in series { th { (s.name) } } } }
                tbody {
                    @for (i, label) in labels.iter().enumerate() {
                        tr { th scope="row" { (label) } @for s in series { td { (s.values.get(i).map(&show).unwrap_or_default()) } } }
                    }
                }
            }
        }
    }
}

/// Bars per label, each stacked from its series' counts.
pub fn stacked_bars(id: &str, title: &str, labels: &[String], series: &[Series<'_, u64>]) -> Markup {
    let totals: Vec<u64> = (0..labels.len()).map(|i| series.iter().filter_map(|s| s.values.get(i)).sum()).collect();
    let max = count_axis_top(totals.iter().copied().max().unwrap_or(0));
    let slot = (WIDTH - LEFT) / labels.len().max(1) as f64;
    let x_of = |i: usize| LEFT + slot * (i as f64 + 0.5);
    // Each bar's segments, bottom up: (series, label, value, top y, height).
    let mut segments = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let mut stacked = 0.0;
        for s in series {
            let value = s.values.get(i).copied().unwrap_or(0);
            if value > 0 {
                let height = plot_height() * value as f64 / max;
                segments.push((s, i, label, value, TOP + plot_height() - stacked - height, height));
                stacked += height;
            }
        }
    }
    html! {
        figure.chart #(id) {
            figcaption { (title) }
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(title) {
                (y_axis(max, &|v| format!("{v:.0}")))
                @for (s, i, label, value, y, height) in segments {
                    rect class=(s.class) data-label=(label) data-series=(s.name) data-value=(value)
                        x=(format!("{:.1}", x_of(i) - slot * 0.35)) y=(format!("{y:.1}"))
                        width=(format!("{:.1}", slot * 0.7)) height=(format!("{height:.1}")) {
                        title { (label) " · " (s.name) ": " (value) }
                    }
                }
                (x_labels(labels, x_of))
            }
            (legend(series))
            (data_table(labels, series, |v| v.to_string()))
        }
    }
}

/// Lines over the labels; a label without a value has no point (the line joins its neighbours).
/// The axis runs to `top`, or to the largest value; `empty` is said when there is no value.
pub fn lines(
    id: &str,
    title: &str,
    labels: &[String],
    series: &[Series<'_, Option<f64>>],
    (top, empty): (Option<f64>, &str),
    format: &dyn Fn(f64) -> String,
) -> Markup {
    let largest = series.iter().flat_map(|s| s.values.iter().flatten()).copied().fold(0.0_f64, f64::max);
    let has_values = series.iter().any(|s| s.values.iter().any(Option::is_some));
    let max = top.unwrap_or(if largest > 0.0 { largest } else { 1.0 });
    let slot = (WIDTH - LEFT) / labels.len().max(1) as f64;
    let x_of = |i: usize| LEFT + slot * (i as f64 + 0.5);
    let y_of = |v: f64| TOP + plot_height() * (1.0 - v / max);
    html! {
        figure.chart #(id) {
            figcaption { (title) }
            @if !has_values { p.muted.empty { (empty) } } @else {
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(title) {
                (y_axis(max, format))
                @for s in series {
                    @let points: Vec<String> = s.values.iter().enumerate()
                        .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x_of(i), y_of(v)))).collect();
                    polyline class=(format!("line {}", s.class)) points=(points.join(" ")) {}
                    @for (i, value) in s.values.iter().enumerate() {
                        @if let Some(value) = value {
                            circle class=(s.class) data-series=(s.name) data-value=(format(*value))
                                cx=(format!("{:.1}", x_of(i))) cy=(format!("{:.1}", y_of(*value))) r="3" {
                                title { (labels[i]) " · " (s.name) ": " (format(*value)) }
                            }
                        }
                    }
                }
                (x_labels(labels, x_of))
            }
            }
            (legend(series))
            (data_table(labels, series, |v| v.map(format).unwrap_or_default()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_shortened_and_other_labels_kept() {
        assert_eq!(short_label("2026-12-07"), "12-07");
        assert_eq!(short_label("< 1 h"), "< 1 h");
        assert_eq!(short_label("1–3 d"), "1–3 d");
    }

    #[test]
    fn a_count_axis_has_a_whole_middle() {
        assert_eq!(count_axis_top(0), 2.0);
        assert_eq!(count_axis_top(1), 2.0);
        assert_eq!(count_axis_top(7), 8.0);
        assert_eq!(count_axis_top(10), 10.0);
    }
}
