//! The knowledge base end to end over gRPC, on SQLite and PostgreSQL: an editor writes, a
//! supervisor publishes, the operator's preview suggests it for the caller's territory, a
//! 直办 records the article's version, an edit in review leaves the published version live, a
//! stale or withdrawn article cannot be read to a caller, and a share of direct answers is
//! called back, its dissatisfaction flagging the article for review.
//!
//! The index follows the store every 2 s in a running router; here each step that needs it
//! refreshes the index directly, so the test waits for nothing.

use hotline_identity::Role;
use hotline_proto::v1 as pb;
use hotline_proto::v1::knowledge_client::KnowledgeClient;
use hotline_proto::v1::kpis_client::KpisClient;
use tonic::Code;

use crate::support::*;

/// The city's knowledge editor (also the corpus's editor).
pub(crate) fn editor() -> Who {
    Who {
        role: Role::KnowledgeEditor,
        login: "kb-editor".into(),
        station: None,
        territory: Some("city".into()),
    }
}

fn district_editor() -> Who {
    Who {
        role: Role::KnowledgeEditor,
        login: "kb-editor-wuzhong".into(),
        station: None,
        territory: Some("320506".into()),
    }
}

async fn kb(app: &TestApp, who: &Who) -> KnowledgeClient<Authed> {
    KnowledgeClient::new(app.authed(who).await)
}

/// Brings the router's index up to date with the store (a running router does it every 2 s).
async fn refresh(app: &TestApp) {
    let knowledge = app
        .hotline
        .as_ref()
        .and_then(|h| h.knowledge())
        .expect("the router has a knowledge base")
        .clone();
    knowledge
        .sync()
        .refresh(knowledge.service().store().as_ref())
        .await
        .expect("index refresh");
}

const UNEMPLOYMENT: &str =
    "失业后可以在户籍所在地或常住地的公共就业服务机构办理失业登记，并申领失业保险金。";

fn content(title: &str, answer: &str, territory: &str) -> pb::ArticleContent {
    pb::ArticleContent {
        title: title.into(),
        alt_questions: vec!["失业金怎么领".into(), "失业保险金申领条件".into()],
        answer: answer.into(),
        internal_note: "申领需本人身份证、社保卡".into(),
        categories: vec!["SQ.SYJZ".into()],
        territories: vec![territory.into()],
        source_name: "失业保险条例".into(),
        source_number: "国务院令第258号".into(),
        source_link: "https://www.gov.cn/".into(),
        effective_from: "2025-01-01".into(),
        effective_until: String::new(),
        owner_station_id: "320508021-office".into(),
        review_on: String::new(),
    }
}

pub(crate) async fn publish(
    app: &TestApp,
    title: &str,
    answer: &str,
    territory: &str,
) -> pb::Article {
    let mut editor_kb = kb(app, &editor()).await;
    let draft = editor_kb
        .create_article(pb::CreateArticleRequest {
            content: Some(content(title, answer, territory)),
            external_key: String::new(),
        })
        .await
        .expect("create")
        .into_inner();
    assert_eq!(draft.status, pb::ArticleStatus::Draft as i32);
    editor_kb
        .submit_article(action(&draft.id, draft.version, ""))
        .await
        .expect("submit");
    let published = kb(app, &supervisor())
        .await
        .approve_article(action(&draft.id, draft.version, ""))
        .await
        .expect("approve")
        .into_inner();
    assert_eq!(published.live_version, draft.version);
    published
}

fn action(id: &str, version: u32, reason: &str) -> pb::ArticleActionRequest {
    pb::ArticleActionRequest {
        article_id: id.into(),
        expected_version: version,
        reason: reason.into(),
    }
}

async fn preview(app: &TestApp, text: &str, division: &str) -> Vec<pb::ArticleSuggestion> {
    app.intake_as(&operator())
        .await
        .preview_route(pb::PreviewRouteRequest {
            text: text.into(),
            division_code: division.into(),
            ..Default::default()
        })
        .await
        .expect("preview")
        .into_inner()
        .articles
}

fn suggested(articles: &[pb::ArticleSuggestion], id: &str) -> Option<u32> {
    articles
        .iter()
        .find(|a| a.article.as_ref().is_some_and(|r| r.article_id == id))
        .map(|a| a.article.as_ref().unwrap().version)
}

fn direct(text: &str, id: &str, version: u32) -> pb::SubmitTicketRequest {
    pb::SubmitTicketRequest {
        channel: pb::Channel::Hotline as i32,
        text: text.into(),
        division_code: "320508021019".into(),
        nature: pb::Nature::Consult as i32,
        answer_directly: Some(pb::DirectAnswer {
            article: Some(pb::ArticleRef {
                article_id: id.into(),
                version,
            }),
            answer: String::new(),
        }),
        ..Default::default()
    }
}

