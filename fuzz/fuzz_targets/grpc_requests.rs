//! Every `hotline.v1` request message decoded from arbitrary bytes (the body of a gRPC call
//! after its frame header), then run through the router's conversions into engine types
//! (`hotline_router::grpc::convert`, the functions each service handler calls on the same
//! fields, and `NewTicket::validate` the engine runs on a submission).
//!
//! The first input byte picks the message; the rest is its encoding. Properties: decoding
//! never panics; a decoded message re-encodes to bytes that decode to the same encoding (prost
//! keeps no state a round trip loses); no conversion panics; an enum value the router accepts
//! converts back to the number it came from.
#![no_main]

use hotline_core::ticket::parse_phone;
use hotline_core::{CategoryCode, GeoPoint, KioskId, TicketId};
use hotline_proto::v1 as pb;
use hotline_router::grpc::convert;
use libfuzzer_sys::fuzz_target;
use prost::Message;

/// Decodes `bytes` as `M`; checks the re-encoding round trip; returns the message.
fn decode<M: Message + Default>(bytes: &[u8]) -> Option<M> {
    let message = M::decode(bytes).ok()?;
    let encoded = message.encode_to_vec();
    let again = M::decode(encoded.as_slice()).expect("a re-encoded message decodes");
    assert_eq!(
        again.encode_to_vec(),
        encoded,
        "encode/decode is not a fixpoint"
    );
    Some(message)
}

/// What `act` does first for every "do X to ticket T" call.
fn ticket(raw: &str, expected_version: u64) {
    if let Ok(id) = convert::ticket_id("ticket_id", raw) {
        assert_eq!(
            TicketId::parse("ticket_id", &id.to_string()).ok(),
            Some(id),
            "a ticket id prints as itself"
        );
    }
    let _ = convert::expected_version(expected_version);
}

/// A vocabulary value in, and back out when it was accepted.
macro_rules! vocab {
    ($in:ident, $out:ident, $raw:expr) => {{
        let raw: i32 = $raw;
        if let Ok(Some(value)) = convert::$in(stringify!($in), raw) {
            assert_eq!(convert::$out(value), raw, "{} round trip", stringify!($in));
        }
    }};
}

fn station(raw: &str) {
    let _ = convert::optional(raw, |s| convert::station_id("station_id", s));
}

