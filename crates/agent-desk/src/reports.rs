//! Supervision reports from `Kpis.GetKpis` answers: CSV and Excel exports (offices report in
//! Excel), and the centre's 通报 (bulletin) as an HTML page with SVG charts. Pure functions of
//! the answers, so the web desk and the command line give the same files.

use hotline_proto::v1 as pb;
use maud::{html, Markup};

/// The columns of an export, in order: header and how to read it off a row's figures.
const COLUMNS: &[&str] = &[
    "受理 accepted",
    "派单 dispatched",
    "及时签收率 sign-for on time",
    "响应率 response",
    "按时办结率 resolved on time",
    "结案率 closure",
    "回访满意率 satisfaction",
    "重办率 redo",
    "退单率 returns",
    "延期率 extensions",
    "直办率 direct answers",
    "知识库命中率 knowledge hits",
    "平均办理时长(工作小时) mean handling h",
    "90%办理时长 p90 handling h",
    "综合得分 score",
];

/// One cell: a count, a ratio (with its parts), or hours.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Count(u64),
    Ratio {
        rate: f64,
        numerator: u64,
        denominator: u64,
    },
    Number(f64),
}

impl Cell {
    pub fn text(&self) -> String {
        match self {
            Cell::Count(n) => n.to_string(),
            Cell::Ratio {
                rate,
                numerator,
                denominator,
            } => {
                if *denominator == 0 {
                    "-".into()
                } else {
                    format!("{:.1}% ({numerator}/{denominator})", rate * 100.0)
                }
            }
            Cell::Number(x) => format!("{x:.1}"),
        }
    }
}

pub fn ratio(r: &Option<pb::KpiRatio>) -> Cell {
    let r = r.unwrap_or_default();
    Cell::Ratio {
        rate: r.rate,
        numerator: r.numerator,
        denominator: r.denominator,
    }
}

/// The cells of one row's figures, in [`COLUMNS`] order.
pub fn cells(f: &pb::KpiFigures) -> Vec<Cell> {
    vec![
        Cell::Count(f.accepted),
        Cell::Count(f.dispatched),
        ratio(&f.sign_for_on_time),
        ratio(&f.response),
        ratio(&f.resolved_on_time),
        ratio(&f.closure),
        ratio(&f.satisfaction),
        ratio(&f.redo),
        ratio(&f.returns),
        ratio(&f.extensions),
        ratio(&f.direct_answers),
        ratio(&f.knowledge_hits),
        Cell::Number(f.handling_hours_mean),
        Cell::Number(f.handling_hours_p90),
        Cell::Number(f.score),
    ]
}

/// (key, label, figures) per row, then the total.
fn table(report: &pb::GetKpisResponse) -> Vec<(String, String, pb::KpiFigures)> {
    let mut rows: Vec<_> = report
        .rows
        .iter()
        .map(|r| {
            (
                r.key.clone(),
                r.label.clone(),
                r.figures.unwrap_or_default(),
            )
        })
        .collect();
    rows.push((
        "total".into(),
        "合计 total".into(),
        report.total.unwrap_or_default(),
    ));
    rows
}

