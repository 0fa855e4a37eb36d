//! Identity and access over gRPC: every RPC x every role x inside / outside its scope x no
//! credential; masked and unmasked contacts; confidential callers; the contact access log; bad
//! credentials; API keys and their limits; TLS.
//!
//! The expectations are written out here, independently of the router's own table
//! (`hotline_router::access::RPC_ROLES`), so a change to either shows up as a failing cell.

use hotline_proto::v1 as pb;
use hotline_proto::v1::admin_client::AdminClient;
use hotline_proto::v1::auth_client::AuthClient;
use hotline_proto::v1::directory_client::DirectoryClient;
use hotline_proto::v1::intake_client::IntakeClient;
use hotline_proto::v1::kpis_client::KpisClient;
use hotline_proto::v1::station_client::StationClient;
use hotline_proto::v1::supervision_client::SupervisionClient;
use tonic::Code;

use crate::support::*;

/// Roles by letter, for the table below.
/// o operator, s station staff, v supervisor, a administrator, i integrator.
const EXPECTED: &[(&str, &str)] = &[
    ("Intake/SubmitTicket", "ovi"),
    ("Intake/GetTicket", "osvi"),
    ("Intake/SearchTickets", "osvi"),
    ("Intake/AnswerDirectly", "ov"),
    ("Intake/HandOffEmergency", "ov"),
    ("Intake/NotAccept", "ov"),
    ("Intake/LinkDuplicate", "ov"),
    ("Intake/PreviewRoute", "ovi"),
    ("Station/WatchQueue", "sv"),
    ("Station/ClaimTicket", "s"),
    ("Station/SignFor", "s"),
    ("Station/RequestReturn", "s"),
    ("Station/RequestExtension", "s"),
    ("Station/SubDispatch", "s"),
    ("Station/ReportAsCoHandler", "s"),
    ("Station/Reply", "s"),
    ("Station/ContactCaller", "s"),
    ("Station/PauseClock", "s"),
    ("Station/ResumeClock", "s"),
    ("Supervision/Dispatch", "ov"),
    ("Supervision/SendToTriage", "ov"),
    ("Supervision/ArbitrateReturn", "v"),
    ("Supervision/DecideExtension", "v"),
    ("Supervision/AddCoHandler", "v"),
    ("Supervision/ReviewReply", "v"),
    ("Supervision/RecordCallback", "ov"),
    ("Supervision/Close", "v"),
    ("Supervision/RaiseFlag", "v"),
    ("Supervision/Reclassify", "ov"),
    ("Supervision/ListAliasProposals", "v"),
    ("Directory/GetDivision", "osvai"),
    ("Directory/ListDivisions", "osvai"),
    ("Directory/GetStation", "osvai"),
    ("Directory/ListStations", "osvai"),
    ("Directory/ListCategories", "osvai"),
    ("Auth/WhoAmI", "osvai"),
    ("Admin/AddStaff", "a"),
    ("Admin/ListStaff", "a"),
    ("Admin/SetStaffEnabled", "a"),
    ("Admin/SetStaffPassword", "a"),
    ("Admin/IssueApiKey", "a"),
    ("Admin/RevokeApiKey", "a"),
    ("Admin/ListContactAccess", "av"),
    ("Kpis/GetKpis", "osv"),
    ("Kpis/ListAtRisk", "osv"),
    ("Kpis/WatchEvents", "osvi"),
];

/// How a call on a ticket outside the caller's scope is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutOfScope {
    /// A read: NOT_FOUND, as for a ticket that does not exist.
    Hidden,
    /// A change: PERMISSION_DENIED.
    Refused,
    /// A search: OK, without the ticket.
    Filtered,
    /// Not about one ticket (submit, preview, directory, admin): scope does not apply.
    NotApplicable,
}

fn out_of_scope(rpc: &str) -> OutOfScope {
    match rpc {
        "Intake/GetTicket" => OutOfScope::Hidden,
        "Intake/SearchTickets" => OutOfScope::Filtered,
        "Intake/SubmitTicket" | "Intake/PreviewRoute" | "Auth/WhoAmI" => OutOfScope::NotApplicable,
        r if r.starts_with("Directory/") || r.starts_with("Admin/") => OutOfScope::NotApplicable,
        // Called without a scope they read the caller's own; a named scope outside it is
        // PERMISSION_DENIED, which tests/e2e/kpis.rs checks.
        r if r.starts_with("Kpis/") => OutOfScope::NotApplicable,
        // Lists what lies in the supervisor's territory; tests/e2e/addresses.rs checks that.
        "Supervision/ListAliasProposals" => OutOfScope::NotApplicable,
        _ => OutOfScope::Refused,
    }
}

/// A principal of the matrix: who, its role letter, and whether the shared ticket is inside
/// its scope.
struct Cell {
    name: &'static str,
    who: Option<Who>,
    letter: char,
    inside: bool,
}