fn location(point: Option<pb::GeoPoint>) {
    if let Some(p) = point {
        let _ = GeoPoint::parse(p.lat, p.lng);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 40 {
        0 => {
            let Some(req) = decode::<pb::SubmitTicketRequest>(bytes) else {
                return;
            };
            if let Ok(new) = convert::new_ticket(&req) {
                if let Ok(valid) = new.validate() {
                    let _ = valid.fingerprint();
                }
            }
            station(&req.station_id);
            station(&req.route_station_id);
            if let Some(direct) = &req.answer_directly {
                let _ = convert::article_ref_in("answer_directly.article", direct.article.as_ref());
            }
            vocab!(channel_in, channel_out, req.channel);
            vocab!(nature_in, nature_out, req.nature);
            vocab!(urgency_in, urgency_out, req.urgency);
        }
        1 => {
            let Some(req) = decode::<pb::PreviewRouteRequest>(bytes) else {
                return;
            };
            location(req.location);
            let _ = convert::optional(&req.kiosk_id, |s| KioskId::parse("kiosk_id", s));
            let _ = convert::optional(&req.category, |s| CategoryCode::parse("category", s));
            vocab!(nature_in, nature_out, req.nature);
            vocab!(urgency_in, urgency_out, req.urgency);
            let _ = convert::division_code("division_code", &req.division_code);
        }
        2 => {
            let Some(req) = decode::<pb::GetTicketRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, 0);
        }
        3 => {
            let Some(req) = decode::<pb::SearchTicketsRequest>(bytes) else {
                return;
            };
            vocab!(stage_in, stage_out, req.stage);
            station(&req.station_id);
            let _ = convert::division_code("division_code", &req.division_code);
            if let Ok(Some(at)) = convert::time_in("created_after", &req.created_after) {
                let printed = convert::time_out(Some(at));
                assert!(
                    convert::time_in("created_after", &printed).is_ok(),
                    "{printed:?} does not read back"
                );
            }
            let _ = convert::time_in("created_before", &req.created_before);
            let _ = convert::optional(&req.page_token, |s| convert::ticket_id("page_token", s));
            let _ = convert::optional(&req.caller_phone, parse_phone);
        }
        4 => {
            let Some(req) = decode::<pb::AnswerDirectlyRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
            let _ = convert::article_ref_in("article", req.article.as_ref());
        }
        5 => {
            let Some(req) = decode::<pb::HandOffEmergencyRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
            let _ = convert::required("service", convert::service_in("service", req.service));
            vocab!(service_in, service_out, req.service);
        }
        6 => {
            let Some(req) = decode::<pb::NotAcceptRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
        }
        7 => {
            let Some(req) = decode::<pb::LinkDuplicateRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
            ticket(&req.duplicate_of, 0);
        }
        8 => {
            let Some(req) = decode::<pb::WatchQueueRequest>(bytes) else {
                return;
            };
            let _ = convert::station_id("station_id", &req.station_id);
        }
        9 => {
            let Some(req) = decode::<pb::ClaimTicketRequest>(bytes) else {
                return;
            };
            let _ = convert::optional(&req.ticket_id, |s| convert::ticket_id("ticket_id", s));
        }
        10 => {
            let Some(req) = decode::<pb::SignForRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
        }
        11 => {
            let Some(req) = decode::<pb::RequestReturnRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
            vocab!(reason_in, reason_out, req.reason);
        }
        12 => {
            let Some(req) = decode::<pb::RequestExtensionRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
        }
        13 => {
            let Some(req) = decode::<pb::SubDispatchRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
            let _ = convert::station_id("station_id", &req.station_id);
        }
        14 => {
            let Some(req) = decode::<pb::ReportAsCoHandlerRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
        }
        15 => {
            let Some(req) = decode::<pb::ReplyRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
        }
        16 => {
            let Some(req) = decode::<pb::ContactCallerRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
        }
        17 => {
            let Some(req) = decode::<pb::PauseClockRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
        }
        18 => {
            let Some(req) = decode::<pb::ResumeClockRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
        }
        19 => {
            let Some(req) = decode::<pb::ReclassifyRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
            let _ = convert::optional(&req.category, |s| CategoryCode::parse("category", s));
            vocab!(nature_in, nature_out, req.nature);
            vocab!(urgency_in, urgency_out, req.urgency);
            let _ = convert::division_code("division_code", &req.division_code);
        }
        20 => {
            let Some(req) = decode::<pb::DispatchRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
            let _ = convert::station_id("station_id", &req.station_id);
        }
        21 => {
            let Some(req) = decode::<pb::SendToTriageRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
        }
        22 => {
            let Some(req) = decode::<pb::ArbitrateReturnRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
        }
        23 => {
            let Some(req) = decode::<pb::DecideExtensionRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
        }
        24 => {
            let Some(req) = decode::<pb::AddCoHandlerRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
            let _ = convert::station_id("station_id", &req.station_id);
        }
        25 => {
            let Some(req) = decode::<pb::ReviewReplyRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
        }
        26 => {
            let Some(req) = decode::<pb::RecordCallbackRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
            vocab!(satisfaction_in, satisfaction_out, req.satisfaction);
        }
        27 => {
            let Some(req) = decode::<pb::CloseRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
        }
        28 => {
            let Some(req) = decode::<pb::RaiseFlagRequest>(bytes) else {
                return;
            };
            ticket(&req.ticket_id, req.expected_version);
            vocab!(flag_in, flag_out, req.flag);
        }
        29 => {
            let Some(req) = decode::<pb::GetDivisionRequest>(bytes) else {
                return;
            };
            let _ = convert::division_code("code", &req.code);
        }
        30 => {
            let Some(req) = decode::<pb::ListDivisionsRequest>(bytes) else {
                return;
            };
            let _ = convert::division_code("parent_code", &req.parent_code);
        }
        31 => {
            let Some(req) = decode::<pb::GetStationRequest>(bytes) else {
                return;
            };
            let _ = convert::station_id("station_id", &req.station_id);
        }
        32 => {
            let Some(req) = decode::<pb::ListStationsRequest>(bytes) else {
                return;
            };
            let _ = convert::division_code("division_code", &req.division_code);
        }
        // The remaining services (auth, admin, KPIs, knowledge) read strings and numbers
        // without a shared conversion; their decoding is what the router's codec runs.
        33 => {
            let _ = decode::<pb::LoginRequest>(bytes);
        }
        34 => {
            let _ = decode::<pb::AddStaffRequest>(bytes);
        }
        35 => {
            let _ = decode::<pb::IssueApiKeyRequest>(bytes);
        }
        36 => {
            let _ = decode::<pb::GetKpisRequest>(bytes);
        }
        37 => {
            let _ = decode::<pb::ListAtRiskRequest>(bytes);
        }
        38 => {
            let _ = decode::<pb::CreateArticleRequest>(bytes);
            let _ = decode::<pb::UpdateArticleRequest>(bytes);
        }
        _ => {
            let _ = decode::<pb::SearchArticlesRequest>(bytes);
            let _ = decode::<pb::ArticleActionRequest>(bytes);
            let _ = decode::<pb::ListArticlesRequest>(bytes);
            let _ = decode::<pb::DraftFromReplyRequest>(bytes);
            let _ = decode::<pb::ListContactAccessRequest>(bytes);
            let _ = decode::<pb::SetStaffPasswordRequest>(bytes);
            let _ = decode::<pb::ReportMisfitRequest>(bytes);
        }
    }
});