/// The report as CSV (UTF-8 with a byte-order mark, so Excel opens the Chinese right).
pub fn csv(report: &pb::GetKpisResponse) -> Result<Vec<u8>, ::csv::Error> {
    let mut out = ::csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let mut header = vec!["key", "名称 name"];
    header.extend(COLUMNS);
    out.write_record(&header)?;
    for (key, label, figures) in table(report) {
        let mut record = vec![key, label];
        record.extend(cells(&figures).iter().map(Cell::text));
        out.write_record(&record)?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// The report as an Excel workbook: rates as percentages (numbers, so offices can sort and
/// chart them), with each ratio's numerator and denominator in a second sheet.
pub fn xlsx(
    report: &pb::GetKpisResponse,
    title: &str,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let percent = Format::new().set_num_format("0.0%");
    let hours = Format::new().set_num_format("0.0");
    let sheet = book.add_worksheet().set_name("KPI")?;
    sheet.write_with_format(0, 0, title, &bold)?;
    sheet.write(1, 0, format!("{} — {}", report.from, report.to))?;
    let header_row = 3;
    sheet.write_with_format(header_row, 0, "key", &bold)?;
    sheet.write_with_format(header_row, 1, "名称 name", &bold)?;
    for (i, name) in COLUMNS.iter().enumerate() {
        sheet.write_with_format(header_row, 2 + i as u16, *name, &bold)?;
    }
    for (r, (key, label, figures)) in table(report).into_iter().enumerate() {
        let row = header_row + 1 + r as u32;
        sheet.write(row, 0, key)?;
        sheet.write(row, 1, label)?;
        for (c, cell) in cells(&figures).into_iter().enumerate() {
            let col = 2 + c as u16;
            match cell {
                Cell::Count(n) => sheet.write(row, col, n as f64)?,
                Cell::Ratio { denominator: 0, .. } => sheet.write(row, col, "-")?,
                Cell::Ratio { rate, .. } => sheet.write_with_format(row, col, rate, &percent)?,
                Cell::Number(x) => sheet.write_with_format(row, col, x, &hours)?,
            };
        }
    }
    sheet.set_column_width(1, 24)?;
    let parts = book.add_worksheet().set_name("分子分母 parts")?;
    parts.write_with_format(0, 0, "key", &bold)?;
    let mut col = 1u16;
    // The ratio columns, read off the cells so a new ratio joins this sheet by itself.
    let ratio_columns: Vec<&str> = COLUMNS
        .iter()
        .zip(cells(&pb::KpiFigures::default()))
        .filter(|(_, cell)| matches!(cell, Cell::Ratio { .. }))
        .map(|(name, _)| *name)
        .collect();
    for name in &ratio_columns {
        parts.write_with_format(0, col, format!("{name} 分子"), &bold)?;
        parts.write_with_format(0, col + 1, format!("{name} 分母"), &bold)?;
        col += 2;
    }
    for (r, (key, _, figures)) in table(report).into_iter().enumerate() {
        let row = 1 + r as u32;
        parts.write(row, 0, key)?;
        let mut col = 1u16;
        for cell in cells(&figures) {
            if let Cell::Ratio {
                numerator,
                denominator,
                ..
            } = cell
            {
                parts.write(row, col, numerator as f64)?;
                parts.write(row, col + 1, denominator as f64)?;
                col += 2;
            }
        }
    }
    book.save_to_buffer()
}

/// A horizontal bar chart of one rate per row, as inline SVG (the page's CSP allows no
/// scripts; SVG is markup).
pub fn bar_chart(title: &str, bars: &[(String, f64)], red_line: Option<f64>) -> Markup {
    const WIDTH: f64 = 640.0;
    const LABEL: f64 = 200.0;
    const BAR: f64 = 18.0;
    const GAP: f64 = 6.0;
    let height = 30.0 + bars.len() as f64 * (BAR + GAP);
    let scale = WIDTH - LABEL - 60.0;
    html! {
        figure.chart {
            figcaption { (title) }
            svg xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(height)
                viewBox=(format!("0 0 {WIDTH} {height}")) role="img" aria-label=(title) {
                @for (i, (label, rate)) in bars.iter().enumerate() {
                    @let y = 20.0 + i as f64 * (BAR + GAP);
                    @let below = red_line.is_some_and(|line| *rate < line);
                    text x=(LABEL - 6.0) y=(y + BAR * 0.75) text-anchor="end" font-size="12" { (label) }
                    rect x=(LABEL) y=(y) width=(format!("{:.1}", rate.clamp(0.0, 1.0) * scale)) height=(BAR)
                        fill=(if below { "#c0392b" } else { "#2e86c1" }) {}
                    text x=(LABEL + rate.clamp(0.0, 1.0) * scale + 4.0) y=(y + BAR * 0.75) font-size="12" {
                        (format!("{:.1}%", rate * 100.0))
                    }
                }
                @if let Some(line) = red_line {
                    line x1=(LABEL + line * scale) x2=(LABEL + line * scale) y1="12" y2=(height)
                        stroke="#c0392b" stroke-dasharray="4 3" {}
                }
            }
        }
    }
}

/// The centre's 通报: the totals, every district and station with its figures, the worst
/// performers on on-time resolution, and the top categories, with charts.
pub fn bulletin(
    title: &str,
    by_district: &pb::GetKpisResponse,
    by_station: &pb::GetKpisResponse,
    by_category: &pb::GetKpisResponse,
) -> Markup {
    let rate = |f: &Option<pb::KpiFigures>, pick: fn(&pb::KpiFigures) -> &Option<pb::KpiRatio>| {
        f.as_ref()
            .and_then(|f| *pick(f))
            .map(|r| (r.rate, r.denominator))
            .unwrap_or((0.0, 0))
    };
    fn on_time(f: &pb::KpiFigures) -> &Option<pb::KpiRatio> {
        &f.resolved_on_time
    }
    fn signed(f: &pb::KpiFigures) -> &Option<pb::KpiRatio> {
        &f.sign_for_on_time
    }
    // Only the districts with something to count (a rate of nothing is not 0%).
    let bars = |pick: fn(&pb::KpiFigures) -> &Option<pb::KpiRatio>| -> Vec<(String, f64)> {
        by_district
            .rows
            .iter()
            .filter(|r| rate(&r.figures, pick).1 > 0)
            .map(|r| (r.label.clone(), rate(&r.figures, pick).0))
            .collect()
    };
    let signed_bars = bars(signed);
    let on_time_bars = bars(on_time);
    let mut worst: Vec<&pb::KpiRow> = by_station
        .rows
        .iter()
        .filter(|r| !r.key.is_empty() && rate(&r.figures, on_time).1 > 0)
        .collect();
    worst.sort_by(|a, b| {
        rate(&a.figures, on_time)
            .0
            .total_cmp(&rate(&b.figures, on_time).0)
            .then_with(|| a.key.cmp(&b.key))
    });
    worst.truncate(10);
    let mut categories: Vec<&pb::KpiRow> = by_category.rows.iter().collect();
    categories.sort_by_key(|r| std::cmp::Reverse(r.figures.as_ref().map_or(0, |f| f.accepted)));
    categories.truncate(10);
    html! {
        section.bulletin {
            h1 { (title) }
            p.muted { "统计期 Period: " (crate::render::time_human(&by_district.from)) " — " (crate::render::time_human(&by_district.to)) }
            @if !by_district.note.is_empty() { p.warning { (by_district.note) } }
            h2 { "全市 Totals" }
            (figures_table(&[("合计 total".to_owned(), by_district.total.unwrap_or_default())]))
            h2 { "各区 By district" }
            @if signed_bars.is_empty() && on_time_bars.is_empty() {
                p.muted { "本期尚无可统计的派单或到期工单 Nothing dispatched or due in this period yet." }
            }
            @if !signed_bars.is_empty() {
                (bar_chart("及时签收率 On-time sign-for by district", &signed_bars, Some(0.95)))
            }
            @if !on_time_bars.is_empty() {
                (bar_chart("按时办结率 On-time resolution by district", &on_time_bars, Some(0.9)))
            }
            (figures_table(&by_district.rows.iter().map(|r| (r.label.clone(), r.figures.unwrap_or_default())).collect::<Vec<_>>()))
            h2 { "排名靠后的承办单位 Stations with the lowest on-time resolution" }
            (figures_table(&worst.iter().map(|r| (r.label.clone(), r.figures.unwrap_or_default())).collect::<Vec<_>>()))
            h2 { "热点类别 Top categories" }
            (figures_table(&categories.iter().map(|r| (r.label.clone(), r.figures.unwrap_or_default())).collect::<Vec<_>>()))
        }
    }
}

/// A table of figures, one row per (label, figures).
pub fn figures_table(rows: &[(String, pb::KpiFigures)]) -> Markup {
    html! {
        table.kpis {
            thead { tr { th { "名称 name" } @for c in COLUMNS { th { (c) } } } }
            tbody {
                @for (label, figures) in rows {
                    tr {
                        td { (label) }
                        @for cell in cells(figures) {
                            @let low = matches!(cell, Cell::Ratio { .. }) && below(figures, &cell);
                            td class=(if low { "red" } else { "" }) { (cell.text()) }
                        }
                    }
                }
            }
        }
    }
}

/// Whether a ratio cell is under its red line (the router marks it).
fn below(figures: &pb::KpiFigures, cell: &Cell) -> bool {
    let Cell::Ratio {
        numerator,
        denominator,
        ..
    } = cell
    else {
        return false;
    };
    [
        &figures.sign_for_on_time,
        &figures.response,
        &figures.resolved_on_time,
        &figures.closure,
        &figures.satisfaction,
        &figures.redo,
        &figures.returns,
        &figures.extensions,
    ]
    .into_iter()
    .flatten()
    .any(|r| r.numerator == *numerator && r.denominator == *denominator && r.below_threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> pb::GetKpisResponse {
        let figures = pb::KpiFigures {
            accepted: 12,
            dispatched: 10,
            sign_for_on_time: Some(pb::KpiRatio {
                numerator: 9,
                denominator: 10,
                rate: 0.9,
                below_threshold: true,
            }),
            handling_hours_mean: 12.25,
            knowledge_hits: Some(pb::KpiRatio {
                numerator: 3,
                denominator: 4,
                rate: 0.75,
                below_threshold: false,
            }),
            ..Default::default()
        };
        pb::GetKpisResponse {
            from: "2026-03-01T00:00:00+08:00".into(),
            to: "2026-04-01T00:00:00+08:00".into(),
            total: Some(figures),
            rows: vec![pb::KpiRow {
                key: "320508".into(),
                label: "姑苏区".into(),
                figures: Some(figures),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn csv_has_a_bom_a_header_a_row_per_group_and_the_total() {
        let bytes = csv(&sample()).unwrap();
        assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[1].starts_with("320508,姑苏区,12,10,90.0% (9/10)"),
            "{}",
            lines[1]
        );
        assert!(lines[2].starts_with("total,"), "{}", lines[2]);
        let header: Vec<&str> = lines[0].split(',').collect();
        let hits = header
            .iter()
            .position(|h| *h == "知识库命中率 knowledge hits")
            .expect("a knowledge hits column");
        assert_eq!(header[hits - 1], "直办率 direct answers");
        assert_eq!(
            lines[1].split(',').nth(hits),
            Some("75.0% (3/4)"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn xlsx_reads_back_with_rates_as_numbers() {
        use calamine::{Data, Reader, Xlsx};
        let bytes = xlsx(&sample(), "姑苏区 2026年3月").unwrap();
        let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range("KPI").unwrap();
        assert_eq!(
            sheet.get_value((0, 0)),
            Some(&Data::String("姑苏区 2026年3月".into()))
        );
        assert_eq!(
            sheet.get_value((4, 1)),
            Some(&Data::String("姑苏区".into()))
        );
        assert_eq!(sheet.get_value((4, 4)), Some(&Data::Float(0.9)));
        let hits = COLUMNS
            .iter()
            .position(|c| c.starts_with("知识库命中率"))
            .unwrap() as u32;
        assert_eq!(sheet.get_value((4, 2 + hits)), Some(&Data::Float(0.75)));
        let parts = book.worksheet_range("分子分母 parts").unwrap();
        assert_eq!(parts.get_value((1, 1)), Some(&Data::Float(9.0)));
        assert_eq!(parts.get_value((1, 2)), Some(&Data::Float(10.0)));
        // Every ratio has its numerator and denominator, the knowledge hits last.
        let last = parts.get_size().1 as u32;
        assert_eq!(
            parts.get_value((0, last - 2)),
            Some(&Data::String("知识库命中率 knowledge hits 分子".into()))
        );
        assert_eq!(parts.get_value((1, last - 2)), Some(&Data::Float(3.0)));
        assert_eq!(parts.get_value((1, last - 1)), Some(&Data::Float(4.0)));
    }

    #[test]
    fn the_chart_marks_bars_under_the_red_line() {
        let svg = bar_chart(
            "t",
            &[("甲".into(), 0.95), ("<b>乙</b>".into(), 0.5)],
            Some(0.9),
        )
        .into_string();
        assert_eq!(
            svg.matches("#c0392b").count(),
            2,
            "one red bar and the red line: {svg}"
        );
        assert!(svg.contains("&lt;b&gt;"), "labels are escaped");
    }
}
