//! 地址别名 Learned address aliases, for supervisors: what staff corrections taught (the part of
//! an address no division name explained, and the community staff corrected the tickets to),
//! listed once enough corrections agree, with a confirm and a reject button each. A confirmed
//! alias routes the next call at once. The router decides who may see and decide what
//! (`ListAliasProposals`, `DecideAlias`: supervisors, within their territory).

use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::Response;
use hotline_proto::v1 as pb;
use hotline_proto::v1::supervision_client::SupervisionClient;
use maud::{html, Markup};
use serde::Deserialize;

use crate::render::time_human;

use super::{
    banner_with, csrf_ok, expired, forbidden, layout, respond, to_login, Desk, DeskSession, Outcome,
};

const TITLE: &str = "地址别名 Address aliases";

/// What a person should make of a refused decision.
fn hint(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::FailedPrecondition => {
            "该别名已被处理或与地址库冲突，以下为最新列表 Already decided, or the address book says \
             otherwise: below is the list as it is now."
        }
        tonic::Code::PermissionDenied => {
            "该社区不在您的辖区 The community is outside your territory."
        }
        _ => "",
    }
}

/// `GET /desk/aliases`.
pub(super) async fn aliases_page(State(desk): State<Desk>, headers: HeaderMap) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("login");
    };
    respond(aliases_view(&desk, &session, None).await)
}

#[derive(Deserialize)]
pub(super) struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    alias: String,
    #[serde(default)]
    division_code: String,
    /// `confirm` or `reject`.
    #[serde(default)]
    decision: String,
}

/// `POST /desk/aliases/decide`: answered with the list as it now is and what happened.
pub(super) async fn decide(
    State(desk): State<Desk>,
    headers: HeaderMap,
    Form(form): Form<DecideForm>,
) -> Response {
    let Some((_, session)) = desk.session(&headers) else {
        return to_login("expired");
    };
    if !csrf_ok(&session, &form.csrf) {
        return forbidden();
    }
    let confirm = form.decision == "confirm";
    let answer = SupervisionClient::new(desk.conn(&session))
        .decide_alias(pb::DecideAliasRequest {
            alias: form.alias.clone(),
            division_code: form.division_code.clone(),
            confirm,
        })
        .await;
    let notice = match answer {
        Ok(decided) => {
            let decided = decided.into_inner();
            html! {
                div.banner.info #done role="status" {
                    @if confirm {
                        "已确认 Confirmed: 「" (decided.alias) "」 → " (decided.division_path)
                        " — 新来电立即按此定位 new calls are placed by it from now on."
                    } @else {
                        "已驳回 Rejected: 「" (decided.alias) "」 → " (decided.division_path)
                    }
                }
            }
        }
        Err(status) if expired(&status) => return to_login("expired"),
        Err(status) => banner_with(&status, hint(status.code())),
    };
    respond(aliases_view(&desk, &session, Some(notice)).await)
}

async fn aliases_view(desk: &Desk, session: &DeskSession, notice: Option<Markup>) -> Outcome {
    let mut client = SupervisionClient::new(desk.conn(session));
    let pending = client
        .list_alias_proposals(pb::ListAliasProposalsRequest {
            status: pb::AliasStatus::Proposed as i32,
        })
        .await;
    let confirmed = client
        .list_alias_proposals(pb::ListAliasProposalsRequest {
            status: pb::AliasStatus::Confirmed as i32,
        })
        .await;
    let body = match (pending, confirmed) {
        (Ok(pending), Ok(confirmed)) => aliases_markup(
            session,
            notice,
            &pending.into_inner(),
            &confirmed.into_inner(),
        ),
        (Err(status), _) | (_, Err(status)) if expired(&status) => {
            return Outcome::Login("expired")
        }
        (Err(status), _) | (_, Err(status)) => html! {
            div.panel {
                h1 { (TITLE) }
                @if let Some(n) = &notice { (n) }
                (banner_with(&status, ""))
            }
        },
    };
    Outcome::Page(layout(TITLE, Some(session), false, body))
}

fn rivals(proposal: &pb::AliasProposal) -> Markup {
    html! {
        @if proposal.rivals.is_empty() {
            span.muted { "—" }
        } @else {
            ul.rivals {
                @for r in &proposal.rivals {
                    li { (r.division_path) " (" (r.division_code) ") × " (r.agreeing) }
                }
            }
        }
    }
}

