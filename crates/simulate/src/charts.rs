//! The charts, as SVG (plotters' SVG backend: text stays text, so the Chinese names render in
//! any browser with a CJK font, and the files diff well).
//! - `backlog.svg`: open and overdue tickets over time;
//! - `on_time_by_district.svg`: 及时签收率 and 按时办结率 per district;
//! - `station_load.svg`: a heat table of tickets on hand at the busiest stations.

use std::path::Path;

use chrono::Duration;
use chrono_tz::Asia::Shanghai;
use plotters::prelude::*;

use crate::report::Outcome;
use crate::SimulateError;

const FONT: &str = "sans-serif";

fn chart_error(what: &str) -> impl Fn(String) -> SimulateError + '_ {
    move |message| SimulateError::Output {
        what: what.to_owned(),
        message,
    }
}

/// Writes the three charts into `dir`.
pub fn write_all(outcome: &Outcome, dir: &Path) -> Result<(), SimulateError> {
    backlog(outcome, &dir.join("backlog.svg"))?;
    on_time_by_district(outcome, &dir.join("on_time_by_district.svg"))?;
    station_load(outcome, &dir.join("station_load.svg"))?;
    Ok(())
}

/// Open and overdue tickets at each sample.
pub fn backlog(outcome: &Outcome, path: &Path) -> Result<(), SimulateError> {
    let err = chart_error("backlog.svg");
    let samples = &outcome.samples;
    let Some(first) = samples.first() else {
        return Err(err("no samples: the run had no time".into()));
    };
    let start = first.at;
    let hours: Vec<f64> = samples
        .iter()
        .map(|s| (s.at - start).num_minutes() as f64 / 60.0)
        .collect();
    let x_max = hours.last().copied().unwrap_or(1.0).max(1.0);
    let y_max = samples.iter().map(|s| s.backlog).max().unwrap_or(0).max(1) as f64 * 1.08;
    let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Backlog and overdue — {}", outcome.record.scenario),
            (FONT, 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("local time")
        .y_desc("tickets")
        .x_labels(12)
        .x_label_formatter(&|h| {
            let at = start + Duration::minutes((h * 60.0).round() as i64);
            at.with_timezone(&Shanghai)
                .format("%m-%d %H:%M")
                .to_string()
        })
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style((FONT, 12))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    let period_end = (outcome.period_end - start).num_minutes() as f64 / 60.0;
    if period_end > 0.0 && period_end < x_max {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(period_end, 0.0), (period_end, y_max)],
                BLACK.mix(0.3).stroke_width(1),
            )))
            .map_err(|e| err(e.to_string()))?
            .label("end of arrivals")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.3)));
    }
    chart
        .draw_series(LineSeries::new(
            hours
                .iter()
                .zip(samples)
                .map(|(h, s)| (*h, s.backlog as f64)),
            BLUE.stroke_width(2),
        ))
        .map_err(|e| err(e.to_string()))?
        .label("open (backlog)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            hours
                .iter()
                .zip(samples)
                .map(|(h, s)| (*h, s.overdue as f64)),
            RED.stroke_width(2),
        ))
        .map_err(|e| err(e.to_string()))?
        .label("overdue")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 12))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))
}