fn cells() -> Vec<Cell> {
    let c = |name, who: Who, letter, inside| Cell {
        name,
        who: Some(who),
        letter,
        inside,
    };
    vec![
        c("operator", operator(), 'o', true),
        c(
            "staff of the ticket's station",
            staff(COMMUNITY_CSS, "li"),
            's',
            true,
        ),
        c(
            "staff of another station",
            staff(OTHER_CSS, "zhou"),
            's',
            false,
        ),
        c("city supervisor", supervisor(), 'v', true),
        c(
            "district supervisor (姑苏)",
            supervisor_of("320508", "gusu"),
            'v',
            true,
        ),
        c(
            "street supervisor (双塔)",
            supervisor_of("320508021", "shuangta"),
            'v',
            true,
        ),
        c(
            "district supervisor (虎丘)",
            supervisor_of("320505", "huqiu"),
            'v',
            false,
        ),
        c(
            "integrator (not its ticket)",
            integrator("portal"),
            'i',
            false,
        ),
        c("administrator", administrator(), 'a', true),
        Cell {
            name: "no credential",
            who: None,
            letter: '-',
            inside: false,
        },
    ]
}

/// Calls `rpc` about `ticket` (a station's ticket) as `who`; returns the status code and, for
/// searches, whether `ticket` was in the answer.
async fn call(app: &TestApp, who: Option<&Who>, rpc: &str, ticket: &str) -> (Code, bool) {
    let conn = match who {
        Some(who) => app.authed(who).await,
        None => app.anonymous(),
    };
    let id = || ticket.to_owned();
    let code = |r: Result<tonic::Response<pb::TicketResponse>, tonic::Status>| {
        r.map_or_else(|s| s.code(), |_| Code::Ok)
    };
    let mut intake = IntakeClient::new(conn.clone());
    let mut station = StationClient::new(conn.clone());
    let mut sup = SupervisionClient::new(conn.clone());
    let mut dir = DirectoryClient::new(conn.clone());
    let mut admin = AdminClient::new(conn.clone());
    let mut auth = AuthClient::new(conn.clone());
    let mut kpis = KpisClient::new(conn.clone());
    let unique = format!("x{}", uuid_ish());
    let c = match rpc {
        "Intake/SubmitTicket" => {
            let mut r = submit_request("路灯坏了", None);
            r.request_id = unique.clone();
            intake.submit_ticket(r).await.map(|_| ()).err()
        }
        "Intake/GetTicket" => intake
            .get_ticket(pb::GetTicketRequest {
                ticket_id: id(),
                include_history: true,
            })
            .await
            .map(|_| ())
            .err(),
        "Intake/SearchTickets" => {
            match intake
                .search_tickets(pb::SearchTicketsRequest {
                    limit: 500,
                    ..Default::default()
                })
                .await
            {
                Ok(found) => {
                    let has = found.into_inner().tickets.iter().any(|t| t.id == ticket);
                    return (Code::Ok, has);
                }
                Err(s) => Some(s),
            }
        }
        "Intake/AnswerDirectly" => {
            return (
                code(
                    intake
                        .answer_directly(pb::AnswerDirectlyRequest {
                            ticket_id: id(),
                            answer: "已答复".into(),
                            ..Default::default()
                        })
                        .await,
                ),
                false,
            )
        }
        "Intake/HandOffEmergency" => {
            return (
                code(
                    intake
                        .hand_off_emergency(pb::HandOffEmergencyRequest {
                            ticket_id: id(),
                            service: pb::EmergencyService::Police110 as i32,
                            ..Default::default()
                        })
                        .await,
                ),
                false,
            )
        }
        "Intake/NotAccept" => {
            return (
                code(
                    intake
                        .not_accept(pb::NotAcceptRequest {
                            ticket_id: id(),
                            advice: "请向法院起诉".into(),
                            ..Default::default()
                        })
                        .await,
                ),
                false,
            )
        }
        "Intake/LinkDuplicate" => intake
            .link_duplicate(pb::LinkDuplicateRequest {
                ticket_id: id(),
                duplicate_of: id(),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .err(),
        "Intake/PreviewRoute" => intake
            .preview_route(pb::PreviewRouteRequest {
                text: "路灯坏了".into(),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .err(),
        "Station/WatchQueue" => station
            .watch_queue(pb::WatchQueueRequest {
                station_id: COMMUNITY_CSS.into(),
            })
            .await
            .map(|_| ())
            .err(),
        "Station/ClaimTicket" => station
            .claim_ticket(pb::ClaimTicketRequest {
                ticket_id: id(),
                lease_seconds: 0,
            })
            .await
            .map(|_| ())
            .err(),
        "Station/SignFor" => {
            return (
                code(
                    station
                        .sign_for(pb::SignForRequest {
                            ticket_id: id(),
                            expected_version: 0,
                        })
                        .await,
                ),
                false,
            )
        }
        "Station/RequestReturn" => {
            return (
                code(
                    station
                        .request_return(pb::RequestReturnRequest {
                            ticket_id: id(),
                            reason: pb::ReturnReason::WrongTerritory as i32,
                            basis: "不属本社区".into(),
                            ..Default::default()
                        })
                        .await,
                ),
                false,
            )
        }
        "Station/RequestExtension" => {
            return (
                code(
                    station
                        .request_extension(pb::RequestExtensionRequest {
                            ticket_id: id(),
                            working_days: 2,
                            reason: "需协调".into(),
                            ..Default::default()
                        })
                        .await,
                ),
                false,
            )
        }
        "Station/SubDispatch" => {
            return (
                code(
                    station
                        .sub_dispatch(pb::SubDispatchRequest {
                            ticket_id: id(),
                            station_id: COMMUNITY_CSS.into(),
                            ..Default::default()
                        })
                        .await,
                ),
                false,
            )
        }
        "Station/ReportAsCoHandler" => {
            return (
                code(
                    station
                        .report_as_co_handler(pb::ReportAsCoHandlerRequest {
                            ticket_id: id(),
                            report: "已配合".into(),
                            ..Default::default()
                        })
                        .await,
                ),
                false,
            )
        }
        "Station/Reply" => {
            return (
                code(
                    station
                        .reply(pb::ReplyRequest {
                            ticket_id: id(),
                            internal_record: "已修复".into(),
                            public_reply: "已修复".into(),
                            ..Default::default()
                        })
                        .await,
                ),
                false,
            )
        }
        "Station/ContactCaller" => {
            return (
                code(
                    station
                        .contact_caller(pb::ContactCallerRequest {
                            ticket_id: id(),
                            ..Default::default()
                        })
                        .await,
                ),
                false,
            )
        }
        "Station/PauseClock" => {
            return (
                code(
                    station
                        .pause_clock(pb::PauseClockRequest {
                            ticket_id: id(),
                            reason: "等待材料".into(),
                            ..Default::default()
                        })
                        .await,
                ),
                false,
            )
        }
        "Station/ResumeClock" => {
            return (
                code(
                    station
                        .resume_clock(pb::ResumeClockRequest {
                            ticket_id: id(),
                            ..Default::default()
                        })
                        .await,
                ),
                false,
            )
        }
        "Supervision/Dispatch" => {
            return (
                code(
                    sup.dispatch(pb::DispatchRequest {
                        ticket_id: id(),
                        station_id: COMMUNITY_CSS.into(),
                        ..Default::default()
                    })
                    .await,
                ),
                false,
            )
        }
        "Supervision/SendToTriage" => {
            return (
                code(
                    sup.send_to_triage(pb::SendToTriageRequest {
                        ticket_id: id(),
                        reason: "需人工研判".into(),
                        ..Default::default()
                    })
                    .await,
                ),
                false,
            )
        }
        "Supervision/ArbitrateReturn" => {
            return (
                code(
                    sup.arbitrate_return(pb::ArbitrateReturnRequest {
                        ticket_id: id(),
                        accept: true,
                        ..Default::default()
                    })
                    .await,
                ),
                false,
            )
        }
        "Supervision/DecideExtension" => {
            return (
                code(
                    sup.decide_extension(pb::DecideExtensionRequest {
                        ticket_id: id(),
                        approve: true,
                        ..Default::default()
                    })
                    .await,
                ),
                false,
            )
        }
        "Supervision/AddCoHandler" => {
            return (
                code(
                    sup.add_co_handler(pb::AddCoHandlerRequest {
                        ticket_id: id(),
                        station_id: STREET_OFFICE.into(),
                        ..Default::default()
                    })
                    .await,
                ),
                false,
            )
        }
        "Supervision/ReviewReply" => {
            return (
                code(
                    sup.review_reply(pb::ReviewReplyRequest {
                        ticket_id: id(),
                        approve: true,
                        ..Default::default()
                    })
                    .await,
                ),
                false,
            )
        }
        "Supervision/RecordCallback" => {
            return (
                code(
                    sup.record_callback(pb::RecordCallbackRequest {
                        ticket_id: id(),
                        satisfaction: pb::Satisfaction::Satisfied as i32,
                        ..Default::default()
                    })
                    .await,
                ),
                false,
            )
        }
        "Supervision/Close" => {
            return (
                code(
                    sup.close(pb::CloseRequest {
                        ticket_id: id(),
                        ..Default::default()
                    })
                    .await,
                ),
                false,
            )
        }
        "Supervision/RaiseFlag" => {
            return (
                code(
                    sup.raise_flag(pb::RaiseFlagRequest {
                        ticket_id: id(),
                        flag: pb::Flag::Urged as i32,
                        ..Default::default()
                    })
                    .await,
                ),
                false,
            )
        }
        "Supervision/Reclassify" => {
            return (
                code(
                    sup.reclassify(pb::ReclassifyRequest {
                        ticket_id: id(),
                        urgency: pb::Urgency::Urgent as i32,
                        ..Default::default()
                    })
                    .await,
                ),
                false,
            )
        }
        "Supervision/ListAliasProposals" => sup
            .list_alias_proposals(pb::ListAliasProposalsRequest::default())
            .await
            .map(|_| ())
            .err(),
        "Directory/GetDivision" => dir
            .get_division(pb::GetDivisionRequest {
                code: "320508".into(),
            })
            .await
            .map(|_| ())
            .err(),
        "Directory/ListDivisions" => dir
            .list_divisions(pb::ListDivisionsRequest::default())
            .await
            .map(|_| ())
            .err(),
        "Directory/GetStation" => dir
            .get_station(pb::GetStationRequest {
                station_id: COMMUNITY_CSS.into(),
            })
            .await
            .map(|_| ())
            .err(),
        "Directory/ListStations" => dir
            .list_stations(pb::ListStationsRequest {
                division_code: "320508021019".into(),
            })
            .await
            .map(|_| ())
            .err(),
        "Directory/ListCategories" => dir
            .list_categories(pb::ListCategoriesRequest {})
            .await
            .map(|_| ())
            .err(),
        "Auth/WhoAmI" => auth.who_am_i(pb::WhoAmIRequest {}).await.map(|_| ()).err(),
        "Admin/AddStaff" => admin
            .add_staff(pb::AddStaffRequest {
                login: unique.clone(),
                display_name: "新同事".into(),
                role: "operator".into(),
                password: "a-long-enough-password".into(),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .err(),
        "Admin/ListStaff" => admin
            .list_staff(pb::ListStaffRequest {})
            .await
            .map(|_| ())
            .err(),
        "Admin/SetStaffEnabled" => admin
            .set_staff_enabled(pb::SetStaffEnabledRequest {
                login: "dummy".into(),
                enabled: true,
            })
            .await
            .map(|_| ())
            .err(),
        "Admin/SetStaffPassword" => admin
            .set_staff_password(pb::SetStaffPasswordRequest {
                login: "dummy".into(),
                password: "a-long-enough-password".into(),
            })
            .await
            .map(|_| ())
            .err(),
        "Admin/IssueApiKey" => admin
            .issue_api_key(pb::IssueApiKeyRequest {
                login: "portal".into(),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .err(),
        "Admin/RevokeApiKey" => admin
            .revoke_api_key(pb::RevokeApiKeyRequest {
                key_id: "nope".into(),
            })
            .await
            .map(|_| ())
            .err(),
        "Admin/ListContactAccess" => admin
            .list_contact_access(pb::ListContactAccessRequest::default())
            .await
            .map(|_| ())
            .err(),
        // Each in the caller's own scope (no scope named).
        "Kpis/GetKpis" => kpis
            .get_kpis(pb::GetKpisRequest::default())
            .await
            .map(|_| ())
            .err(),
        "Kpis/ListAtRisk" => kpis
            .list_at_risk(pb::ListAtRiskRequest::default())
            .await
            .map(|_| ())
            .err(),
        "Kpis/WatchEvents" => kpis
            .watch_events(pb::WatchEventsRequest::default())
            .await
            .map(|_| ())
            .err(),
        other => panic!("no call for {other}"),
    };
    (c.map_or(Code::Ok, |s| s.code()), false)
}

fn uuid_ish() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// An auth refusal: what an allowed, in-scope call must never get.
fn refused(code: Code) -> bool {
    matches!(
        code,
        Code::Unauthenticated | Code::PermissionDenied | Code::NotFound | Code::ResourceExhausted
    )
}

/// A ticket dispatched to 沧浪亭社区 (姑苏区 双塔街道) that `who` submitted.
async fn ticket_by(app: &TestApp, who: &Who) -> pb::Ticket {
    // Dispatching at intake is the centre's: an integrator's request is recorded for it.
    let station = (who.role != hotline_identity::Role::Integrator).then_some(COMMUNITY_CSS);
    let mut r = submit_request("沧浪亭社区路灯坏了", station);
    r.request_id = format!("t-{}", uuid_ish());
    app.intake_as(who)
        .await
        .submit_ticket(r)
        .await
        .expect("submit")
        .into_inner()
        .ticket
        .unwrap()
}

pub async fn every_rpc_by_every_role_inside_and_outside_its_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Accounts the admin RPCs name must exist.
    app.account(&operator()).await;
    app.account(&integrator("portal")).await;
    // The account the admin RPCs change (enabling it again revokes its tokens: nobody else's).
    app.account(&Who {
        login: "dummy".into(),
        ..operator()
    })
    .await;
    // The ticket every refused call aims at: it must come out of the matrix unchanged.
    let shared = ticket_by(&app, &operator()).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for (rpc, letters) in EXPECTED {
        for cell in cells() {
            let allowed = cell.who.is_some() && letters.contains(cell.letter);
            let expected: Option<Code> = match (&cell.who, allowed, cell.inside) {
                (None, _, _) => Some(Code::Unauthenticated),
                (Some(_), false, _) => Some(Code::PermissionDenied),
                // The lifecycle's own rule: only a co-handler reports as one, not the holder.
                (Some(_), true, true) if *rpc == "Station/ReportAsCoHandler" => {
                    Some(Code::PermissionDenied)
                }
                (Some(_), true, true) => None,
                (Some(_), true, false) => match out_of_scope(rpc) {
                    OutOfScope::Hidden => Some(Code::NotFound),
                    OutOfScope::Refused => Some(Code::PermissionDenied),
                    OutOfScope::Filtered => Some(Code::Ok),
                    OutOfScope::NotApplicable => None,
                },
            };
            // Allowed, in-scope changes act on a ticket of their own, so the cells do not
            // depend on each other's order.
            let target = if expected.is_none() && out_of_scope(rpc) == OutOfScope::Refused {
                ticket_by(&app, &operator()).await.id
            } else {
                shared.id.clone()
            };
            let (code, found) = call(&app, cell.who.as_ref(), rpc, &target).await;
            checked += 1;
            let ok = match expected {
                None => !refused(code),
                Some(Code::Ok) if out_of_scope(rpc) == OutOfScope::Filtered => {
                    code == Code::Ok && !found
                }
                Some(want) => code == want,
            };
            if !ok {
                failures.push(format!(
                    "{rpc} by {}: got {code:?}{}, expected {}",
                    cell.name,
                    if found { " (with the ticket)" } else { "" },
                    expected.map_or("no refusal".to_owned(), |c| format!("{c:?}"))
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(checked, EXPECTED.len() * cells().len());
    // Nothing a refused call did changed the shared ticket.
    let after = app.get(&shared.id).await;
    assert_eq!(after.version, shared.version, "{:?}", kinds(&after));
}

pub async fn an_integrator_sees_only_what_it_submitted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let portal = integrator("portal");
    let mine = ticket_by(&app, &portal).await;
    let theirs = ticket_by(&app, &operator()).await;
    let mut intake = app.intake_as(&portal).await;
    let got = intake
        .get_ticket(pb::GetTicketRequest {
            ticket_id: mine.id.clone(),
            include_history: false,
        })
        .await
        .expect("its own ticket")
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(got.submitted_by, "portal");
    let hidden = intake
        .get_ticket(pb::GetTicketRequest {
            ticket_id: theirs.id.clone(),
            include_history: false,
        })
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let found = intake
        .search_tickets(pb::SearchTicketsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .tickets;
    let ids: Vec<&str> = found.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, vec![mine.id.as_str()]);
}

fn caller_of(t: &pb::Ticket) -> pb::Caller {
    t.caller.clone().unwrap_or_default()
}

async fn read(app: &TestApp, who: &Who, id: &str) -> Result<pb::Ticket, tonic::Status> {
    app.intake_as(who)
        .await
        .get_ticket(pb::GetTicketRequest {
            ticket_id: id.into(),
            include_history: true,
        })
        .await
        .map(|r| r.into_inner().ticket.unwrap())
}

pub async fn contacts_are_masked_for_all_but_the_call_taker_and_the_responsible_station(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let t = ticket_by(&app, &operator()).await;
    // The operator who took the call, and the station now responsible: in full.
    for who in [operator(), staff(COMMUNITY_CSS, "li")] {
        let c = caller_of(&read(&app, &who, &t.id).await.unwrap());
        assert_eq!(
            (c.name.as_str(), c.phone.as_str()),
            ("王女士", "13912345678"),
            "{who:?}"
        );
        assert!(!c.masked);
    }
    // Another operator, the centre's and the district's supervisors: masked.
    let other_operator = Who {
        login: "op-99".into(),
        ..operator()
    };
    for who in [
        other_operator.clone(),
        supervisor(),
        supervisor_of("320508", "gusu"),
    ] {
        let read = read(&app, &who, &t.id).await.unwrap();
        let c = caller_of(&read);
        assert_eq!(c.phone, "139****5678", "{who:?}");
        assert_eq!(c.name, "王女士");
        assert!(c.masked);
        // The history's submit event carries the caller too: masked the same way.
        let submit = read.events.iter().find(|e| e.kind == "submit").unwrap();
        assert!(
            !submit.detail_json.contains("13912345678"),
            "{}",
            submit.detail_json
        );
    }
    // The access log has exactly the two full reads, with who and when.
    let log = app
        .admin_as(&supervisor())
        .await
        .list_contact_access(pb::ListContactAccessRequest {
            ticket_id: t.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .accesses;
    let mut readers: Vec<&str> = log.iter().map(|a| a.login.as_str()).collect();
    readers.sort_unstable();
    readers.dedup();
    assert_eq!(readers, vec!["li", "op-17"], "{log:?}");
    assert!(log.iter().all(|a| !a.at.is_empty() && a.ticket_id == t.id));
    // Once the ticket moves to another station, the first one no longer sees it at all.
    app.station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .request_return(pb::RequestReturnRequest {
            ticket_id: t.id.clone(),
            reason: pb::ReturnReason::NotOurFunction as i32,
            basis: "路灯归街道管理".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    app.supervision()
        .await
        .arbitrate_return(pb::ArbitrateReturnRequest {
            ticket_id: t.id.clone(),
            accept: true,
            ..Default::default()
        })
        .await
        .unwrap();
    app.supervision()
        .await
        .dispatch(pb::DispatchRequest {
            ticket_id: t.id.clone(),
            station_id: STREET_OFFICE.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let moved = read(&app, &staff(COMMUNITY_CSS, "li"), &t.id).await;
    assert_eq!(moved.unwrap_err().code(), Code::NotFound);
    let c = caller_of(
        &read(&app, &staff(STREET_OFFICE, "zhao"), &t.id)
            .await
            .unwrap(),
    );
    assert_eq!(c.phone, "13912345678");
}

pub async fn a_confidential_caller_is_hidden_from_every_station(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut r = submit_request("举报：小区内有人违规经营，请保密", Some(COMMUNITY_CSS));
    r.caller = Some(pb::Caller {
        name: "匿名举报人".into(),
        phone: "13800138000".into(),
        confidential: true,
        masked: false,
    });
    let t = app
        .intake()
        .await
        .submit_ticket(r)
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert!(caller_of(&t).confidential);
    assert_eq!(caller_of(&t).phone, "13800138000", "the call taker sees it");
    let at_station = read(&app, &staff(COMMUNITY_CSS, "li"), &t.id)
        .await
        .unwrap();
    let c = caller_of(&at_station);
    assert_eq!((c.name.as_str(), c.phone.as_str()), ("", ""));
    assert!(c.masked && c.confidential);
    for event in &at_station.events {
        assert!(
            !event.detail_json.contains("13800138000"),
            "{}",
            event.detail_json
        );
        assert!(
            !event.detail_json.contains("匿名举报人"),
            "{}",
            event.detail_json
        );
    }
    // The centre relays: its supervisors see the name and a masked phone.
    let c = caller_of(&read(&app, &supervisor(), &t.id).await.unwrap());
    assert_eq!(
        (c.name.as_str(), c.phone.as_str()),
        ("匿名举报人", "138****8000")
    );
    // A station's read of a hidden contact is not an unmasked read: not in the log.
    let log = app
        .admin_as(&supervisor())
        .await
        .list_contact_access(pb::ListContactAccessRequest {
            ticket_id: t.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .accesses;
    assert!(log.iter().all(|a| a.login == "op-17"), "{log:?}");
}

pub async fn an_operator_finds_a_callers_earlier_tickets_by_phone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = ticket_by(&app, &operator()).await;
    let mut other = submit_request("噪音扰民", None);
    other.caller = Some(pb::Caller {
        name: "李先生".into(),
        phone: "13700000000".into(),
        ..Default::default()
    });
    app.intake().await.submit_ticket(other).await.unwrap();
    let found = app
        .intake()
        .await
        .search_tickets(pb::SearchTicketsRequest {
            caller_phone: "13912345678".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .tickets;
    let ids: Vec<&str> = found.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, vec![first.id.as_str()]);
}

async fn who_am_i(app: &TestApp, token: &str) -> Result<pb::StaffAccount, tonic::Status> {
    AuthClient::new(tonic::service::interceptor::InterceptedService::new(
        app.channel.clone(),
        Bearer::token(token),
    ))
    .who_am_i(pb::WhoAmIRequest {})
    .await
    .map(tonic::Response::into_inner)
}

fn assert_refused(result: Result<impl std::fmt::Debug, tonic::Status>, code: Code, says: &str) {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(says),
        "{:?} does not say {says:?}",
        status.message()
    );
}

pub async fn bad_credentials_are_refused_with_a_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let li = staff(COMMUNITY_CSS, "li");
    let token = app.token(&li).await;
    assert_eq!(who_am_i(&app, &token).await.unwrap().login, "li");

    // Forged: the signature does not match.
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_refused(
        who_am_i(&app, &forged).await,
        Code::Unauthenticated,
        "not valid",
    );
    assert_refused(
        who_am_i(&app, "garbage").await,
        Code::Unauthenticated,
        "not valid",
    );
    // Signed by a key this router does not hold.
    let other_dir = hotline_store::testing::TempDir::new();
    let other = other_dir.path().join("keys.json");
    hotline_identity::KeyRing::rotate_file(&other, app.clock_now()).unwrap();
    let account = app.account(&li).await;
    let foreign = hotline_identity::tokens::sign(
        &hotline_identity::KeyRing::load(&other).unwrap(),
        &hotline_identity::tokens::Claims::for_account(
            &account,
            app.clock_now(),
            chrono::Duration::minutes(15),
        ),
    )
    .unwrap();
    assert_refused(who_am_i(&app, &foreign).await, Code::Unauthenticated, "key");
    // Expired.
    app.advance(chrono::Duration::minutes(16));
    assert_refused(
        who_am_i(&app, &token).await,
        Code::Unauthenticated,
        "expired",
    );
    let token = app.token(&li).await;
    // Revoked: every token of the account stops working.
    let identity = app.hotline.as_ref().unwrap().identity().unwrap().clone();
    identity.revoke_all(account.id).await.unwrap();
    assert_refused(
        who_am_i(&app, &token).await,
        Code::Unauthenticated,
        "revoked",
    );

    // Disabled by an administrator: its tokens and its password stop working.
    let wang = staff(COMMUNITY_CSS, "wang");
    let wang_token = app.token(&wang).await;
    let mut admin = app.admin_as(&administrator()).await;
    admin
        .set_staff_enabled(pb::SetStaffEnabledRequest {
            login: "wang".into(),
            enabled: false,
        })
        .await
        .unwrap();
    assert_refused(
        who_am_i(&app, &wang_token).await,
        Code::Unauthenticated,
        "disabled",
    );
    let login = |login: &str, password: &str| pb::LoginRequest {
        login: login.into(),
        password: password.into(),
    };
    assert_refused(
        app.auth().login(login("wang", TEST_PASSWORD)).await,
        Code::Unauthenticated,
        "disabled",
    );
    // And a refused call changed nothing: the ticket stays where it was.
    let t = app.submit("路灯坏了", Some(COMMUNITY_CSS)).await;
    let refused = StationClient::new(tonic::service::interceptor::InterceptedService::new(
        app.channel.clone(),
        Bearer::token(&wang_token),
    ))
    .sign_for(pb::SignForRequest {
        ticket_id: t.id.clone(),
        expected_version: 0,
    })
    .await;
    assert_refused(refused, Code::Unauthenticated, "disabled");
    assert_eq!(app.get(&t.id).await.version, t.version);

    // A deleted account's token.
    let gone = staff(COMMUNITY_CSS, "gone");
    let gone_token = app.token(&gone).await;
    identity
        .delete_account(&hotline_identity::LoginName::parse("l", "gone").unwrap())
        .await
        .unwrap();
    assert_refused(
        who_am_i(&app, &gone_token).await,
        Code::Unauthenticated,
        "no longer exists",
    );

    // Passwords: right, wrong, too long, and locked after repeated failures.
    let ok = app
        .auth()
        .login(login("li", TEST_PASSWORD))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(who_am_i(&app, &ok.access_token).await.unwrap().login, "li");
    assert_refused(
        app.auth().login(login("li", &"x".repeat(300))).await,
        Code::InvalidArgument,
        "256 bytes",
    );
    assert_refused(
        app.auth().login(login("nobody", "whatever-it-is")).await,
        Code::Unauthenticated,
        "wrong login name or password",
    );
    for _ in 0..5 {
        assert_refused(
            app.auth().login(login("li", "wrong-password")).await,
            Code::Unauthenticated,
            "wrong login name or password",
        );
    }
    assert_refused(
        app.auth().login(login("li", TEST_PASSWORD)).await,
        Code::ResourceExhausted,
        "locked until",
    );
    // Refresh: once only.
    let again = app
        .auth()
        .refresh(pb::RefreshRequest {
            refresh_token: ok.refresh_token.clone(),
        })
        .await;
    // The lockout does not end sessions already open.
    let again = again.unwrap().into_inner();
    assert!(!again.access_token.is_empty());
    assert_refused(
        app.auth()
            .refresh(pb::RefreshRequest {
                refresh_token: ok.refresh_token,
            })
            .await,
        Code::Unauthenticated,
        "already used",
    );
}

pub async fn integrator_keys_are_scoped_and_rate_limited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.account(&integrator("portal")).await;
    let mut admin = app.admin_as(&administrator()).await;
    let issued = admin
        .issue_api_key(pb::IssueApiKeyRequest {
            login: "portal".into(),
            channels: vec![pb::Channel::Web as i32],
            rpcs: vec!["SubmitTicket".into(), "GetTicket".into()],
            per_minute: 3,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(issued.key.starts_with("hk_"));
    let keyed = || {
        tonic::service::interceptor::InterceptedService::new(
            app.channel.clone(),
            Bearer::token(&issued.key),
        )
    };
    let mut web = submit_request("网站留言：路灯不亮", None);
    web.channel = pb::Channel::Web as i32;
    let t = IntakeClient::new(keyed())
        .submit_ticket(web.clone())
        .await
        .expect("a web submit with the key")
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(t.submitted_by, "portal");
    // A channel the key does not name.
    let mut kiosk = web.clone();
    kiosk.channel = pb::Channel::Hotline as i32;
    kiosk.request_id = "k-1".into();
    assert_refused(
        IntakeClient::new(keyed()).submit_ticket(kiosk).await,
        Code::PermissionDenied,
        "channel",
    );
    // A station RPC with an API key.
    assert_refused(
        StationClient::new(keyed())
            .sign_for(pb::SignForRequest {
                ticket_id: t.id.clone(),
                expected_version: 0,
            })
            .await,
        Code::PermissionDenied,
        "station_staff",
    );
    // Over the limit (3 a minute): RESOURCE_EXHAUSTED, saying when to retry.
    assert_refused(
        IntakeClient::new(keyed())
            .get_ticket(pb::GetTicketRequest {
                ticket_id: t.id.clone(),
                include_history: false,
            })
            .await,
        Code::ResourceExhausted,
        "rate limit",
    );
    // A minute later it works again; revoked, never again.
    app.advance(chrono::Duration::minutes(1));
    IntakeClient::new(keyed())
        .get_ticket(pb::GetTicketRequest {
            ticket_id: t.id.clone(),
            include_history: false,
        })
        .await
        .expect("the limit refilled");
    let revoked = admin
        .revoke_api_key(pb::RevokeApiKeyRequest {
            key_id: issued.key_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(revoked.revoked);
    assert_refused(
        IntakeClient::new(keyed())
            .get_ticket(pb::GetTicketRequest {
                ticket_id: t.id.clone(),
                include_history: false,
            })
            .await,
        Code::Unauthenticated,
        "unknown or revoked",
    );
}

pub async fn an_administrator_adds_staff_who_then_log_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin_as(&administrator()).await;
    let added = admin
        .add_staff(pb::AddStaffRequest {
            login: "Chen.Jing".into(),
            display_name: "陈静".into(),
            role: "station-staff".into(),
            password: "correct horse battery".into(),
            station_id: COMMUNITY_CSS.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.login, "chen.jing");
    assert_eq!(added.station_id, COMMUNITY_CSS);
    let taken = admin
        .add_staff(pb::AddStaffRequest {
            login: "chen.jing".into(),
            display_name: "陈静".into(),
            role: "operator".into(),
            password: "correct horse battery".into(),
            ..Default::default()
        })
        .await;
    assert_refused(taken, Code::AlreadyExists, "already exists");
    let misfit = admin
        .add_staff(pb::AddStaffRequest {
            login: "who".into(),
            display_name: "某人".into(),
            role: "station_staff".into(),
            password: "correct horse battery".into(),
            ..Default::default()
        })
        .await;
    assert_refused(misfit, Code::InvalidArgument, "station_id");
    let tokens = app
        .auth()
        .login(pb::LoginRequest {
            login: "chen.jing".into(),
            password: "correct horse battery".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let me = who_am_i(&app, &tokens.access_token).await.unwrap();
    assert_eq!(
        (me.role.as_str(), me.station_id.as_str()),
        ("station_staff", COMMUNITY_CSS)
    );
    // The first start's administrator exists, with its password in a 0600 file.
    let path = app.data_dir().join("initial-admin-password");
    let password = std::fs::read_to_string(&path).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    app.auth()
        .login(pb::LoginRequest {
            login: "admin".into(),
            password: password.trim().into(),
        })
        .await
        .expect("the initial administrator logs in");
}

crate::support::on_both_backends!(
    every_rpc_by_every_role_inside_and_outside_its_scope,
    an_integrator_sees_only_what_it_submitted,
    contacts_are_masked_for_all_but_the_call_taker_and_the_responsible_station,
    a_confidential_caller_is_hidden_from_every_station,
    an_operator_finds_a_callers_earlier_tickets_by_phone,
    bad_credentials_are_refused_with_a_reason,
    integrator_keys_are_scoped_and_rate_limited,
    an_administrator_adds_staff_who_then_log_in,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_over_tls_with_a_certificate_the_client_trusts() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let server = tonic::transport::ServerTlsConfig::new().identity(
        tonic::transport::Identity::from_pem(cert.cert.pem(), cert.signing_key.serialize_pem()),
    );
    let client = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(cert.cert.pem()))
        .domain_name("localhost");
    let app = TestApp::spawn_tls(server, client).await;
    let me = app
        .intake()
        .await
        .preview_route(pb::PreviewRouteRequest {
            text: "路灯坏了".into(),
            ..Default::default()
        })
        .await;
    assert!(me.is_ok(), "{me:?}");
    // A plaintext client gets nothing from a TLS port.
    let plain = tonic::transport::Channel::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plain {
        let answer = IntakeClient::new(channel)
            .preview_route(pb::PreviewRouteRequest::default())
            .await;
        assert!(answer.is_err(), "{answer:?}");
    }
}

/// `--tls-client-ca`: an integrator's platform proves itself by a client certificate as well as
/// by its key; a client without a certificate from that CA is turned away at the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_required_when_a_client_ca_is_set() {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa,
        KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["portal.example".to_owned()]).unwrap();
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &ca).unwrap();

    let server = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(
            server_cert.pem(),
            server_key.serialize_pem(),
        ))
        .client_ca_root(tonic::transport::Certificate::from_pem(ca.pem()));
    let trusting = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(ca.pem()))
        .domain_name("localhost");
    let with_certificate = trusting
        .clone()
        .identity(tonic::transport::Identity::from_pem(
            client_cert.pem(),
            client_key.serialize_pem(),
        ));
    let app = TestApp::spawn_tls(server, with_certificate).await;
    app.intake()
        .await
        .preview_route(pb::PreviewRouteRequest {
            text: "路灯坏了".into(),
            ..Default::default()
        })
        .await
        .expect("a client with a certificate is served");
    let without = tonic::transport::Channel::from_shared(format!("https://{}", app.addr))
        .unwrap()
        .tls_config(trusting)
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = without {
        let answer = AuthClient::new(channel)
            .login(pb::LoginRequest {
                login: "op-17".into(),
                password: TEST_PASSWORD.into(),
            })
            .await;
        assert!(answer.is_err(), "no certificate, no service: {answer:?}");
    }
}