fn aliases_markup(
    session: &DeskSession,
    notice: Option<Markup>,
    pending: &pb::ListAliasProposalsResponse,
    confirmed: &pb::ListAliasProposalsResponse,
) -> Markup {
    html! {
        div.panel {
            h1 { (TITLE) }
            @if let Some(n) = notice { (n) }
            p.muted {
                "工作人员更正工单属地时，地址中未能识别的部分会被提议为该社区的别名；"
                (pending.min_agreeing) " 次一致更正后在此确认。"
                " When staff correct a ticket's territory, the part of its address no division name explained is proposed as an alias of that community; after "
                (pending.min_agreeing) " agreeing corrections it is listed here to confirm or reject."
            }
            h2 { "待确认 To decide" }
            @if pending.proposals.is_empty() {
                p #no-proposals { "暂无待确认的别名 Nothing to decide." }
            } @else {
                table.kpis #proposals {
                    thead { tr {
                        th { "别名 Alias" } th { "社区 Community" } th { "一致更正 Agreeing" }
                        th { "其他社区 Also proposed for" } th { "最近 Last" } th { "处理 Decide" }
                    } }
                    tbody {
                        @for p in &pending.proposals {
                            tr data-alias=(p.alias) {
                                td {
                                    strong { (p.alias) }
                                    // The compared form, when normalising changed it (苑 -> 园...).
                                    @if p.key != p.alias { br; span.muted { code { (p.key) } } }
                                }
                                td { (p.division_path) br; span.muted { (p.division_code) } }
                                td.num { (p.agreeing) }
                                td { (rivals(p)) }
                                td { (time_human(&p.last_at)) }
                                td {
                                    @for (decision, label) in [("confirm", "确认 Confirm"), ("reject", "驳回 Reject")] {
                                        form.inline method="post" action="/desk/aliases/decide" {
                                            input type="hidden" name="csrf" value=(session.csrf);
                                            input type="hidden" name="alias" value=(p.alias);
                                            input type="hidden" name="division_code" value=(p.division_code);
                                            input type="hidden" name="decision" value=(decision);
                                            button.secondary[decision == "reject"] type="submit" name="button" value=(decision) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "已确认 Confirmed" }
            @if confirmed.proposals.is_empty() {
                p #no-confirmed { "暂无 None yet." }
            } @else {
                table.kpis #confirmed {
                    thead { tr { th { "别名 Alias" } th { "社区 Community" } th { "一致更正 Agreeing" } th { "确认人 By" } th { "时间 At" } } }
                    tbody {
                        @for p in &confirmed.proposals {
                            tr {
                                td { (p.alias) }
                                td { (p.division_path) " (" (p.division_code) ")" }
                                td.num { (p.agreeing) }
                                td { (p.decided_by) }
                                td { (time_human(&p.decided_at)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> DeskSession {
        DeskSession {
            login: "sup".into(),
            display_name: "督办".into(),
            role: "supervisor".into(),
            station_id: String::new(),
            access_token: String::new(),
            csrf: "tok".into(),
        }
    }

    fn proposal(alias: &str, agreeing: u32) -> pb::AliasProposal {
        pb::AliasProposal {
            alias: alias.into(),
            key: alias.into(),
            division_code: "320508020024".into(),
            division_path: "姑苏区沧浪街道金狮社区".into(),
            agreeing,
            status: pb::AliasStatus::Proposed as i32,
            ..Default::default()
        }
    }

    #[test]
    fn each_proposal_has_a_confirm_and_a_reject_form_with_the_csrf_token() {
        let mut listed = proposal("<锦绣大厦>", 3);
        listed.rivals.push(pb::AliasProposal {
            division_code: "320508020025".into(),
            division_path: "姑苏区沧浪街道道前社区".into(),
            agreeing: 1,
            ..Default::default()
        });
        let pending = pb::ListAliasProposalsResponse {
            proposals: vec![listed],
            min_agreeing: 3,
        };
        let page = aliases_markup(&session(), None, &pending, &Default::default()).into_string();
        assert_eq!(page.matches(r#"action="/desk/aliases/decide""#).count(), 2);
        assert_eq!(page.matches(r#"name="csrf" value="tok""#).count(), 2);
        assert!(page.contains(r#"value="confirm""#) && page.contains(r#"value="reject""#));
        // Citizen-derived text is escaped.
        assert!(page.contains("&lt;锦绣大厦&gt;") && !page.contains("<锦绣大厦>"));
        assert!(page.contains("道前社区") && page.contains("× 1"));
        assert!(page.contains("3 agreeing corrections"));
        assert!(page.contains(r#"id="no-confirmed""#));
    }

    #[test]
    fn nothing_to_decide_says_so() {
        let page = aliases_markup(&session(), None, &Default::default(), &Default::default())
            .into_string();
        assert!(page.contains(r#"id="no-proposals""#));
        assert!(!page.contains("<form"));
    }
}