const CALL: &str = "我刚失业了，请问失业保险金怎么申领";

async fn lifecycle_from_publication_to_withdrawal(backend: Backend) {
    let mut argv = backend_args(backend).await;
    argv.extend(["--direct-callback-share".into(), "0".into()]);
    let app =
        TestApp::spawn_with(argv, hotline_core::ManualClock::new(TestApp::start_time())).await;
    let city = publish(&app, "失业保险金怎么申领", UNEMPLOYMENT, "3205").await;
    let gusu = publish(
        &app,
        "姑苏区失业人员就业补贴",
        "姑苏区户籍失业人员参加区人社局组织的培训后可申领就业补贴，申领失业保险金期间同样可以参加。",
        "320508",
    )
    .await;
    refresh(&app).await;

    // 姑苏区's caller is suggested both; 吴中区's only the city-wide one; an unresolved
    // territory only city-wide ones.
    let in_gusu = preview(&app, CALL, "320508021019").await;
    assert_eq!(suggested(&in_gusu, &city.id), Some(1), "{in_gusu:?}");
    assert_eq!(suggested(&in_gusu, &gusu.id), Some(1), "{in_gusu:?}");
    let in_wuzhong = preview(&app, CALL, "320506").await;
    assert_eq!(suggested(&in_wuzhong, &city.id), Some(1));
    assert_eq!(suggested(&in_wuzhong, &gusu.id), None, "{in_wuzhong:?}");
    let nowhere = preview(&app, CALL, "").await;
    assert_eq!(suggested(&nowhere, &gusu.id), None);
    let top = &in_gusu[0];
    assert!(
        !top.answer.is_empty() && top.snippet_html.contains("<b>"),
        "{top:?}"
    );

    // 直办 from the article: one request records the call and answers it with version 1.
    let answered = app
        .intake_as(&operator())
        .await
        .submit_ticket(direct(CALL, &city.id, 1))
        .await
        .expect("direct answer")
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(stage(&answered), pb::Stage::Closed);
    let from = answered.answered_from.clone().expect("answered_from");
    assert_eq!(
        (from.article_id.as_str(), from.version),
        (city.id.as_str(), 1)
    );
    let Some(pb::outcome::Kind::AnsweredDirectly(outcome)) = answered.outcome.and_then(|o| o.kind)
    else {
        panic!("not answered directly");
    };
    assert_eq!(outcome.answer, UNEMPLOYMENT);
    assert_eq!(outcome.article.unwrap().version, 1);
    assert!(kinds(&app.get(&answered.id).await).contains(&"answer_directly".into()));

    // An edit in review: version 1 stays the one read to callers.
    let mut editor_kb = kb(&app, &editor()).await;
    let edited = editor_kb
        .update_article(pb::UpdateArticleRequest {
            article_id: city.id.clone(),
            expected_version: 1,
            content: Some(content(
                "失业保险金怎么申领",
                "失业后请在线上“苏周到”或公共就业服务机构办理失业登记，申领失业保险金。",
                "3205",
            )),
        })
        .await
        .expect("edit")
        .into_inner();
    assert_eq!((edited.version, edited.live_version), (2, 1));
    // A second editor still on version 1: refused, naming the current version.
    let stale = editor_kb
        .update_article(pb::UpdateArticleRequest {
            article_id: city.id.clone(),
            expected_version: 1,
            content: Some(content("失业保险金", UNEMPLOYMENT, "3205")),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    assert!(
        stale.message().contains("current version is 2"),
        "{}",
        stale.message()
    );
    refresh(&app).await;
    assert_eq!(
        suggested(&preview(&app, CALL, "320508021019").await, &city.id),
        Some(1)
    );
    app.intake_as(&operator())
        .await
        .submit_ticket(direct(CALL, &city.id, 1))
        .await
        .expect("version 1 is still live");

    // Out of scope: a 吴中区 editor may not touch a city-wide article.
    let denied = kb(&app, &district_editor())
        .await
        .update_article(pb::UpdateArticleRequest {
            article_id: city.id.clone(),
            expected_version: 2,
            content: Some(content("失业保险金", UNEMPLOYMENT, "320506")),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    // Editors do not publish.
    let denied = editor_kb
        .approve_article(action(&city.id, 2, ""))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Version 2 published: a call answered from what the operator saw as version 1 is refused.
    editor_kb
        .submit_article(action(&city.id, 2, ""))
        .await
        .expect("submit v2");
    kb(&app, &supervisor())
        .await
        .approve_article(action(&city.id, 2, ""))
        .await
        .expect("approve v2");
    let changed = app
        .intake_as(&operator())
        .await
        .submit_ticket(direct(CALL, &city.id, 1))
        .await
        .unwrap_err();
    assert_eq!(changed.code(), Code::FailedPrecondition);
    assert!(
        changed.message().contains("version 2"),
        "{}",
        changed.message()
    );

    // Withdrawn: no longer suggested, and not to be read out.
    kb(&app, &supervisor())
        .await
        .withdraw_article(action(&city.id, 2, "政策调整 policy changed"))
        .await
        .expect("withdraw");
    refresh(&app).await;
    assert_eq!(
        suggested(&preview(&app, CALL, "320508021019").await, &city.id),
        None
    );
    let withdrawn = app
        .intake_as(&operator())
        .await
        .submit_ticket(direct(CALL, &city.id, 2))
        .await
        .unwrap_err();
    assert_eq!(withdrawn.code(), Code::FailedPrecondition);
    assert!(
        withdrawn.message().contains("not published"),
        "{}",
        withdrawn.message()
    );

    // The whole history is kept: created, submitted, approved, edited, ..., withdrawn.
    let full = kb(&app, &editor())
        .await
        .get_article(pb::GetArticleRequest {
            article_id: city.id.clone(),
            include_history: true,
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(full.versions.len(), 2);
    let actions: Vec<&str> = full.history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "created",
            "submitted",
            "approved",
            "edited",
            "submitted",
            "approved",
            "withdrawn"
        ]
    );

    // 知识库命中率: both direct answers were consultations answered from an article.
    app.advance(chrono::Duration::minutes(1));
    let figures = KpisClient::new(app.authed(&supervisor()).await)
        .get_kpis(pb::GetKpisRequest::default())
        .await
        .expect("kpis")
        .into_inner()
        .total
        .unwrap();
    let hits = figures.knowledge_hits.unwrap();
    assert_eq!((hits.numerator, hits.denominator), (2, 2), "{hits:?}");
}

async fn backend_args(backend: Backend) -> Vec<String> {
    match backend {
        Backend::Sqlite => Vec::new(),
        Backend::Postgres => vec![
            "--database-url".into(),
            hotline_store::testing::fresh_postgres_url()
                .await
                .expect("fresh postgres database"),
        ],
    }
}

#[tokio::test]
async fn knowledge_from_publication_to_withdrawal_sqlite() {
    lifecycle_from_publication_to_withdrawal(Backend::Sqlite).await;
}

#[tokio::test]
async fn knowledge_from_publication_to_withdrawal_postgres() {
    lifecycle_from_publication_to_withdrawal(Backend::Postgres).await;
}

/// With every direct answer called back: the ticket waits in 待回访, the caller's
/// dissatisfaction counts and flags the article for its editors; an operator's "did not fit"
/// flags it too, once per ticket.
#[tokio::test]
async fn a_called_back_direct_answer_flags_its_article_when_the_caller_is_dissatisfied() {
    let argv = vec!["--direct-callback-share".to_owned(), "1".to_owned()];
    let app =
        TestApp::spawn_with(argv, hotline_core::ManualClock::new(TestApp::start_time())).await;
    let article = publish(&app, "失业保险金怎么申领", UNEMPLOYMENT, "3205").await;
    let ticket = app
        .intake_as(&operator())
        .await
        .submit_ticket(direct(CALL, &article.id, 1))
        .await
        .expect("direct answer")
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(stage(&ticket), pb::Stage::AwaitingCallback);
    assert!(!ticket.deadlines.as_ref().unwrap().callback.is_empty());
    let mut sup = app.supervision_as(&supervisor()).await;
    let called = sup
        .record_callback(pb::RecordCallbackRequest {
            ticket_id: ticket.id.clone(),
            satisfaction: pb::Satisfaction::Dissatisfied as i32,
            reasonable: false,
            note: "答复不清楚".into(),
            ..Default::default()
        })
        .await
        .expect("callback")
        .into_inner()
        .ticket
        .unwrap();
    let closed = sup
        .close(pb::CloseRequest {
            ticket_id: called.id.clone(),
            ..Default::default()
        })
        .await
        .expect("close")
        .into_inner()
        .ticket
        .unwrap();
    assert!(matches!(
        closed.outcome.and_then(|o| o.kind),
        Some(pb::outcome::Kind::AnsweredDirectly(_))
    ));

    let mut operator_kb = kb(&app, &operator()).await;
    let misfit = |ticket: &str| pb::ReportMisfitRequest {
        article: Some(pb::ArticleRef {
            article_id: article.id.clone(),
            version: 1,
        }),
        ticket_id: ticket.into(),
        note: "来电问的是灵活就业".into(),
    };
    assert!(
        operator_kb
            .report_misfit(misfit(&ticket.id))
            .await
            .unwrap()
            .into_inner()
            .recorded
    );
    assert!(
        !operator_kb
            .report_misfit(misfit(&ticket.id))
            .await
            .unwrap()
            .into_inner()
            .recorded
    );

    let due = kb(&app, &editor())
        .await
        .list_due_for_review(pb::ListDueForReviewRequest {})
        .await
        .expect("due list")
        .into_inner()
        .articles;
    let flagged = due.iter().find(|a| a.id == article.id).expect("flagged");
    let reasons = flagged.due_reasons.join("; ");
    assert!(
        reasons.contains("1 did not fit") && reasons.contains("1 dissatisfied"),
        "{reasons}"
    );
    app.advance(chrono::Duration::minutes(1));
    let figures = KpisClient::new(app.authed(&supervisor()).await)
        .get_kpis(pb::GetKpisRequest::default())
        .await
        .expect("kpis")
        .into_inner();
    assert_eq!(figures.articles_due_for_review, 1);
    let satisfaction = figures.total.unwrap().satisfaction.unwrap();
    assert_eq!((satisfaction.numerator, satisfaction.denominator), (0, 1));
}

/// Bad input gets a clear error and changes nothing.
#[tokio::test]
async fn bad_articles_are_refused_naming_the_field() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut editor_kb = kb(&app, &editor()).await;
    fn refused(mut c: pb::ArticleContent, edit: fn(&mut pb::ArticleContent)) -> pb::ArticleContent {
        edit(&mut c);
        c
    }
    let cases: Vec<(pb::ArticleContent, &str)> = vec![
        (
            refused(content("t", UNEMPLOYMENT, "3205"), |c| c.answer.clear()),
            "answer",
        ),
        (
            refused(content("t", UNEMPLOYMENT, "3205"), |c| {
                c.effective_until = "2024-12-31".into()
            }),
            "effective_until",
        ),
        (
            refused(content("t", UNEMPLOYMENT, "3205"), |c| {
                c.categories = vec!["XX.YY".into()]
            }),
            "XX.YY",
        ),
        (
            refused(content("t", UNEMPLOYMENT, "3205"), |c| {
                c.territories = vec!["329999".into()]
            }),
            "329999",
        ),
        (
            refused(content("t", UNEMPLOYMENT, "3205"), |c| {
                c.title = "长".repeat(201)
            }),
            "limit is 200",
        ),
        (
            refused(content("t", UNEMPLOYMENT, "3205"), |c| {
                c.effective_from = "2025-13-01".into()
            }),
            "effective_from",
        ),
    ];
    for (bad, names) in cases {
        let err = editor_kb
            .create_article(pb::CreateArticleRequest {
                content: Some(bad),
                external_key: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(err.message().contains(names), "{names}: {}", err.message());
    }
    let listed = editor_kb
        .list_articles(pb::ListArticlesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.articles.is_empty(), "nothing was stored");
    // A direct answer naming no article needs the answer's text.
    let mut request = direct(CALL, "00000000-0000-0000-0000-000000000000", 1);
    request.answer_directly = Some(pb::DirectAnswer::default());
    let err = app
        .intake_as(&operator())
        .await
        .submit_ticket(request)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    // An article that does not exist.
    let err = app
        .intake_as(&operator())
        .await
        .submit_ticket(direct(CALL, "00000000-0000-7000-8000-000000000000", 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
}

/// Every replica's index follows the store: an article published through one replica is
/// suggested by another within the follower's period (2 s), and a withdrawal likewise.
#[tokio::test]
async fn a_publication_on_one_replica_is_suggested_by_another() {
    let (replicas, _prefix) = TestApp::spawn_replicas(2).await;
    let article = publish(&replicas[0], "失业保险金怎么申领", UNEMPLOYMENT, "3205").await;
    let on_other = |want: Option<u32>| {
        let other = &replicas[1];
        let id = article.id.clone();
        async move {
            // Polls for the condition; the bound only turns a hang into a failure.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let got = suggested(&preview(other, CALL, "320508021019").await, &id);
                if got == want {
                    return;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "replica 2 still suggests {got:?}, expected {want:?}"
                );
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    on_other(Some(1)).await;
    kb(&replicas[0], &supervisor())
        .await
        .withdraw_article(action(&article.id, 1, "已失效 no longer valid"))
        .await
        .expect("withdraw");
    on_other(None).await;
}
