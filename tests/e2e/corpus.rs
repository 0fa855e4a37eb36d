//! The malformed-request corpus (issue 14, part 4): requests a careless or hostile client can
//! send, over a real socket, to a router on SQLite and on PostgreSQL. Each one is answered with
//! INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, PERMISSION_DENIED (a ticket outside the
//! caller's scope) or RESOURCE_EXHAUSTED (a message over the size limit), with a message that
//! names the problem; the store is unchanged afterwards and the router still serves.
//!
//! What prost cannot build (invalid UTF-8 in a string field, a truncated message) is
//! hand-encoded ([`Pb`]) and sent through tonic's `Grpc` client with a bytes codec ([`raw`]).
//! The illegal stage transitions are not listed by hand: for every stage and every RPC that
//! acts on a ticket, the pure lifecycle (`hotline_core::apply`) says whether the action is
//! legal there, and every illegal pair is sent and must be refused as the lifecycle refuses it.

use std::collections::{BTreeMap, BTreeSet};

use hotline_core::{Action, Actor, LifecycleError, Stage, StationId, TicketId};
use hotline_identity::Role;
use hotline_proto::v1 as pb;
use hotline_proto::v1::admin_client::AdminClient;
use hotline_proto::v1::knowledge_client::KnowledgeClient;
use hotline_proto::v1::kpis_client::KpisClient;
use prost::Message;
use tonic::Code;

use crate::knowledge::editor;
use crate::support::*;

/// The largest request message the router accepts (`hotline_router::grpc::MAX_REQUEST_BYTES`).
const MAX_REQUEST_BYTES: usize = hotline_router::grpc::MAX_REQUEST_BYTES;

/// 沧浪亭社区's labour security station: a station the community station may pass work to.
const COMMUNITY_LSS: &str = "320508021019-lss";

fn li() -> Who {
    staff(COMMUNITY_CSS, "li")
}

/// Asserts the call failed with `code` and a message containing every one of `mentions`.
#[track_caller]
fn refused<T: std::fmt::Debug>(
    case: &str,
    result: Result<T, tonic::Status>,
    code: Code,
    mentions: &[&str],
) {
    let status = match result {
        Ok(answer) => panic!("{case}: accepted ({answer:?}); expected {code:?}"),
        Err(status) => status,
    };
    assert_eq!(status.code(), code, "{case}: {status:?}");
    for word in mentions {
        assert!(
            status.message().contains(word),
            "{case}: {:?} should mention {word:?}",
            status.message()
        );
    }
}

// ------------------------------------------------------------------ raw protobuf over gRPC

/// A protobuf message written by hand, field by field: it can carry what the generated types
/// cannot (bytes that are not UTF-8 in a `string` field, a length that overruns the message).
#[derive(Default, Clone)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint_raw(mut self, mut v: u64) -> Self {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
        self
    }
    fn key(self, field: u32, wire: u8) -> Self {
        self.varint_raw(u64::from(field) << 3 | u64::from(wire))
    }
    fn varint(self, field: u32, v: u64) -> Self {
        self.key(field, 0).varint_raw(v)
    }
    fn bytes(self, field: u32, b: &[u8]) -> Self {
        let mut out = self.key(field, 2).varint_raw(b.len() as u64);
        out.0.extend_from_slice(b);
        out
    }
    fn message(self, field: u32, m: Pb) -> Self {
        self.bytes(field, &m.0)
    }
}

/// Sends `bytes` as the request of `path` and returns the response's bytes.
pub(crate) async fn raw(
    conn: Authed,
    path: &str,
    bytes: Vec<u8>,
) -> Result<Vec<u8>, tonic::Status> {
    use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

    struct Bytes;
    struct BytesEncoder;
    struct BytesDecoder;
    impl Encoder for BytesEncoder {
        type Item = Vec<u8>;
        type Error = tonic::Status;
        fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
            use prost::bytes::BufMut;
            buf.put_slice(&item);
            Ok(())
        }
        fn buffer_settings(&self) -> BufferSettings {
            BufferSettings::default()
        }
    }
    impl Decoder for BytesDecoder {
        type Item = Vec<u8>;
        type Error = tonic::Status;
        fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
            use prost::bytes::Buf;
            let mut out = vec![0; buf.remaining()];
            buf.copy_to_slice(&mut out);
            Ok(Some(out))
        }
        fn buffer_settings(&self) -> BufferSettings {
            BufferSettings::default()
        }
    }
    impl Codec for Bytes {
        type Encode = Vec<u8>;
        type Decode = Vec<u8>;
        type Encoder = BytesEncoder;
        type Decoder = BytesDecoder;
        fn encoder(&mut self) -> BytesEncoder {
            BytesEncoder
        }
        fn decoder(&mut self) -> BytesDecoder {
            BytesDecoder
        }
    }

    let mut grpc = tonic::client::Grpc::new(conn);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = tonic::codegen::http::uri::PathAndQuery::try_from(path).expect("a method path");
    grpc.unary(tonic::Request::new(bytes), path, Bytes)
        .await
        .map(|r| r.into_inner())
}

// ------------------------------------------------------------------ the store, before and after

/// Everything the corpus could change: each ticket with its version (one event per version),
/// the staff accounts, the knowledge articles.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    tickets: BTreeMap<String, u64>,
    accounts: BTreeSet<String>,
    articles: BTreeSet<String>,
}