/// Two bars per district: on-time sign-for and on-time resolution.
pub fn on_time_by_district(outcome: &Outcome, path: &Path) -> Result<(), SimulateError> {
    let err = chart_error("on_time_by_district.svg");
    let rows: Vec<_> = outcome
        .districts
        .iter()
        .filter(|r| r.figures.dispatched > 0 || r.figures.resolved_on_time.denominator > 0)
        .collect();
    let n = rows.len().max(1);
    let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "On-time rates per district (及时签收率, 按时办结率)",
            (FONT, 20),
        )
        .margin(12)
        .x_label_area_size(56)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..n as f64, 0f64..1.05)
        .map_err(|e| err(e.to_string()))?;
    let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            // One label per district, at its middle.
            if (x - (i as f64 + 0.5)).abs() < 1e-6 {
                names.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("rate")
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .label_style((FONT, 12))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    let sign: Vec<_> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let x = i as f64;
            Rectangle::new(
                [(x + 0.1, 0.0), (x + 0.48, r.figures.sign_for_on_time.rate)],
                BLUE.mix(0.7).filled(),
            )
        })
        .collect();
    chart
        .draw_series(sign)
        .map_err(|e| err(e.to_string()))?
        .label("及时签收率 sign-for on time")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], BLUE.mix(0.7).filled()));
    let resolved: Vec<_> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let x = i as f64;
            Rectangle::new(
                [(x + 0.52, 0.0), (x + 0.9, r.figures.resolved_on_time.rate)],
                GREEN.mix(0.7).filled(),
            )
        })
        .collect();
    chart
        .draw_series(resolved)
        .map_err(|e| err(e.to_string()))?
        .label("按时办结率 resolved on time")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], GREEN.mix(0.7).filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 12))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))
}

/// A heat table: the busiest stations (rows) by hour or day (columns), the most tickets each
/// held at once, darker for more.
pub fn station_load(outcome: &Outcome, path: &Path) -> Result<(), SimulateError> {
    let err = chart_error("station_load.svg");
    let heat = &outcome.heat;
    let (cols, rows) = (heat.columns.len().max(1), heat.rows.len().max(1));
    let cell_w = (760 / cols).clamp(14, 60) as i32;
    let cell_h = 24i32;
    let left = 200i32;
    let top = 56i32;
    let width = (left + cell_w * cols as i32 + 20) as u32;
    let height = (top + cell_h * rows as i32 + 60) as u32;
    let max = heat
        .rows
        .iter()
        .flat_map(|(_, v)| v.iter())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let root = SVGBackend::new(path, (width.max(480), height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let title = TextStyle::from((FONT, 18).into_font()).color(&BLACK);
    root.draw(&Text::new(
        "Tickets on hand at the busiest stations (most at once)",
        (12, 12),
        title,
    ))
    .map_err(|e| err(e.to_string()))?;
    let label = TextStyle::from((FONT, 12).into_font()).color(&BLACK);
    let step = (cols / 12).max(1);
    for (c, name) in heat.columns.iter().enumerate() {
        if c % step == 0 {
            root.draw(&Text::new(
                name.clone(),
                (left + c as i32 * cell_w, top - 16),
                label.clone(),
            ))
            .map_err(|e| err(e.to_string()))?;
        }
    }
    for (r, (name, values)) in heat.rows.iter().enumerate() {
        let y = top + r as i32 * cell_h;
        root.draw(&Text::new(name.clone(), (8, y + 6), label.clone()))
            .map_err(|e| err(e.to_string()))?;
        for (c, v) in values.iter().enumerate() {
            let x = left + c as i32 * cell_w;
            let share = f64::from(*v) / f64::from(max);
            // From white (nothing held) to deep red (the most any station held).
            let colour = RGBColor(
                255,
                (255.0 * (1.0 - 0.85 * share)) as u8,
                (255.0 * (1.0 - 0.9 * share)) as u8,
            );
            root.draw(&Rectangle::new(
                [(x, y), (x + cell_w - 1, y + cell_h - 1)],
                colour.filled(),
            ))
            .map_err(|e| err(e.to_string()))?;
            if cell_w >= 28 {
                let ink = if share > 0.6 { WHITE } else { BLACK };
                root.draw(&Text::new(
                    v.to_string(),
                    (x + 4, y + 6),
                    TextStyle::from((FONT, 11).into_font()).color(&ink),
                ))
                .map_err(|e| err(e.to_string()))?;
            }
        }
    }
    root.draw(&Text::new(
        format!("darkest = {max} tickets"),
        (left, top + rows as i32 * cell_h + 16),
        label,
    ))
    .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))
}
