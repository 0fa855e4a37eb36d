//! The hotspot banner on operators' and supervisors' pages: the surges on now in the signed-in
//! person's scope (`Kpis.ListAlerts`), each with its place, category, calls against the usual
//! number and since when. The layout asks for it on load and every 30 s (htmx); without
//! scripts the pages work as before, without the banner.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use hotline_proto::v1 as pb;
use hotline_proto::v1::kpis_client::KpisClient;
use maud::{html, Markup};
use tonic::Code;

use super::{banner, expired, to_login, Desk};
use crate::render::time_human;

/// `GET /desk/alerts`: the banner's fragment.
pub(super) async fn alerts_partial(State(desk): State<Desk>, headers: HeaderMap) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    let answer = KpisClient::new(desk.conn(&session))
        .list_alerts(pb::ListAlertsRequest { scope: None })
        .await;
    let markup = match answer {
        Err(status) if expired(&status) => return to_login("expired"),
        // Alerts off on this router, a role without them, or a router from before them: no
        // banner, which is what "no surge" looks like too; nothing else on the page depends on
        // it.
        Err(status)
            if matches!(
                status.code(),
                Code::FailedPrecondition | Code::PermissionDenied | Code::Unimplemented
            ) =>
        {
            html! {}
        }
        Err(status) => banner(&status),
        Ok(list) => alerts_banner(&list.into_inner().alerts),
    };
    Html(markup.into_string()).into_response()
}

fn level_zh(level: &str) -> &'static str {
    match level {
        "district" => "区",
        "street" => "街道",
        "community" => "社区",
        _ => "",
    }
}

/// The usual number of calls, to one decimal; below that, "<0.1" (a quiet place's usual
/// 0.008 calls a minute would read as a misleading 0.0).
fn usual(expected: f64) -> String {
    if expected < 0.05 {
        "<0.1".to_owned()
    } else {
        format!("{expected:.1}")
    }
}

/// One line per alert on now; nothing at all when there is none.
pub(super) fn alerts_banner(alerts: &[pb::HotspotAlert]) -> Markup {
    html! {
        @for alert in alerts.iter().filter(|a| !a.cleared) {
            div.banner.warning.hotspot role="alert" data-alert-id=(alert.alert_id) {
                strong { "突发聚集 Surge: " }
                (alert.division_name) " (" (level_zh(&alert.level)) " " (alert.division_code) ") · "
                (alert.category_name) ": "
                // The surge's size is its peak; while it dies down (the cool-down) the count
                // now says so.
                strong.count { (alert.peak) } " 件 calls in " (alert.window_seconds / 60) " 分钟 min"
                " (通常 usually " (usual(alert.expected)) ")"
                @if alert.count != alert.peak { " · 现在 now " (alert.count) }
                " · 自 since " (time_human(&alert.since))
                @if !alert.incident_id.is_empty() {
                    " · " a href={ "/desk/incidents/" (alert.incident_id) } { "并案 incident" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str, cleared: bool) -> pb::HotspotAlert {
        pb::HotspotAlert {
            alert_id: id.into(),
            level: "street".into(),
            division_code: "320508021".into(),
            division_name: "双塔街道".into(),
            category: "SW".into(),
            category_name: "供水 (SW)".into(),
            count: 212,
            peak: 212,
            expected: 0.44,
            window_seconds: 600,
            since: "2026-03-30T02:03:00Z".into(),
            raised_at: "2026-03-30T02:04:00Z".into(),
            cleared,
            cleared_at: String::new(),
            incident_id: String::new(),
        }
    }

    #[test]
    fn a_surge_merged_into_an_incident_links_to_it() {
        let mut merged = alert("street:320508021:SW:1", false);
        assert!(!alerts_banner(std::slice::from_ref(&merged))
            .into_string()
            .contains("/desk/incidents/"));
        merged.incident_id = "01a24b38-05d2-7055-889e-7f9f0c5bf63c".into();
        let html = alerts_banner(&[merged]).into_string();
        assert!(
            html.contains(r#"href="/desk/incidents/01a24b38-05d2-7055-889e-7f9f0c5bf63c""#),
            "{html}"
        );
    }

    #[test]
    fn the_banner_names_the_place_the_category_the_count_against_the_usual_and_since_when() {
        let html = alerts_banner(&[alert("street:320508021:SW:1", false)]).into_string();
        assert!(html.contains(r#"role="alert""#), "{html}");
        assert!(
            html.contains(r#"data-alert-id="street:320508021:SW:1""#),
            "{html}"
        );
        assert!(html.contains("双塔街道 (街道 320508021)"), "{html}");
        assert!(html.contains("供水 (SW)"), "{html}");
        assert!(html.contains("212"), "{html}");
        assert!(html.contains("10 分钟"), "{html}");
        assert!(html.contains("通常 usually 0.4"), "{html}");
        // 02:03 UTC is 10:03 in Suzhou.
        assert!(html.contains("2026-03-30 10:03"), "{html}");
    }

    #[test]
    fn a_surge_dying_down_shows_its_peak_and_the_count_now() {
        let mut cooling = alert("x", false);
        cooling.count = 3;
        let html = alerts_banner(&[cooling]).into_string();
        assert!(
            html.contains(r#"<strong class="count">212</strong>"#),
            "{html}"
        );
        assert!(html.contains("现在 now 3"), "{html}");
        let steady = alerts_banner(&[alert("x", false)]).into_string();
        assert!(!steady.contains("现在 now"), "{steady}");
    }

    #[test]
    fn a_usual_count_below_a_tenth_is_not_shown_as_nothing() {
        let mut quiet = alert("x", false);
        quiet.expected = 0.008;
        let html = alerts_banner(&[quiet]).into_string();
        assert!(html.contains("通常 usually &lt;0.1"), "{html}");
    }

    #[test]
    fn no_alert_and_cleared_alerts_render_nothing() {
        assert_eq!(alerts_banner(&[]).into_string(), "");
        assert_eq!(alerts_banner(&[alert("x", true)]).into_string(), "");
    }

    #[test]
    fn names_from_the_router_are_escaped() {
        let mut hostile = alert("x", false);
        hostile.division_name = "<script>alert(1)</script>".into();
        let html = alerts_banner(&[hostile]).into_string();
        assert!(!html.contains("<script>"), "{html}");
    }
}
