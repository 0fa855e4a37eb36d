//! Finished simulations (`hotline simulate --out DIR/<run>`), read from the directory the
//! router was pointed to (`--simulations-dir`): the list of runs, one run's figures with its
//! charts, and its files. Read-only; nothing here runs a simulation.
//!
//! A run's name is a direct child directory holding a `run.json`; names are checked before
//! any path is built, and only the files a run writes are served, so no request can reach
//! outside the directory.

use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::{layout, respond, to_login, Desk, Outcome};

/// The files of a run the desk serves, with their content types.
const FILES: &[(&str, &str)] = &[
    ("backlog.svg", "image/svg+xml"),
    ("on_time_by_district.svg", "image/svg+xml"),
    ("station_load.svg", "image/svg+xml"),
    ("kpis_district.csv", "text/csv; charset=utf-8"),
    ("kpis_street.csv", "text/csv; charset=utf-8"),
    ("kpis_station_kind.csv", "text/csv; charset=utf-8"),
    ("backlog.csv", "text/csv; charset=utf-8"),
    ("busiest_stations.csv", "text/csv; charset=utf-8"),
    ("tickets.csv", "text/csv; charset=utf-8"),
    ("run.json", "application/json"),
];

/// A run's name: letters, digits, `-`, `_`, `.` (not starting with a dot).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

struct Run {
    name: String,
    record: serde_json::Value,
}

fn read_run(dir: &Path, name: &str) -> Option<Run> {
    if !valid_name(name) {
        return None;
    }
    let text = std::fs::read_to_string(dir.join(name).join("run.json")).ok()?;
    let record = serde_json::from_str(&text).ok()?;
    Some(Run {
        name: name.to_owned(),
        record,
    })
}

fn runs(dir: &Path) -> Vec<Run> {
    let mut found: Vec<Run> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| read_run(dir, &e.file_name().to_string_lossy()))
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

fn text<'a>(v: &'a serde_json::Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(v, |v, key| v.get(key))
        .and_then(|v| v.as_str())
        .unwrap_or("")
}

fn not_configured() -> Markup {
    html! {
        div.panel {
            h1 { "模拟 Simulations" }
            p { "这台路由器没有配置模拟结果目录 No simulations directory is configured: start the router with "
                code { "--simulations-dir DIR" } " and write runs there with "
                code { "hotline simulate scenario.toml --out DIR/<name>" } "." }
        }
    }
}

/// `GET /desk/simulations`: the finished runs.
pub(super) async fn list_page(State(desk): State<Desk>, headers: HeaderMap) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    let Some(dir) = desk.simulations.clone() else {
        return respond(Outcome::Page(layout(
            "模拟 Simulations",
            Some(&session),
            false,
            not_configured(),
        )));
    };
    let runs = runs(&dir);
    let body = html! {
        div.panel {
            h1 { "模拟 Simulations" }
            p.muted { "容量规划的模拟结果 Finished capacity-planning runs (" code { "hotline simulate" } ")." }
            @if runs.is_empty() {
                p #no-runs { "还没有模拟结果 No runs yet." }
            } @else {
                table.kpis #runs {
                    thead { tr { th { "运行 Run" } th { "场景 Scenario" } th { "期间 Period" } th { "种子 Seed" } th { "结果 Result" } } }
                    tbody {
                        @for run in &runs {
                            tr {
                                td { a href={ "/desk/simulations/" (run.name) } { (run.name) } }
                                td { (text(&run.record, &["record", "scenario"])) }
                                td { (text(&run.record, &["record", "period"])) }
                                td { (run.record.get("record").and_then(|r| r.get("seed")).map(ToString::to_string).unwrap_or_default()) }
                                td { code { (text(&run.record, &["final_line"])) } }
                            }
                        }
                    }
                }
            }
        }
    };
    respond(Outcome::Page(layout(
        "模拟 Simulations",
        Some(&session),
        false,
        body,
    )))
}