async fn snapshot(app: &TestApp) -> Snapshot {
    let store = app.hotline.as_ref().unwrap().store();
    let tickets = store
        .search(&hotline_store::SearchQuery {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .expect("list the tickets")
        .into_iter()
        .map(|t| (t.id.to_string(), t.version))
        .collect::<BTreeMap<_, _>>();
    // Versions are event counts: check it once, so comparing versions compares the event log.
    for (id, version) in &tickets {
        let events = store
            .events(TicketId::parse("t", id).unwrap())
            .await
            .unwrap();
        assert_eq!(events.len() as u64, *version, "ticket {id}'s event log");
    }
    let accounts = AdminClient::new(app.authed(&administrator()).await)
        .list_staff(pb::ListStaffRequest {})
        .await
        .expect("list staff")
        .into_inner()
        .accounts
        .into_iter()
        .map(|a| format!("{} {:?} {:?}", a.login, a.channels, a.rpcs))
        .collect();
    let articles = KnowledgeClient::new(app.authed(&supervisor()).await)
        .list_articles(pb::ListArticlesRequest {
            status: 0,
            limit: 1000,
        })
        .await
        .expect("list articles")
        .into_inner()
        .articles
        .into_iter()
        .map(|a| format!("{} v{}", a.id, a.version))
        .collect();
    Snapshot {
        tickets,
        accounts,
        articles,
    }
}

// ------------------------------------------------------------------ the corpus

async fn the_malformed_request_corpus_is_refused_naming_the_problem_and_changes_nothing(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    // Make every account the corpus acts as first: making one changes the account list.
    for who in [operator(), supervisor(), li(), editor(), administrator()] {
        app.account(&who).await;
    }
    // At the limits is accepted (these are the only changes the test makes).
    let mut at_limit = submit_request(&"灯".repeat(hotline_core::ticket::TEXT_MAX_CHARS), None);
    at_limit.address = "址".repeat(hotline_core::ticket::ADDRESS_MAX_CHARS);
    app.intake()
        .await
        .submit_ticket(at_limit)
        .await
        .expect("text and address exactly at their limits are accepted");
    let tickets = StageTickets::make(&app).await;

    let before = snapshot(&app).await;

    invalid_utf8(&app, &tickets).await;
    sizes(&app, &tickets).await;
    repeated_fields(&app).await;
    unknown_enum_values(&app, &tickets).await;
    timestamps(&app).await;
    ids_of_the_wrong_shape(&app, &tickets).await;
    illegal_transitions(&app, &tickets).await;

    assert_eq!(snapshot(&app).await, before, "the corpus changed the store");
    // Still serving: a normal request goes through.
    let ticket = app
        .submit("路灯不亮，已经三天了", Some(COMMUNITY_CSS))
        .await;
    assert_eq!(stage(&ticket), pb::Stage::AwaitingSignFor);
}

on_both_backends!(the_malformed_request_corpus_is_refused_naming_the_problem_and_changes_nothing);

/// One ticket in each stage of the lifecycle, all at 沧浪亭社区's station where a station holds
/// them.
struct StageTickets {
    by_stage: BTreeMap<&'static str, String>,
}

impl StageTickets {
    async fn make(app: &TestApp) -> Self {
        let mut by_stage = BTreeMap::new();
        let sup = app.supervision().await;
        let station = app.station_as(&li()).await;

        let accepted = app.submit("井盖缺失", None).await.id;
        by_stage.insert(Stage::Accepted.code(), accepted);

        let triage = app.submit("噪音扰民", None).await.id;
        sup.clone()
            .send_to_triage(pb::SendToTriageRequest {
                ticket_id: triage.clone(),
                expected_version: 0,
                reason: "不确定归属".into(),
            })
            .await
            .unwrap();
        by_stage.insert(Stage::PendingDispatch.code(), triage);

        let awaiting = app.submit("楼道灯不亮", Some(COMMUNITY_CSS)).await.id;
        // 并案: a call about the same lamp, merged into the incident the awaiting ticket leads.
        let merged = app.submit("楼道的灯也不亮了", None).await.id;
        app.incidents_as(&operator())
            .await
            .join_incident(pb::JoinIncidentRequest {
                ticket_id: merged.clone(),
                expected_version: 0,
                of_ticket_id: awaiting.clone(),
            })
            .await
            .unwrap();
        by_stage.insert(Stage::Merged.code(), merged);
        by_stage.insert(Stage::AwaitingSignFor.code(), awaiting);

        let returned = app.submit("小区门口占道经营", Some(COMMUNITY_CSS)).await.id;
        station
            .clone()
            .request_return(pb::RequestReturnRequest {
                ticket_id: returned.clone(),
                expected_version: 0,
                reason: pb::ReturnReason::WrongTerritory as i32,
                basis: "该地址属于相邻社区".into(),
            })
            .await
            .unwrap();
        by_stage.insert(Stage::ReturnRequested.code(), returned);

        // One ticket carried through in_progress, pending_review, awaiting_callback, closed.
        let mut carried = Vec::new();
        for text in ["垃圾未清运", "水管漏水", "健身器材损坏", "路面坑洼"] {
            let id = app.submit(text, Some(COMMUNITY_CSS)).await.id;
            station
                .clone()
                .sign_for(pb::SignForRequest {
                    ticket_id: id.clone(),
                    expected_version: 0,
                })
                .await
                .unwrap();
            carried.push(id);
        }
        for id in &carried[1..] {
            station
                .clone()
                .reply(pb::ReplyRequest {
                    ticket_id: id.clone(),
                    expected_version: 0,
                    internal_record: "已处理".into(),
                    public_reply: "已处理，感谢反映".into(),
                })
                .await
                .unwrap();
        }
        for id in &carried[2..] {
            sup.clone()
                .review_reply(pb::ReviewReplyRequest {
                    ticket_id: id.clone(),
                    expected_version: 0,
                    approve: true,
                    note: String::new(),
                })
                .await
                .unwrap();
        }
        let closed = &carried[3];
        sup.clone()
            .record_callback(pb::RecordCallbackRequest {
                ticket_id: closed.clone(),
                expected_version: 0,
                satisfaction: pb::Satisfaction::Satisfied as i32,
                reasonable: false,
                note: String::new(),
            })
            .await
            .unwrap();
        sup.clone()
            .close(pb::CloseRequest {
                ticket_id: closed.clone(),
                expected_version: 0,
            })
            .await
            .unwrap();
        for (stage, id) in [
            Stage::InProgress,
            Stage::PendingReview,
            Stage::AwaitingCallback,
            Stage::Closed,
        ]
        .into_iter()
        .zip(carried)
        {
            by_stage.insert(stage.code(), id);
        }
        // Every stage the lifecycle has, and each ticket really is in it.
        for s in Stage::ALL {
            let id = by_stage
                .get(s.code())
                .unwrap_or_else(|| panic!("no ticket in stage {}", s.code()));
            let stored = app
                .hotline
                .as_ref()
                .unwrap()
                .store()
                .get(TicketId::parse("t", id).unwrap())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(stored.stage, *s, "{id}");
        }
        Self { by_stage }
    }

    fn get(&self, stage: Stage) -> &str {
        &self.by_stage[stage.code()]
    }
}

/// Bytes that are not UTF-8 in a string field, at the top level and nested, in several
/// services; and messages that do not parse at all.
async fn invalid_utf8(app: &TestApp, tickets: &StageTickets) {
    const BAD: &[u8] = &[0xe5, 0x8f, 0xff, 0xfe, b'x'];
    let live = tickets.get(Stage::InProgress).as_bytes().to_vec();
    let cases: Vec<(&str, Who, &str, Pb, &str)> = vec![
        (
            "text",
            operator(),
            "/hotline.v1.Intake/SubmitTicket",
            Pb::default().varint(2, 1).bytes(4, BAD),
            "text",
        ),
        (
            "address",
            operator(),
            "/hotline.v1.Intake/SubmitTicket",
            Pb::default()
                .varint(2, 1)
                .bytes(4, "路灯坏了".as_bytes())
                .bytes(5, BAD),
            "address",
        ),
        (
            "caller.name (nested)",
            operator(),
            "/hotline.v1.Intake/SubmitTicket",
            Pb::default()
                .varint(2, 1)
                .message(3, Pb::default().bytes(1, BAD))
                .bytes(4, "路灯坏了".as_bytes()),
            "name",
        ),
        (
            "request_id",
            operator(),
            "/hotline.v1.Intake/SubmitTicket",
            Pb::default()
                .bytes(1, BAD)
                .varint(2, 1)
                .bytes(4, "路灯坏了".as_bytes()),
            "request_id",
        ),
        (
            "ticket_id",
            operator(),
            "/hotline.v1.Intake/GetTicket",
            Pb::default().bytes(1, BAD),
            "ticket_id",
        ),
        (
            "reply text",
            li(),
            "/hotline.v1.Station/Reply",
            Pb::default()
                .bytes(1, &live)
                .bytes(4, "已修复".as_bytes())
                .bytes(5, BAD),
            "public_reply",
        ),
        (
            "station_id",
            supervisor(),
            "/hotline.v1.Supervision/Dispatch",
            Pb::default()
                .bytes(1, tickets.get(Stage::Accepted).as_bytes())
                .bytes(4, BAD),
            "station_id",
        ),
        (
            "article text",
            editor(),
            "/hotline.v1.Knowledge/CreateArticle",
            Pb::default().message(
                1,
                Pb::default()
                    .bytes(1, "居住证办理".as_bytes())
                    .bytes(2, BAD)
                    .bytes(3, "带身份证到派出所".as_bytes()),
            ),
            "alt_questions",
        ),
    ];
    for (case, who, path, message, field) in cases {
        refused(
            case,
            raw(app.authed(&who).await, path, message.0).await,
            Code::InvalidArgument,
            &["UTF-8", field],
        );
    }
    // No credential needed to reach the decoder of a login.
    refused(
        "login",
        raw(
            app.anonymous(),
            "/hotline.v1.Auth/Login",
            Pb::default().bytes(1, BAD).bytes(2, b"secret").0,
        )
        .await,
        Code::InvalidArgument,
        &["UTF-8", "login"],
    );
    // A length running past the end, a wrong wire type, a bare field key, a zero field number.
    for (case, bytes) in [
        ("truncated", vec![0x22, 0x10, b'a']),
        ("wrong wire type", Pb::default().varint(4, 1).0),
        ("a key without its value", vec![0x22]),
        ("field number zero", vec![0x02, 0x00]),
    ] {
        refused(
            case,
            raw(
                app.authed(&operator()).await,
                "/hotline.v1.Intake/SubmitTicket",
                bytes,
            )
            .await,
            Code::InvalidArgument,
            &["does not decode"],
        );
    }
}

/// Text and address just over their limits, at 1 MB (under the message limit: the field is
/// named) and at 5 MB (over it: RESOURCE_EXHAUSTED before anything is decoded).
async fn sizes(app: &TestApp, tickets: &StageTickets) {
    let mut intake = app.intake().await;
    let one_mb = "a".repeat(1_000_000);
    let five_mb = "a".repeat(5_000_000);
    for (case, text, address, code, mentions) in [
        (
            "text 4,001 characters",
            "灯".repeat(hotline_core::ticket::TEXT_MAX_CHARS + 1),
            String::new(),
            Code::InvalidArgument,
            vec!["text", "4000"],
        ),
        (
            "address 501 characters",
            "路灯坏了".to_owned(),
            "址".repeat(hotline_core::ticket::ADDRESS_MAX_CHARS + 1),
            Code::InvalidArgument,
            vec!["address", "500"],
        ),
        (
            "text 1 MB",
            one_mb.clone(),
            String::new(),
            Code::InvalidArgument,
            vec!["text"],
        ),
        (
            "address 1 MB",
            "路灯坏了".to_owned(),
            one_mb.clone(),
            Code::InvalidArgument,
            vec!["address"],
        ),
        (
            "text 5 MB",
            five_mb.clone(),
            String::new(),
            Code::ResourceExhausted,
            vec!["1048576"],
        ),
        (
            "address 5 MB",
            "路灯坏了".to_owned(),
            five_mb.clone(),
            Code::ResourceExhausted,
            vec!["1048576"],
        ),
    ] {
        let mut request = submit_request(&text, None);
        request.address = address;
        refused(case, intake.submit_ticket(request).await, code, &mentions);
    }
    // The same limits wherever text comes in.
    refused(
        "preview 5 MB",
        intake
            .preview_route(pb::PreviewRouteRequest {
                text: five_mb.clone(),
                ..Default::default()
            })
            .await,
        Code::ResourceExhausted,
        &["1048576"],
    );
    refused(
        "preview 1 MB",
        intake
            .preview_route(pb::PreviewRouteRequest {
                text: one_mb.clone(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        &["text"],
    );
    refused(
        "reclassify address 1 MB",
        app.supervision()
            .await
            .reclassify(pb::ReclassifyRequest {
                ticket_id: tickets.get(Stage::Accepted).into(),
                address: one_mb.clone(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        &["address"],
    );
    refused(
        "reply 1 MB",
        app.station_as(&li())
            .await
            .reply(pb::ReplyRequest {
                ticket_id: tickets.get(Stage::InProgress).into(),
                expected_version: 0,
                internal_record: "已处理".into(),
                public_reply: one_mb.clone(),
            })
            .await,
        Code::InvalidArgument,
        &["public_reply"],
    );
    // The message limit's edge: a request of exactly MAX_REQUEST_BYTES is decoded (and its
    // text refused by name); one byte more is not decoded at all.
    let mut at_limit = submit_request("", None);
    // Close to it at once (the text's key and length take a few bytes), then byte by byte.
    at_limit.text = "a".repeat(MAX_REQUEST_BYTES - at_limit.encoded_len() - 8);
    while at_limit.encoded_len() < MAX_REQUEST_BYTES {
        at_limit.text.push('a');
    }
    assert_eq!(at_limit.encoded_len(), MAX_REQUEST_BYTES);
    refused(
        "exactly the message limit",
        intake.submit_ticket(at_limit.clone()).await,
        Code::InvalidArgument,
        &["text"],
    );
    let mut just_over = at_limit;
    just_over.text.push('a');
    assert_eq!(just_over.encoded_len(), MAX_REQUEST_BYTES + 1);
    refused(
        "one byte over the message limit",
        intake.submit_ticket(just_over).await,
        Code::ResourceExhausted,
        &["1048576"],
    );
}

/// 10,000 elements in every repeated field a request has.
async fn repeated_fields(app: &TestApp) {
    const N: usize = 10_000;
    let mut kb = KnowledgeClient::new(app.authed(&editor()).await);
    let content = || pb::ArticleContent {
        title: "居住证怎么办理".into(),
        answer: "带身份证和租房合同到社区警务室登记。".into(),
        categories: vec!["SQ.SYJZ".into()],
        territories: vec!["3205".into()],
        owner_station_id: STREET_OFFICE.into(),
        ..Default::default()
    };
    let mut many_questions = content();
    many_questions.alt_questions = vec!["居住证在哪办".into(); N];
    let mut many_categories = content();
    many_categories.categories = vec!["SQ.SYJZ".into(); N];
    let mut many_territories = content();
    many_territories.territories = vec!["3205".into(); N];
    for (case, content, field) in [
        ("alt_questions", many_questions, "alt_questions"),
        ("categories", many_categories, "categories"),
        ("territories", many_territories, "territories"),
    ] {
        refused(
            case,
            kb.create_article(pb::CreateArticleRequest {
                content: Some(content),
                external_key: String::new(),
            })
            .await,
            Code::InvalidArgument,
            &[field, "10000"],
        );
    }
    refused(
        "search categories",
        kb.search_articles(pb::SearchArticlesRequest {
            text: "居住证".into(),
            categories: vec!["SQ.SYJZ".into(); N],
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        &["categories", "10000"],
    );
    let mut admin = AdminClient::new(app.authed(&administrator()).await);
    let integrator = |channels: Vec<i32>, rpcs: Vec<String>| pb::AddStaffRequest {
        login: "kiosk-vendor".into(),
        display_name: "信息亭厂商".into(),
        role: "integrator".into(),
        password: "a-long-password-1".into(),
        channels,
        rpcs,
        ..Default::default()
    };
    refused(
        "integrator channels",
        admin
            .add_staff(integrator(
                vec![pb::Channel::Kiosk as i32; N],
                vec!["SubmitTicket".into()],
            ))
            .await,
        Code::InvalidArgument,
        &["channels", "10000"],
    );
    refused(
        "integrator rpcs",
        admin
            .add_staff(integrator(
                vec![pb::Channel::Kiosk as i32],
                vec!["SubmitTicket".into(); N],
            ))
            .await,
        Code::InvalidArgument,
        &["rpcs", "10000"],
    );
}

/// Enum numbers the API does not define (a newer client, or garbage) are refused by name, never
/// read as "unspecified" and never stored.
async fn unknown_enum_values(app: &TestApp, tickets: &StageTickets) {
    let mut intake = app.intake().await;
    for (field, set) in [
        (
            "channel",
            (|r: &mut pb::SubmitTicketRequest| r.channel = 99) as fn(&mut _),
        ),
        ("nature", |r| r.nature = 99),
        ("urgency", |r| r.urgency = 42),
        ("channel", |r| r.channel = -1),
    ] {
        let mut request = submit_request("路灯坏了", None);
        set(&mut request);
        refused(
            field,
            intake.submit_ticket(request).await,
            Code::InvalidArgument,
            &[field],
        );
    }
    refused(
        "search stage",
        intake
            .search_tickets(pb::SearchTicketsRequest {
                stage: 99,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        &["stage"],
    );
    refused(
        "emergency service",
        intake
            .hand_off_emergency(pb::HandOffEmergencyRequest {
                ticket_id: tickets.get(Stage::Accepted).into(),
                expected_version: 0,
                service: 99,
                note: "火警".into(),
            })
            .await,
        Code::InvalidArgument,
        &["service"],
    );
    let mut sup = app.supervision().await;
    refused(
        "flag",
        sup.raise_flag(pb::RaiseFlagRequest {
            ticket_id: tickets.get(Stage::InProgress).into(),
            expected_version: 0,
            flag: 99,
            note: String::new(),
        })
        .await,
        Code::InvalidArgument,
        &["flag"],
    );
    refused(
        "satisfaction",
        sup.record_callback(pb::RecordCallbackRequest {
            ticket_id: tickets.get(Stage::AwaitingCallback).into(),
            expected_version: 0,
            satisfaction: 99,
            reasonable: false,
            note: String::new(),
        })
        .await,
        Code::InvalidArgument,
        &["satisfaction"],
    );
    refused(
        "reclassify nature",
        sup.reclassify(pb::ReclassifyRequest {
            ticket_id: tickets.get(Stage::Accepted).into(),
            nature: 99,
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        &["nature"],
    );
    refused(
        "return reason",
        app.station_as(&li())
            .await
            .request_return(pb::RequestReturnRequest {
                ticket_id: tickets.get(Stage::InProgress).into(),
                expected_version: 0,
                reason: 99,
                basis: "不归我们管".into(),
            })
            .await,
        Code::InvalidArgument,
        &["reason"],
    );
    refused(
        "kpi group_by",
        KpisClient::new(app.authed(&supervisor()).await)
            .get_kpis(pb::GetKpisRequest {
                group_by: 99,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        &["group_by"],
    );
    refused(
        "article status",
        KnowledgeClient::new(app.authed(&supervisor()).await)
            .list_articles(pb::ListArticlesRequest {
                status: 99,
                limit: 0,
            })
            .await,
        Code::InvalidArgument,
        &["status"],
    );
}

/// Times that are not RFC 3339, not on the calendar, or outside any period the router keeps.
async fn timestamps(app: &TestApp) {
    let mut intake = app.intake().await;
    for raw_time in [
        "2026-02-30T09:00:00Z",    // no such day
        "2026-03-02T25:00:00Z",    // no such hour
        "2026-03-02T09:00:00",     // no offset: which time zone?
        "10000-01-01T00:00:00Z",   // five-digit year
        "+262144-01-01T00:00:00Z", // past chrono's range
        "-0001-01-01T00:00:00Z",
        "1e30",
        "2026-03-02T09:00:00+24:00",
    ] {
        for field in ["created_after", "created_before"] {
            let mut request = pb::SearchTicketsRequest::default();
            match field {
                "created_after" => request.created_after = raw_time.into(),
                _ => request.created_before = raw_time.into(),
            }
            refused(
                &format!("{field} {raw_time}"),
                intake.search_tickets(request).await,
                Code::InvalidArgument,
                &[field],
            );
        }
    }
    let mut kpis = KpisClient::new(app.authed(&supervisor()).await);
    for (case, from, to, field) in [
        (
            "from after to",
            "2026-03-02T09:00:00Z",
            "2026-03-01T09:00:00Z",
            "from",
        ),
        ("from unparsable", "2026-13-01T00:00:00Z", "", "from"),
        ("to unparsable", "", "9999-99-99T00:00:00Z", "to"),
        // Whole years back and far ahead: every day of them would be a row.
        (
            "from year 1",
            "0001-01-01T00:00:00Z",
            "2026-03-02T00:00:00Z",
            "period",
        ),
        (
            "to year 9999",
            "2026-03-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "period",
        ),
    ] {
        refused(
            case,
            kpis.get_kpis(pb::GetKpisRequest {
                from: from.into(),
                to: to.into(),
                group_by: pb::KpiGroupBy::Day as i32,
                ..Default::default()
            })
            .await,
            Code::InvalidArgument,
            &[field],
        );
    }
    let mut kb = KnowledgeClient::new(app.authed(&supervisor()).await);
    for day in ["2026-13-01", "2026-02-30", "99999-01-01", "20260302"] {
        refused(
            day,
            kb.search_articles(pb::SearchArticlesRequest {
                text: "居住证".into(),
                on_date: day.into(),
                ..Default::default()
            })
            .await,
            Code::InvalidArgument,
            &["on_date"],
        );
    }
}

/// Ids that cannot be ids are INVALID_ARGUMENT naming the field; well-formed ids of nothing are
/// NOT_FOUND naming the id.
async fn ids_of_the_wrong_shape(app: &TestApp, tickets: &StageTickets) {
    let mut intake = app.intake().await;
    let long = "0".repeat(10_000);
    for bad in [
        "",
        "not-a-ticket",
        "0190f7a0-0000-7000-8000-00000000000", // one digit short
        "0190f7a0-0000-7000-8000-0000000000000", // one too many
        "0190f7a0-0000-7000-8000-00000000000g",
        "{0190f7a0-0000-7000-8000-000000000000}",
        "' OR 1=1 --",
        "工单0190f7a0",
        long.as_str(),
    ] {
        refused(
            &format!("ticket id {:.40}", bad),
            intake
                .get_ticket(pb::GetTicketRequest {
                    ticket_id: bad.into(),
                    include_history: false,
                })
                .await,
            Code::InvalidArgument,
            &["ticket_id"],
        );
        // And on a change, before anything else is looked at.
        refused(
            &format!("close {:.40}", bad),
            app.supervision()
                .await
                .close(pb::CloseRequest {
                    ticket_id: bad.into(),
                    expected_version: 0,
                })
                .await,
            Code::InvalidArgument,
            &["ticket_id"],
        );
    }
    let unknown = "0190f7a0-0000-7000-8000-000000000000";
    refused(
        "unknown ticket",
        app.station_as(&li())
            .await
            .sign_for(pb::SignForRequest {
                ticket_id: unknown.into(),
                expected_version: 0,
            })
            .await,
        Code::NotFound,
        &[unknown],
    );
    refused(
        "duplicate of an unknown ticket",
        intake
            .link_duplicate(pb::LinkDuplicateRequest {
                ticket_id: tickets.get(Stage::Accepted).into(),
                expected_version: 0,
                duplicate_of: unknown.into(),
            })
            .await,
        Code::NotFound,
        &[unknown],
    );
    refused(
        "duplicate of garbage",
        intake
            .link_duplicate(pb::LinkDuplicateRequest {
                ticket_id: tickets.get(Stage::Accepted).into(),
                expected_version: 0,
                duplicate_of: "not-a-ticket".into(),
            })
            .await,
        Code::InvalidArgument,
        &["duplicate_of"],
    );
    let mut sup = app.supervision().await;
    for (bad, code, mention) in [
        // Well-formed but no station: named as not found.
        ("320508021019_css", Code::NotFound, "320508021019_css"),
        ("3205080210191-css-", Code::NotFound, "3205080210191-css-"),
        ("../../etc/passwd", Code::InvalidArgument, "station_id"),
        ("", Code::InvalidArgument, "station_id"),
        ("320508021019-nope", Code::NotFound, "320508021019-nope"),
    ] {
        refused(
            &format!("dispatch to {bad:?}"),
            sup.dispatch(pb::DispatchRequest {
                ticket_id: tickets.get(Stage::Accepted).into(),
                expected_version: 0,
                station_id: bad.into(),
                note: String::new(),
            })
            .await,
            code,
            &[mention],
        );
    }
    for (bad, code, mention) in [
        ("32050x", Code::InvalidArgument, "division_code"),
        ("3205080210191", Code::InvalidArgument, "division_code"),
        ("320599999999", Code::NotFound, "320599999999"),
    ] {
        let mut request = submit_request("路灯坏了", None);
        request.division_code = bad.into();
        refused(
            &format!("division {bad}"),
            intake.submit_ticket(request).await,
            code,
            &[mention],
        );
    }
    let mut request = submit_request("路灯坏了", None);
    request.request_id = "r".repeat(10_000);
    refused(
        "request id 10,000 characters",
        intake.submit_ticket(request).await,
        Code::InvalidArgument,
        &["request_id"],
    );
    let mut kb = KnowledgeClient::new(app.authed(&supervisor()).await);
    refused(
        "article id",
        kb.get_article(pb::GetArticleRequest {
            article_id: "not-an-article".into(),
            include_history: false,
        })
        .await,
        Code::InvalidArgument,
        &["article_id"],
    );
    refused(
        "category code",
        kb.search_articles(pb::SearchArticlesRequest {
            text: "居住证".into(),
            categories: vec!["居住证; DROP TABLE".into()],
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        &["categories"],
    );
}

// ------------------------------------------------------------------ illegal stage transitions

/// Every RPC that changes a ticket, with who makes it in the corpus and the lifecycle action
/// it asks for (the oracle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rpc {
    AnswerDirectly,
    HandOffEmergency,
    NotAccept,
    LinkDuplicate,
    ClaimTicket,
    SignFor,
    RequestReturn,
    RequestExtension,
    SubDispatch,
    ReportAsCoHandler,
    Reply,
    ContactCaller,
    PauseClock,
    ResumeClock,
    Dispatch,
    SendToTriage,
    ArbitrateReturn,
    DecideExtension,
    AddCoHandler,
    ReviewReply,
    RecordCallback,
    Close,
    RaiseFlag,
    Reclassify,
    JoinIncident,
    SplitTicket,
}

impl Rpc {
    const ALL: [Rpc; 26] = [
        Rpc::AnswerDirectly,
        Rpc::HandOffEmergency,
        Rpc::NotAccept,
        Rpc::LinkDuplicate,
        Rpc::ClaimTicket,
        Rpc::SignFor,
        Rpc::RequestReturn,
        Rpc::RequestExtension,
        Rpc::SubDispatch,
        Rpc::ReportAsCoHandler,
        Rpc::Reply,
        Rpc::ContactCaller,
        Rpc::PauseClock,
        Rpc::ResumeClock,
        Rpc::Dispatch,
        Rpc::SendToTriage,
        Rpc::ArbitrateReturn,
        Rpc::DecideExtension,
        Rpc::AddCoHandler,
        Rpc::ReviewReply,
        Rpc::RecordCallback,
        Rpc::Close,
        Rpc::RaiseFlag,
        Rpc::Reclassify,
        Rpc::JoinIncident,
        Rpc::SplitTicket,
    ];

    fn path(self) -> String {
        let service = match self {
            Rpc::AnswerDirectly | Rpc::HandOffEmergency | Rpc::NotAccept | Rpc::LinkDuplicate => {
                "Intake"
            }
            Rpc::ClaimTicket
            | Rpc::SignFor
            | Rpc::RequestReturn
            | Rpc::RequestExtension
            | Rpc::SubDispatch
            | Rpc::ReportAsCoHandler
            | Rpc::Reply
            | Rpc::ContactCaller
            | Rpc::PauseClock
            | Rpc::ResumeClock => "Station",
            Rpc::JoinIncident | Rpc::SplitTicket => "Incidents",
            _ => "Supervision",
        };
        format!("{service}/{self:?}")
    }

    fn who(self) -> Who {
        match self {
            Rpc::AnswerDirectly
            | Rpc::HandOffEmergency
            | Rpc::NotAccept
            | Rpc::LinkDuplicate
            | Rpc::JoinIncident => operator(),
            Rpc::ClaimTicket
            | Rpc::SignFor
            | Rpc::RequestReturn
            | Rpc::RequestExtension
            | Rpc::SubDispatch
            | Rpc::ReportAsCoHandler
            | Rpc::Reply
            | Rpc::ContactCaller
            | Rpc::PauseClock
            | Rpc::ResumeClock => li(),
            _ => supervisor(),
        }
    }

    /// The lifecycle action the request asks for, on `ticket`.
    fn action(self, ticket: &hotline_core::Ticket, other: TicketId) -> Action {
        let note = || "见附件".to_owned();
        let station = |s: &str| StationId::parse("s", s).unwrap();
        match self {
            Rpc::AnswerDirectly => Action::AnswerDirectly {
                answer: note(),
                article: None,
                callback: false,
                callback_due: None,
            },
            Rpc::HandOffEmergency => Action::HandOff {
                service: hotline_core::EmergencyService::Fire,
                note: note(),
            },
            Rpc::NotAccept => Action::NotAccept { advice: note() },
            Rpc::LinkDuplicate => Action::LinkDuplicate { of: other },
            Rpc::ClaimTicket => Action::Claim,
            Rpc::SignFor => Action::SignFor {
                resolution_due: None,
                first_contact_due: None,
            },
            Rpc::RequestReturn => Action::RequestReturn {
                reason: hotline_core::ReturnReason::WrongTerritory,
                basis: note(),
            },
            Rpc::RequestExtension => Action::RequestExtension {
                working_days: 3,
                reason: note(),
            },
            Rpc::SubDispatch => Action::SubDispatch {
                station: station(COMMUNITY_LSS),
                sign_for_due: None,
                note: note(),
            },
            Rpc::ReportAsCoHandler => Action::CoHandlerReport { report: note() },
            Rpc::Reply => Action::Reply {
                internal_record: note(),
                public_reply: note(),
            },
            Rpc::ContactCaller => Action::ContactCaller { note: note() },
            Rpc::PauseClock => Action::PauseClock { reason: note() },
            Rpc::ResumeClock => Action::ResumeClock {
                resolution_due: None,
            },
            Rpc::Dispatch => Action::Dispatch {
                station: station(COMMUNITY_CSS),
                sign_for_due: None,
                note: note(),
            },
            Rpc::SendToTriage => Action::SendToTriage { reason: note() },
            Rpc::ArbitrateReturn => Action::ArbitrateReturn {
                accept: false,
                note: note(),
            },
            Rpc::DecideExtension => Action::DecideExtension {
                approve: true,
                new_resolution_due: None,
                note: note(),
            },
            Rpc::AddCoHandler => Action::AddCoHandler {
                station: station(OTHER_CSS),
                due: None,
            },
            Rpc::ReviewReply => Action::Review {
                approve: true,
                callback_due: None,
                note: note(),
            },
            Rpc::RecordCallback => Action::RecordCallback {
                satisfaction: hotline_core::Satisfaction::Satisfied,
                reasonable: false,
                note: note(),
                redo_sign_for_due: None,
            },
            Rpc::Close => Action::Close,
            Rpc::RaiseFlag => Action::Flag {
                flag: hotline_core::Flag::Urged,
                note: note(),
            },
            Rpc::Reclassify => Action::Reclassify {
                category: ticket.category.clone(),
                nature: ticket.nature,
                urgency: hotline_core::Urgency::Critical,
                division: ticket.division.clone(),
                address: None,
            },
            // The incident of `other` (it leads one once a ticket has joined it).
            Rpc::JoinIncident => Action::JoinIncident {
                incident: hotline_core::IncidentId::led_by(other),
            },
            Rpc::SplitTicket => Action::LeaveIncident {
                incident: hotline_core::IncidentId::led_by(other),
                note: note(),
            },
        }
    }

    /// The same request over gRPC, as raw bytes of the method's message.
    fn request(self, ticket: &str, other: &str) -> Vec<u8> {
        let id = ticket.to_owned();
        let note = "见附件".to_owned();
        match self {
            Rpc::AnswerDirectly => pb::AnswerDirectlyRequest {
                ticket_id: id,
                answer: note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::HandOffEmergency => pb::HandOffEmergencyRequest {
                ticket_id: id,
                service: pb::EmergencyService::Fire119 as i32,
                note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::NotAccept => pb::NotAcceptRequest {
                ticket_id: id,
                advice: note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::LinkDuplicate => pb::LinkDuplicateRequest {
                ticket_id: id,
                duplicate_of: other.into(),
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::ClaimTicket => pb::ClaimTicketRequest {
                ticket_id: id,
                lease_seconds: 0,
            }
            .encode_to_vec(),
            Rpc::SignFor => pb::SignForRequest {
                ticket_id: id,
                expected_version: 0,
            }
            .encode_to_vec(),
            Rpc::RequestReturn => pb::RequestReturnRequest {
                ticket_id: id,
                reason: pb::ReturnReason::WrongTerritory as i32,
                basis: note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::RequestExtension => pb::RequestExtensionRequest {
                ticket_id: id,
                working_days: 3,
                reason: note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::SubDispatch => pb::SubDispatchRequest {
                ticket_id: id,
                station_id: COMMUNITY_LSS.into(),
                note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::ReportAsCoHandler => pb::ReportAsCoHandlerRequest {
                ticket_id: id,
                report: note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::Reply => pb::ReplyRequest {
                ticket_id: id,
                internal_record: note.clone(),
                public_reply: note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::ContactCaller => pb::ContactCallerRequest {
                ticket_id: id,
                note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::PauseClock => pb::PauseClockRequest {
                ticket_id: id,
                reason: note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::ResumeClock => pb::ResumeClockRequest {
                ticket_id: id,
                expected_version: 0,
            }
            .encode_to_vec(),
            Rpc::Dispatch => pb::DispatchRequest {
                ticket_id: id,
                station_id: COMMUNITY_CSS.into(),
                note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::SendToTriage => pb::SendToTriageRequest {
                ticket_id: id,
                reason: note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::ArbitrateReturn => pb::ArbitrateReturnRequest {
                ticket_id: id,
                accept: false,
                note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::DecideExtension => pb::DecideExtensionRequest {
                ticket_id: id,
                approve: true,
                note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::AddCoHandler => pb::AddCoHandlerRequest {
                ticket_id: id,
                station_id: OTHER_CSS.into(),
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::ReviewReply => pb::ReviewReplyRequest {
                ticket_id: id,
                approve: true,
                note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::RecordCallback => pb::RecordCallbackRequest {
                ticket_id: id,
                satisfaction: pb::Satisfaction::Satisfied as i32,
                note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::Close => pb::CloseRequest {
                ticket_id: id,
                expected_version: 0,
            }
            .encode_to_vec(),
            Rpc::RaiseFlag => pb::RaiseFlagRequest {
                ticket_id: id,
                flag: pb::Flag::Urged as i32,
                note,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::Reclassify => pb::ReclassifyRequest {
                ticket_id: id,
                urgency: pb::Urgency::Critical as i32,
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::JoinIncident => pb::JoinIncidentRequest {
                ticket_id: id,
                of_ticket_id: other.into(),
                ..Default::default()
            }
            .encode_to_vec(),
            Rpc::SplitTicket => pb::SplitTicketRequest {
                ticket_id: id,
                incident_id: other.into(),
                note,
                ..Default::default()
            }
            .encode_to_vec(),
        }
    }
}

/// The corpus's table covers every method of the API that names a ticket to change (a
/// `ticket_id` beside an `expected_version`, or the claim): a new RPC must join it.
#[test]
fn the_transition_table_covers_every_rpc_that_changes_a_ticket() {
    let set = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let file = &set.file[0];
    let fields = |message: &str| -> BTreeSet<String> {
        let name = message.rsplit('.').next().unwrap();
        file.message_type
            .iter()
            .find(|m| m.name() == name)
            .map(|m| m.field.iter().map(|f| f.name().to_owned()).collect())
            .unwrap_or_default()
    };
    let mut changing = BTreeSet::new();
    for service in &file.service {
        for method in &service.method {
            let f = fields(method.input_type());
            let names_a_ticket = f.contains("ticket_id")
                && (f.contains("expected_version") || method.name() == "ClaimTicket");
            if names_a_ticket {
                changing.insert(format!("{}/{}", service.name(), method.name()));
            }
        }
    }
    let table: BTreeSet<String> = Rpc::ALL.iter().map(|r| r.path()).collect();
    assert_eq!(table, changing);
}

/// Every (stage, RPC) pair the lifecycle refuses is refused over the wire the same way:
/// FAILED_PRECONDITION naming the stage for an illegal transition, the lifecycle's own words
/// for its other refusals. Station staff asking about a ticket their station is not involved
/// in are PERMISSION_DENIED before its stage is looked at (the stage of another station's
/// ticket is not theirs to learn).
async fn illegal_transitions(app: &TestApp, tickets: &StageTickets) {
    let hotline = app.hotline.as_ref().unwrap();
    let mut refused_pairs = 0;
    for stage in Stage::ALL {
        let id = tickets.get(*stage);
        let ticket = hotline
            .store()
            .get(TicketId::parse("t", id).unwrap())
            .await
            .unwrap()
            .unwrap();
        // A live ticket to name as the original of a duplicate (not the ticket itself).
        let other = if *stage == Stage::AwaitingSignFor {
            tickets.get(Stage::InProgress)
        } else {
            tickets.get(Stage::AwaitingSignFor)
        };
        for rpc in Rpc::ALL {
            let who = rpc.who();
            let account = app.account(&who).await;
            let actor = Actor {
                role: match who.role {
                    Role::Operator => hotline_core::Role::Operator,
                    Role::StationStaff => hotline_core::Role::Station,
                    _ => hotline_core::Role::Supervisor,
                },
                staff: Some(hotline_core::StaffId::parse("s", account.login.as_str()).unwrap()),
                station: who
                    .station
                    .as_deref()
                    .map(|s| StationId::parse("s", s).unwrap()),
            };
            let action = rpc.action(&ticket, TicketId::parse("t", other).unwrap());
            let verdict = hotline_core::apply(&ticket, &actor, action, app.clock_now());
            let case = format!("{} on a ticket {}", rpc.path(), stage.code());
            let involved = actor.station.as_ref().is_none_or(|s| {
                ticket.station.as_ref() == Some(s)
                    || ticket.lead_station.as_ref() == Some(s)
                    || ticket.co_handlers.iter().any(|c| &c.station == s)
            });
            // Legal here: a change, not part of the corpus; the ticket stays in its stage.
            let Err(refusal) = verdict else {
                continue;
            };
            let answer = raw(
                app.authed(&who).await,
                &format!("/hotline.v1.{}", rpc.path()),
                rpc.request(id, other),
            )
            .await;
            match refusal {
                // A claim names the queue: the ticket is not on the caller's.
                _ if !involved && rpc == Rpc::ClaimTicket => {
                    refused(&case, answer, Code::PermissionDenied, &["queue"])
                }
                _ if !involved => refused(
                    &case,
                    answer,
                    Code::PermissionDenied,
                    &["outside the scope"],
                ),
                LifecycleError::IllegalTransition { stage: s, action } => {
                    refused_pairs += 1;
                    refused(
                        &case,
                        answer,
                        Code::FailedPrecondition,
                        &[action, s.code(), s.name_zh()],
                    )
                }
                LifecycleError::Precondition(why) => {
                    refused(&case, answer, Code::FailedPrecondition, &[why.as_str()])
                }
                LifecycleError::Forbidden(why) => {
                    refused(&case, answer, Code::PermissionDenied, &[why.as_str()])
                }
                LifecycleError::Invalid(why) => {
                    refused(&case, answer, Code::InvalidArgument, &[why.field])
                }
            }
        }
    }
    // 9 stages x 26 RPCs: most pairs are illegal; a lifecycle that allowed nearly everything
    // would leave the corpus empty.
    assert!(refused_pairs >= 100, "only {refused_pairs} illegal pairs");
}