/// Rows of a KPI CSV the run wrote: (name, dispatched, sign-for rate, resolved rate).
fn district_rows(path: &Path) -> Vec<[String; 4]> {
    let Ok(mut reader) = csv::Reader::from_path(path) else {
        return Vec::new();
    };
    reader
        .records()
        .flatten()
        .map(|r| {
            let cell = |i: usize| r.get(i).unwrap_or_default().to_owned();
            let pct = |i: usize| {
                cell(i)
                    .parse::<f64>()
                    .map(|v| format!("{:.1}%", v * 100.0))
                    .unwrap_or_default()
            };
            [cell(1), cell(2), pct(4), pct(7)]
        })
        .collect()
}

/// `GET /desk/simulations/{run}`: one run's figures and charts.
pub(super) async fn run_page(
    State(desk): State<Desk>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    let Some(dir) = desk.simulations.clone() else {
        return respond(Outcome::Page(layout(
            "模拟 Simulations",
            Some(&session),
            false,
            not_configured(),
        )));
    };
    let Some(run) = read_run(&dir, &name) else {
        return (
            StatusCode::NOT_FOUND,
            format!("no simulation run named {name:?}"),
        )
            .into_response();
    };
    let rows = district_rows(&dir.join(&run.name).join("kpis_district.csv"));
    let r = &run.record;
    let body = html! {
        div.panel {
            p { a href="/desk/simulations" { "← 模拟 Simulations" } }
            h1 { (text(r, &["record", "scenario"])) }
            p.muted {
                "期间 Period " (text(r, &["record", "period"]))
                " · 种子 seed " (r.get("record").and_then(|v| v.get("seed")).map(ToString::to_string).unwrap_or_default())
                " · " (text(r, &["record", "engine"]))
            }
            p { code #final-line { (text(r, &["final_line"])) } }
            h2 { "按区 By district" }
            table.kpis #districts {
                thead { tr { th { "区 District" } th { "派单 Dispatched" } th { "及时签收率" } th { "按时办结率" } } }
                tbody {
                    @for row in &rows {
                        tr { td { (row[0]) } td { (row[1]) } td { (row[2]) } td { (row[3]) } }
                    }
                }
            }
            h2 { "图表 Charts" }
            @for (file, alt) in [("backlog.svg", "Backlog and overdue over time"), ("on_time_by_district.svg", "On-time rates per district"), ("station_load.svg", "Tickets on hand at the busiest stations")] {
                p { img.chart src={ "/desk/simulations/" (run.name) "/" (file) } alt=(alt); }
            }
            h2 { "文件 Files" }
            ul {
                @for (file, _) in FILES {
                    @if dir.join(&run.name).join(file).is_file() {
                        li { a href={ "/desk/simulations/" (run.name) "/" (file) } { (file) } }
                    }
                }
            }
        }
    };
    respond(Outcome::Page(layout(
        "模拟 Simulations",
        Some(&session),
        false,
        body,
    )))
}

/// `GET /desk/simulations/{run}/{file}`: a chart or table the run wrote.
pub(super) async fn file(
    State(desk): State<Desk>,
    headers: HeaderMap,
    UrlPath((name, file)): UrlPath<(String, String)>,
) -> Response {
    if desk.session(&headers).is_none() {
        return to_login("login");
    }
    let (Some(dir), Some((file, kind))) = (
        desk.simulations.clone(),
        FILES.iter().find(|(f, _)| *f == file),
    ) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !valid_name(&name) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path: PathBuf = dir.join(&name).join(file);
    match std::fs::read(&path) {
        Ok(bytes) => ([(header::CONTENT_TYPE, *kind)], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_cannot_leave_the_directory() {
        assert!(valid_name("typhoon-seed7"));
        assert!(valid_name("a.b_c"));
        assert!(!valid_name(".."));
        assert!(!valid_name("../etc"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(""));
    }
}
