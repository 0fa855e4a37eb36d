//! The knowledge base's behaviour on SQLite and PostgreSQL: the lifecycle, every version
//! kept, the version check, the four-eyes rule, and the index derived from the store with its
//! filters (territory chain, category, dates, status) and its rebuild and refresh.
//!
//! Territories: city 3205, districts 320508 (姑苏区) and 320505, street 320508021 in 320508.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use hotline_classify::segment::Segmenter;
use hotline_core::{CategoryCode, DivisionCode, ManualClock, StaffId, StationId};
use hotline_knowledge::domain::{
    Action, Content, DueReason, Feedback, FeedbackKind, FixedCatalogue, Source, Status,
};
use hotline_knowledge::search::{IndexSync, KnowledgeIndex, Ranking, SearchRequest};
use hotline_knowledge::transfer::{read_csv, read_file, write_csv, write_xlsx};
use hotline_knowledge::{Knowledge, KnowledgeError, KnowledgeStore, PgKnowledge, SqliteKnowledge};
use hotline_store::testing::{fresh_postgres_url, TempDir};

fn staff(id: &str) -> StaffId {
    StaffId::parse("staff", id).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn div(code: &str) -> DivisionCode {
    DivisionCode::parse("division", code).unwrap()
}

fn cat(code: &str) -> CategoryCode {
    CategoryCode::parse("category", code).unwrap()
}

fn catalogue() -> FixedCatalogue {
    FixedCatalogue {
        categories: ["CJ.WY", "JT.GJ", "SB.GJJ"]
            .iter()
            .map(|c| cat(c))
            .collect(),
        divisions: ["3205", "320508", "320505", "320508021"]
            .iter()
            .map(|d| div(d))
            .collect(),
    }
}

fn content(title: &str, answer: &str, category: &str, territory: &str) -> Content {
    Content {
        title: title.into(),
        alt_questions: Vec::new(),
        answer: answer.into(),
        internal_note: String::new(),
        categories: vec![cat(category)],
        territories: vec![div(territory)],
        source: Source {
            name: "苏州市住房公积金管理办法".into(),
            number: "苏府规字〔2024〕1号".into(),
            link: "https://example.org/gjj".into(),
        },
        effective_from: day(2025, 1, 1),
        effective_until: None,
        owner: StationId::parse("owner", "320508-office").unwrap(),
        review_on: Some(day(2026, 1, 1)),
    }
}

struct World {
    kb: Knowledge,
    store: Arc<dyn KnowledgeStore>,
    clock: ManualClock,
    _dir: Option<TempDir>,
    postgres: bool,
}

impl World {
    /// A second, empty store of the same backend (an import into a fresh base).
    async fn another(&self) -> World {
        if self.postgres {
            postgres().await
        } else {
            sqlite().await
        }
    }
}

async fn sqlite() -> World {
    let dir = TempDir::new();
    let store: Arc<dyn KnowledgeStore> =
        Arc::new(SqliteKnowledge::open_dir(dir.path()).await.unwrap());
    world(store, Some(dir))
}

async fn postgres() -> World {
    let url = fresh_postgres_url().await.unwrap();
    let store: Arc<dyn KnowledgeStore> = Arc::new(PgKnowledge::connect(&url, 4).await.unwrap());
    let mut w = world(store, None);
    w.postgres = true;
    w
}

fn world(store: Arc<dyn KnowledgeStore>, dir: Option<TempDir>) -> World {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2025, 3, 1, 2, 0, 0).unwrap());
    let kb = Knowledge::new(
        Arc::clone(&store),
        Arc::new(catalogue()),
        Arc::new(clock.clone()),
    );
    World {
        kb,
        store,
        clock,
        _dir: dir,
        postgres: false,
    }
}

/// Runs each scenario on both backends.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::sqlite().await).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::postgres().await).await; })*
        }
    };
}

on_both!(
    an_article_goes_from_draft_through_review_to_published_and_keeps_every_version,
    a_stale_version_is_refused_naming_the_current_one_and_nothing_is_overwritten,
    concurrent_edits_of_one_version_let_exactly_one_through,
    a_reviewer_never_approves_their_own_edit,
    rejection_needs_a_reason_and_returns_the_draft,
    withdrawal_takes_the_live_version_off_and_needs_one,
    external_keys_are_unique,
    the_index_filters_by_territory_chain_category_date_and_status,
    the_index_follows_edits_approvals_and_withdrawals,
    an_import_with_a_bad_row_names_its_line_and_writes_nothing,
    a_re_import_updates_by_key_instead_of_duplicating,
    a_published_import_goes_live_and_a_draft_import_keeps_the_live_version,
    an_export_imports_into_a_fresh_base_unchanged_and_re_imports_as_unchanged,
    a_gb18030_csv_and_an_xlsx_with_real_date_cells_import,
    feedback_is_stored_once_per_ticket_and_kind_and_checked,
    the_review_list_says_why_and_puts_the_most_urgent_first,
    search_drops_an_article_the_day_after_its_review_date,
    a_reply_becomes_a_draft_without_the_callers_details,
);

async fn an_article_goes_from_draft_through_review_to_published_and_keeps_every_version(w: World) {
    let (editor, reviewer) = (staff("ed1"), staff("sup1"));
    let a =
        w.kb.create(
            &editor,
            content(
                "公积金怎么提取",
                "带身份证到公积金中心办理。",
                "SB.GJJ",
                "3205",
            ),
            None,
        )
        .await
        .unwrap();
    assert_eq!(a.status, Status::Draft);
    assert_eq!(a.latest.number, 1);
    assert_eq!(a.live, None);

    w.kb.submit(&editor, a.id, 1).await.unwrap();
    let published = w.kb.approve(&reviewer, a.id, 1).await.unwrap();
    assert_eq!(published.status, Status::Published);
    assert_eq!(published.live_version(), Some(1));

    // An edit of a published article: a new draft version; the published one stays live.
    w.clock.advance(chrono::Duration::hours(1));
    let edited =
        w.kb.update(
            &editor,
            a.id,
            1,
            content(
                "公积金怎么提取",
                "网上办理：登录公积金网厅提取。",
                "SB.GJJ",
                "3205",
            ),
        )
        .await
        .unwrap();
    assert_eq!(edited.status, Status::Draft);
    assert_eq!(edited.latest.number, 2);
    assert_eq!(edited.live_version(), Some(1));
    assert_eq!(
        edited.live.as_ref().unwrap().content.answer,
        "带身份证到公积金中心办理。"
    );
    let in_review = w.kb.submit(&editor, a.id, 2).await.unwrap();
    assert_eq!(in_review.status, Status::InReview);
    assert_eq!(in_review.live_version(), Some(1));
    assert_eq!(w.kb.review_list().await.unwrap().len(), 1);

    let approved = w.kb.approve(&reviewer, a.id, 2).await.unwrap();
    assert_eq!(approved.live_version(), Some(2));
    assert!(w.kb.review_list().await.unwrap().is_empty());

    let versions = w.kb.versions(a.id).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].content.answer, "带身份证到公积金中心办理。");
    assert_eq!(versions[1].content.answer, "网上办理：登录公积金网厅提取。");
    assert!(versions.iter().all(|v| v.author == editor));
    assert!(versions[1].created_at > versions[0].created_at);
    // The source and dates survive the round trip through the store.
    assert_eq!(versions[1].content.source.number, "苏府规字〔2024〕1号");
    assert_eq!(versions[1].content.review_on, Some(day(2026, 1, 1)));

    let history: Vec<(Action, u32, String)> =
        w.kb.history(a.id)
            .await
            .unwrap()
            .into_iter()
            .map(|h| (h.action, h.version, h.actor.as_str().to_owned()))
            .collect();
    assert_eq!(
        history,
        [
            (Action::Created, 1, "ed1".to_owned()),
            (Action::Submitted, 1, "ed1".to_owned()),
            (Action::Approved, 1, "sup1".to_owned()),
            (Action::Edited, 2, "ed1".to_owned()),
            (Action::Submitted, 2, "ed1".to_owned()),
            (Action::Approved, 2, "sup1".to_owned()),
        ]
    );
}

async fn a_stale_version_is_refused_naming_the_current_one_and_nothing_is_overwritten(w: World) {
    let editor = staff("ed1");
    let a =
        w.kb.create(
            &editor,
            content("路灯不亮", "请拨打路灯报修电话。", "JT.GJ", "3205"),
            None,
        )
        .await
        .unwrap();
    w.kb.update(
        &staff("ed2"),
        a.id,
        1,
        content("路灯不亮", "第二版答复。", "JT.GJ", "3205"),
    )
    .await
    .unwrap();
    let err =
        w.kb.update(
            &editor,
            a.id,
            1,
            content("路灯不亮", "覆盖？", "JT.GJ", "3205"),
        )
        .await
        .unwrap_err();
    match &err {
        KnowledgeError::StaleVersion {
            expected, current, ..
        } => assert_eq!((*expected, *current), (1, 2)),
        other => panic!("expected a stale version, got {other:?}"),
    }
    assert!(err.to_string().contains("current version is 2"), "{err}");
    let now = w.kb.get(a.id).await.unwrap();
    assert_eq!(now.latest.number, 2);
    assert_eq!(now.latest.content.answer, "第二版答复。");
    assert_eq!(w.kb.versions(a.id).await.unwrap().len(), 2);
    // Transitions check the version too: submitting version 1 is refused.
    assert!(matches!(
        w.kb.submit(&editor, a.id, 1).await,
        Err(KnowledgeError::StaleVersion { current: 2, .. })
    ));
}

async fn concurrent_edits_of_one_version_let_exactly_one_through(w: World) {
    let a =
        w.kb.create(
            &staff("ed1"),
            content("停车费", "按物价局标准。", "CJ.WY", "3205"),
            None,
        )
        .await
        .unwrap();
    let edits = (0..6).map(|i| {
        let kb = w.kb.clone();
        tokio::spawn(async move {
            kb.update(
                &staff(&format!("ed{i}")),
                a.id,
                1,
                content("停车费", &format!("答复 {i}"), "CJ.WY", "3205"),
            )
            .await
        })
    });
    let results = futures_join(edits.collect()).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    let stale = results
        .iter()
        .filter(|r| matches!(r, Err(KnowledgeError::StaleVersion { current: 2, .. })))
        .count();
    assert_eq!((won, stale), (1, 5), "{results:?}");
    assert_eq!(w.kb.versions(a.id).await.unwrap().len(), 2);
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

async fn a_reviewer_never_approves_their_own_edit(w: World) {
    let (ed, sup) = (staff("ed1"), staff("sup1"));
    let a =
        w.kb.create(&sup, content("物业费", "按合同。", "CJ.WY", "320508"), None)
            .await
            .unwrap();
    w.kb.submit(&sup, a.id, 1).await.unwrap();
    let err = w.kb.approve(&sup, a.id, 1).await.unwrap_err();
    assert!(
        matches!(err, KnowledgeError::OwnEdit { version: 1, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), hotline_knowledge::ErrorCode::PermissionDenied);

    // Someone else's later edit does not launder the reviewer's own earlier one.
    w.kb.update(
        &ed,
        a.id,
        1,
        content("物业费", "按合同约定。", "CJ.WY", "320508"),
    )
    .await
    .unwrap();
    w.kb.submit(&ed, a.id, 2).await.unwrap();
    assert!(matches!(
        w.kb.approve(&sup, a.id, 2).await,
        Err(KnowledgeError::OwnEdit { version: 1, .. })
    ));
    let approved = w.kb.approve(&staff("sup2"), a.id, 2).await.unwrap();
    assert_eq!(approved.live_version(), Some(2));
    assert_eq!(approved.status, Status::Published);
}

async fn rejection_needs_a_reason_and_returns_the_draft(w: World) {
    let ed = staff("ed1");
    let a =
        w.kb.create(
            &ed,
            content("公交改线", "12路改经人民路。", "JT.GJ", "3205"),
            None,
        )
        .await
        .unwrap();
    // Approving a draft that was never submitted is refused.
    assert!(matches!(
        w.kb.approve(&staff("sup1"), a.id, 1).await,
        Err(KnowledgeError::WrongStatus {
            status: Status::Draft,
            ..
        })
    ));
    w.kb.submit(&ed, a.id, 1).await.unwrap();
    assert!(matches!(
        w.kb.reject(&staff("sup1"), a.id, 1, "  ").await,
        Err(KnowledgeError::Invalid(_))
    ));
    let rejected =
        w.kb.reject(&staff("sup1"), a.id, 1, "缺少文号")
            .await
            .unwrap();
    assert_eq!(rejected.status, Status::Draft);
    let last = w.kb.history(a.id).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.action, last.note.as_str()),
        (Action::Rejected, "缺少文号")
    );
}

async fn withdrawal_takes_the_live_version_off_and_needs_one(w: World) {
    let ed = staff("ed1");
    let a =
        w.kb.create(
            &ed,
            content("供暖", "本市不集中供暖。", "CJ.WY", "3205"),
            None,
        )
        .await
        .unwrap();
    assert!(matches!(
        w.kb.withdraw(&staff("sup1"), a.id, 1, "过时").await,
        Err(KnowledgeError::WrongStatus { .. })
    ));
    w.kb.submit(&ed, a.id, 1).await.unwrap();
    w.kb.approve(&staff("sup1"), a.id, 1).await.unwrap();
    let withdrawn =
        w.kb.withdraw(&staff("sup1"), a.id, 1, "政策调整")
            .await
            .unwrap();
    assert_eq!(withdrawn.status, Status::Withdrawn);
    assert_eq!(withdrawn.live, None);
    assert!(w.store.live_articles().await.unwrap().is_empty());
    // The content is still kept.
    assert_eq!(w.kb.versions(a.id).await.unwrap().len(), 1);
}

async fn external_keys_are_unique(w: World) {
    let ed = staff("ed1");
    w.kb.create(
        &ed,
        content("甲", "答。", "CJ.WY", "3205"),
        Some("KB-1".into()),
    )
    .await
    .unwrap();
    let err =
        w.kb.create(
            &ed,
            content("乙", "答。", "CJ.WY", "3205"),
            Some("KB-1".into()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, KnowledgeError::ExternalKeyTaken(ref k) if k == "KB-1"),
        "{err:?}"
    );
    let found = w.store.by_external_key("KB-1").await.unwrap().unwrap();
    assert_eq!(found.latest.content.title, "甲");
}

/// Creates, submits and approves an article; returns its id.
async fn publish(w: &World, c: Content) -> hotline_knowledge::ArticleId {
    let a = w.kb.create(&staff("ed1"), c, None).await.unwrap();
    w.kb.submit(&staff("ed1"), a.id, a.latest.number)
        .await
        .unwrap();
    w.kb.approve(&staff("sup1"), a.id, a.latest.number)
        .await
        .unwrap();
    a.id
}

fn titles(
    index: &KnowledgeIndex,
    text: &str,
    territory: Option<&str>,
    on: NaiveDate,
) -> Vec<String> {
    let code = territory.map(div);
    let mut found: Vec<String> = index
        .search(&SearchRequest {
            text,
            categories: &[],
            territory: code.as_ref(),
            on,
            limit: 10,
        })
        .unwrap()
        .into_iter()
        .map(|h| h.title)
        .collect();
    // Sorted by code point: the filters decide the set, not the order.
    found.sort();
    found
}

async fn the_index_filters_by_territory_chain_category_date_and_status(w: World) {
    publish(
        &w,
        content(
            "全市停车收费标准",
            "停车收费按全市统一标准执行。",
            "CJ.WY",
            "3205",
        ),
    )
    .await;
    publish(
        &w,
        content(
            "姑苏区停车收费",
            "姑苏区停车收费另有规定。",
            "CJ.WY",
            "320508",
        ),
    )
    .await;
    publish(
        &w,
        content(
            "吴中区停车收费",
            "吴中区停车收费按区规定。",
            "CJ.WY",
            "320505",
        ),
    )
    .await;
    publish(
        &w,
        content(
            "街道停车收费",
            "本街道停车收费由街道公示。",
            "CJ.WY",
            "320508021",
        ),
    )
    .await;
    let mut expired = content("旧停车收费", "旧的停车收费标准。", "CJ.WY", "3205");
    expired.effective_until = Some(day(2025, 2, 28));
    publish(&w, expired).await;
    let mut future = content("新停车收费", "新的停车收费标准。", "CJ.WY", "3205");
    future.effective_from = day(2025, 6, 1);
    publish(&w, future).await;
    publish(
        &w,
        content("公交停车收费", "公交场站停车收费。", "JT.GJ", "3205"),
    )
    .await;
    // A draft is never found.
    w.kb.create(
        &staff("ed1"),
        content("草稿停车收费", "停车收费草稿。", "CJ.WY", "3205"),
        None,
    )
    .await
    .unwrap();

    let index = Arc::new(KnowledgeIndex::new(&Segmenter::new(), Ranking::default()).unwrap());
    let sync = IndexSync::new(Arc::clone(&index));
    assert_eq!(sync.rebuild(w.store.as_ref()).await.unwrap(), 7);
    let on = day(2025, 3, 1);

    // A community in the street: its street, its district and the city.
    assert_eq!(
        titles(&index, "停车收费", Some("320508021019"), on),
        [
            "全市停车收费标准",
            "公交停车收费",
            "姑苏区停车收费",
            "街道停车收费"
        ]
    );
    // Another district: the city's and its own only.
    assert_eq!(
        titles(&index, "停车收费", Some("320505"), on),
        ["全市停车收费标准", "公交停车收费", "吴中区停车收费"]
    );
    // Territory unresolved: city-wide only.
    assert_eq!(
        titles(&index, "停车收费", None, on),
        ["全市停车收费标准", "公交停车收费"]
    );
    // Dates are the call's: the expired one on its last day, the future one once in force.
    assert!(titles(&index, "停车收费", None, day(2025, 2, 28)).contains(&"旧停车收费".to_owned()));
    assert!(titles(&index, "停车收费", None, day(2025, 6, 1)).contains(&"新停车收费".to_owned()));
    // Category.
    let hits = index
        .search(&SearchRequest {
            text: "停车收费",
            categories: &[cat("JT.GJ")],
            territory: None,
            on,
            limit: 10,
        })
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].title, "公交停车收费");
    // The snippet highlights the matched words and escapes nothing it should not.
    assert!(
        hits[0].snippet_html.contains("<b>"),
        "{}",
        hits[0].snippet_html
    );
}

async fn the_index_follows_edits_approvals_and_withdrawals(w: World) {
    let id = publish(
        &w,
        content(
            "垃圾分类",
            "厨余垃圾投放时间为早七点到九点。",
            "CJ.WY",
            "3205",
        ),
    )
    .await;
    let index = Arc::new(KnowledgeIndex::new(&Segmenter::new(), Ranking::default()).unwrap());
    let sync = IndexSync::new(Arc::clone(&index));
    sync.refresh(w.store.as_ref()).await.unwrap();
    let on = day(2025, 3, 1);
    let search = |text: &str| {
        index
            .search(&SearchRequest {
                text,
                categories: &[],
                territory: None,
                on,
                limit: 5,
            })
            .unwrap()
    };
    assert_eq!(search("厨余垃圾")[0].version, 1);
    assert_eq!(search("厨余垃圾")[0].article().unwrap(), id);

    // An edit in review: the live version is still the one found.
    w.kb.update(
        &staff("ed1"),
        id,
        1,
        content(
            "垃圾分类",
            "厨余垃圾投放时间改为晚六点到八点。<script>x</script>",
            "CJ.WY",
            "3205",
        ),
    )
    .await
    .unwrap();
    w.kb.submit(&staff("ed1"), id, 2).await.unwrap();
    let changed = sync.refresh(w.store.as_ref()).await.unwrap();
    assert_eq!(changed.indexed, 1);
    assert_eq!(search("厨余垃圾")[0].version, 1);
    assert!(search("晚六点").is_empty());

    w.kb.approve(&staff("sup1"), id, 2).await.unwrap();
    sync.refresh(w.store.as_ref()).await.unwrap();
    let hits = search("晚六点 厨余垃圾");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].version, 2);
    assert!(
        !hits[0].snippet_html.contains("<script>"),
        "{}",
        hits[0].snippet_html
    );
    assert!(
        hits[0].snippet_html.contains("&lt;script&gt;"),
        "{}",
        hits[0].snippet_html
    );

    // Nothing changed: nothing re-read.
    assert_eq!(
        sync.refresh(w.store.as_ref()).await.unwrap(),
        Default::default()
    );

    w.kb.withdraw(&staff("sup1"), id, 2, "改由区里答复")
        .await
        .unwrap();
    let changed = sync.refresh(w.store.as_ref()).await.unwrap();
    assert_eq!(changed.removed, 1);
    assert!(search("厨余垃圾").is_empty());
    assert_eq!(index.len(), 0);
}

// ---- import and export ----

const HEADER: &str = "external_key,title,alt_questions,answer,internal_note,categories,territories,source_name,source_number,source_link,effective_from,effective_until,owner,review_on";

fn csv_file(rows: &[&str]) -> Vec<u8> {
    let mut text = String::from(HEADER);
    for row in rows {
        text.push('\n');
        text.push_str(row);
    }
    text.push('\n');
    text.into_bytes()
}

const ROW_A: &str = "KB-1,公积金提取,怎么取公积金|提取公积金,带身份证到公积金中心办理。,,SB.GJJ,3205,苏州市住房公积金管理办法,苏府规字〔2024〕1号,https://example.org/gjj,2025-01-01,,320508-office,2026-01-01";
const ROW_B: &str = "KB-2,物业费标准,,按合同约定收取。,核对合同,CJ.WY,320508|320508021,,,,2025/02/01,2025-12-31,320508-office,";

async fn import_csv(
    w: &World,
    rows: &[&str],
    published: bool,
) -> Result<hotline_knowledge::ImportReport, KnowledgeError> {
    let rows = read_csv(&csv_file(rows), "kb.csv")?;
    w.kb.import(&staff("admin"), rows, published).await
}

async fn an_import_with_a_bad_row_names_its_line_and_writes_nothing(w: World) {
    // The third line reads well but names a category the centre does not have.
    let bad = "KB-3,停车,,按标准。,,XX.YY,3205,,,,2025-01-01,,320508-office,";
    let rows = read_csv(&csv_file(&[ROW_A, bad, ROW_B]), "kb.csv").unwrap();
    assert_eq!(rows[1].line, 3);
    let err = w.kb.import(&staff("admin"), rows, true).await.unwrap_err();
    match &err {
        KnowledgeError::BadRow { line, message, .. } => {
            assert_eq!(*line, 3);
            assert!(message.contains("XX.YY"), "{message}");
        }
        other => panic!("expected a bad row, got {other:?}"),
    }
    assert!(err.to_string().contains("nothing was imported"), "{err}");
    assert!(w.kb.store().list(None).await.unwrap().is_empty());

    // From a file: the error names the file and the line (a bad date on line 3).
    let file = TempDir::new();
    let path = file.path().join("kb.csv");
    std::fs::write(
        &path,
        csv_file(&[
            ROW_A,
            "KB-3,停车,,按标准。,,CJ.WY,3205,,,,2025-01-01,,320508-office,x",
        ]),
    )
    .unwrap();
    let err =
        w.kb.import_file(&staff("admin"), &path, false)
            .await
            .unwrap_err();
    assert!(
        matches!(&err, KnowledgeError::BadRow { line: 3, file, .. } if file == "kb.csv"),
        "{err:?}"
    );
    assert!(w.kb.store().list(None).await.unwrap().is_empty());
}

async fn a_re_import_updates_by_key_instead_of_duplicating(w: World) {
    let report = import_csv(&w, &[ROW_A, ROW_B], false).await.unwrap();
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (2, 0, 0)
    );
    let articles = w.kb.store().list(None).await.unwrap();
    assert_eq!(articles.len(), 2);
    assert!(articles
        .iter()
        .all(|a| a.status == Status::Draft && a.live.is_none()));

    let changed = ROW_B.replace("按合同约定收取。", "按物业服务合同约定收取。");
    w.clock.advance(chrono::Duration::minutes(5));
    let report = import_csv(&w, &[ROW_A, &changed], false).await.unwrap();
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (0, 1, 1)
    );
    let b = w.store.by_external_key("KB-2").await.unwrap().unwrap();
    assert_eq!(b.latest.number, 2);
    assert_eq!(b.latest.content.answer, "按物业服务合同约定收取。");
    assert_eq!(b.latest.author, staff("admin"));
    let a = w.store.by_external_key("KB-1").await.unwrap().unwrap();
    assert_eq!(a.latest.number, 1, "an identical row writes no version");
    assert_eq!(w.kb.store().list(None).await.unwrap().len(), 2);

    // A row without a key always creates.
    let keyless = ROW_B.replacen("KB-2", "", 1);
    import_csv(&w, &[&keyless], false).await.unwrap();
    import_csv(&w, &[&keyless], false).await.unwrap();
    assert_eq!(w.kb.store().list(None).await.unwrap().len(), 4);
}

async fn a_published_import_goes_live_and_a_draft_import_keeps_the_live_version(w: World) {
    let report = import_csv(&w, &[ROW_A], true).await.unwrap();
    assert_eq!(report.created, 1);
    let a = w.store.by_external_key("KB-1").await.unwrap().unwrap();
    assert_eq!((a.status, a.live_version()), (Status::Published, Some(1)));
    let history: Vec<Action> =
        w.kb.history(a.id)
            .await
            .unwrap()
            .iter()
            .map(|h| h.action)
            .collect();
    assert_eq!(history, [Action::Created, Action::Approved]);

    // An editor's (draft) import of a change: a new draft version, version 1 stays live.
    let changed = ROW_A.replace("带身份证", "带身份证和银行卡");
    let report = import_csv(&w, &[&changed], false).await.unwrap();
    assert_eq!(report.updated, 1);
    let a = w.kb.get(a.id).await.unwrap();
    assert_eq!(
        (a.status, a.latest.number, a.live_version()),
        (Status::Draft, 2, Some(1))
    );
    assert!(a.live.unwrap().content.answer.starts_with("带身份证到"));

    // The same text imported as published: no new version, the draft goes live.
    let report = import_csv(&w, &[&changed], true).await.unwrap();
    assert_eq!((report.updated, report.unchanged), (1, 0));
    let a = w.kb.get(a.id).await.unwrap();
    assert_eq!(
        (a.status, a.latest.number, a.live_version()),
        (Status::Published, 2, Some(2))
    );
    // And once more: now nothing to do.
    assert_eq!(
        import_csv(&w, &[&changed], true).await.unwrap().unchanged,
        1
    );
}

fn contents(articles: &[hotline_knowledge::Article]) -> Vec<(Option<String>, Content)> {
    let mut out: Vec<_> = articles
        .iter()
        .map(|a| (a.external_key.clone(), a.latest.content.clone()))
        .collect();
    out.sort_by(|a, b| a.1.title.cmp(&b.1.title));
    out
}

async fn an_export_imports_into_a_fresh_base_unchanged_and_re_imports_as_unchanged(w: World) {
    let ed = staff("ed1");
    let mut full = content(
        "公积金提取",
        "带身份证办理。\n可以网上办理，\"网厅\"。",
        "SB.GJJ",
        "3205",
    );
    full.alt_questions = vec!["怎么取公积金".into(), "提取公积金".into()];
    full.categories.push(cat("CJ.WY"));
    full.territories = vec![div("320508"), div("320508021")];
    full.internal_note = "内部说明".into();
    full.effective_until = Some(day(2025, 12, 31));
    w.kb.create(&ed, full, Some("KB-1".into())).await.unwrap();
    let mut bare = content("路灯报修", "拨打路灯报修电话。", "JT.GJ", "3205");
    bare.source = Source::default();
    bare.review_on = None;
    // Made here, no external key: exported under its id.
    let made_here = w.kb.create(&ed, bare, None).await.unwrap();
    let articles = w.kb.store().list(None).await.unwrap();

    let dir = TempDir::new();
    let mut csv = Vec::new();
    write_csv(&articles, &mut csv).unwrap();
    assert!(
        csv.starts_with(b"\xEF\xBB\xBF"),
        "Excel needs the BOM to read UTF-8"
    );
    let csv_path = dir.path().join("export.csv");
    std::fs::write(&csv_path, &csv).unwrap();
    let xlsx_path = dir.path().join("export.xlsx");
    write_xlsx(&articles, &xlsx_path).unwrap();

    for path in [&csv_path, &xlsx_path] {
        let fresh = w.another().await;
        let report = fresh
            .kb
            .import_file(&staff("admin"), path, false)
            .await
            .unwrap();
        assert_eq!(report.created, 2, "{}", path.display());
        let imported = fresh.kb.store().list(None).await.unwrap();
        let mut expected = contents(&articles);
        expected[1].0 = Some(made_here.id.to_string());
        assert_eq!(contents(&imported), expected, "{}", path.display());
        // Importing the same file again changes nothing.
        let again = fresh
            .kb
            .import_file(&staff("admin"), path, false)
            .await
            .unwrap();
        assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 2));
    }

    // Back into the base it came from: the key-less article is found by its id.
    let again =
        w.kb.import_file(&staff("admin"), &csv_path, false)
            .await
            .unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 2));
    assert_eq!(w.kb.store().list(None).await.unwrap().len(), 2);
}

async fn a_gb18030_csv_and_an_xlsx_with_real_date_cells_import(w: World) {
    let dir = TempDir::new();
    let utf8 = csv_file(&[ROW_A]);
    let (gb, _, _) = encoding_rs::GB18030.encode(std::str::from_utf8(&utf8).unwrap());
    let gb_path = dir.path().join("gb.csv");
    std::fs::write(&gb_path, &gb).unwrap();
    assert_eq!(
        w.kb.import_file(&staff("admin"), &gb_path, false)
            .await
            .unwrap()
            .created,
        1
    );
    let a = w.store.by_external_key("KB-1").await.unwrap().unwrap();
    assert_eq!(a.latest.content.title, "公积金提取");
    assert_eq!(a.latest.content.source.number, "苏府规字〔2024〕1号");

    // A sheet typed by hand: columns in another order, a real date cell, a date typed as a
    // plain number (an Excel serial), a key that Excel stores as a number.
    let xlsx_path = dir.path().join("kb.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let header = [
        "title",
        "answer",
        "categories",
        "territories",
        "owner",
        "effective_from",
        "review_on",
        "external_key",
    ];
    for (c, name) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *name).unwrap();
    }
    let date_format = rust_xlsxwriter::Format::new().set_num_format("yyyy/m/d");
    sheet.write_string(1, 0, "垃圾分类").unwrap();
    sheet
        .write_string(1, 1, "厨余垃圾早七点到九点投放。")
        .unwrap();
    sheet.write_string(1, 2, "CJ.WY").unwrap();
    sheet.write_string(1, 3, "3205").unwrap();
    sheet.write_string(1, 4, "320508-office").unwrap();
    let from = rust_xlsxwriter::ExcelDateTime::from_ymd(2025, 3, 15).unwrap();
    sheet
        .write_datetime_with_format(1, 5, &from, &date_format)
        .unwrap();
    sheet.write_number(1, 6, 46023.0).unwrap(); // 2026-01-01
    sheet.write_number(1, 7, 1001.0).unwrap();
    book.save(&xlsx_path).unwrap();

    let rows = read_file(&xlsx_path).unwrap();
    assert_eq!(rows[0].line, 2);
    w.kb.import(&staff("admin"), rows, false).await.unwrap();
    let b = w.store.by_external_key("1001").await.unwrap().unwrap();
    assert_eq!(b.latest.content.effective_from, day(2025, 3, 15));
    assert_eq!(b.latest.content.review_on, Some(day(2026, 1, 1)));
    assert_eq!(b.latest.content.title, "垃圾分类");
}

// ---- feedback and the review list ----

fn mark(
    article: hotline_knowledge::ArticleId,
    version: u32,
    kind: FeedbackKind,
    ticket: Option<&str>,
    at_minute: u32,
) -> Feedback {
    Feedback {
        article,
        version,
        kind,
        ticket: ticket.map(str::to_owned),
        staff: Some(staff("op1")),
        note: "来电问的是二手房".into(),
        at: Utc.with_ymd_and_hms(2025, 3, 1, 3, at_minute, 0).unwrap(),
    }
}

async fn feedback_is_stored_once_per_ticket_and_kind_and_checked(w: World) {
    let id = publish(
        &w,
        content("公积金提取", "带身份证办理。", "SB.GJJ", "3205"),
    )
    .await;
    let t = Some("0190a0c4-0000-7000-8000-000000000001");
    assert!(w
        .kb
        .record_feedback(mark(id, 1, FeedbackKind::DidNotFit, t, 1))
        .await
        .unwrap());
    // The router retries: the same ticket and kind is stored once.
    assert!(!w
        .kb
        .record_feedback(mark(id, 1, FeedbackKind::DidNotFit, t, 2))
        .await
        .unwrap());
    assert!(w
        .kb
        .record_feedback(mark(id, 1, FeedbackKind::Dissatisfied, t, 3))
        .await
        .unwrap());
    // Without a ticket every mark counts.
    assert!(w
        .kb
        .record_feedback(mark(id, 1, FeedbackKind::DidNotFit, None, 4))
        .await
        .unwrap());
    assert!(w
        .kb
        .record_feedback(mark(id, 1, FeedbackKind::DidNotFit, None, 5))
        .await
        .unwrap());

    let stored = w.kb.feedback(id).await.unwrap();
    let kinds: Vec<(FeedbackKind, bool)> = stored
        .iter()
        .map(|f| (f.kind, f.ticket.is_some()))
        .collect();
    assert_eq!(
        kinds,
        [
            (FeedbackKind::DidNotFit, true),
            (FeedbackKind::Dissatisfied, true),
            (FeedbackKind::DidNotFit, false),
            (FeedbackKind::DidNotFit, false),
        ]
    );
    assert_eq!(stored[0].staff, Some(staff("op1")));
    assert_eq!(stored[0].note, "来电问的是二手房");
    assert_eq!(
        stored[0].at,
        Utc.with_ymd_and_hms(2025, 3, 1, 3, 1, 0).unwrap()
    );

    let unknown = hotline_knowledge::ArticleId::new();
    assert!(matches!(
        w.kb.record_feedback(mark(unknown, 1, FeedbackKind::DidNotFit, None, 6))
            .await,
        Err(KnowledgeError::NotFound(_))
    ));
    let mut long = mark(id, 1, FeedbackKind::DidNotFit, None, 7);
    long.note = "长".repeat(1001);
    let err = w.kb.record_feedback(long).await.unwrap_err();
    assert!(err.to_string().contains("limit is 1000"), "{err}");
    assert!(matches!(
        w.kb.record_feedback(mark(id, 9, FeedbackKind::DidNotFit, None, 8))
            .await,
        Err(KnowledgeError::Invalid(_))
    ));
    assert_eq!(w.kb.feedback(id).await.unwrap().len(), 4);
}

async fn the_review_list_says_why_and_puts_the_most_urgent_first(w: World) {
    let today = day(2025, 3, 1);
    let mut review = content("复核到期", "答复甲。", "CJ.WY", "3205");
    review.review_on = Some(today);
    let review = publish(&w, review).await;
    let mut expired = content("已过期", "答复乙。", "CJ.WY", "3205");
    expired.effective_until = Some(day(2025, 1, 15));
    expired.review_on = Some(day(2025, 2, 1));
    let expired = publish(&w, expired).await;
    let two_marks = publish(&w, content("两次反馈", "答复丙。", "CJ.WY", "3205")).await;
    let one_mark = publish(&w, content("一次反馈", "答复丁。", "CJ.WY", "3205")).await;
    publish(&w, content("未到期", "答复戊。", "CJ.WY", "3205")).await;
    // A draft is not on callers' lines: not listed, whatever its dates.
    let mut draft = content("草稿", "答复己。", "CJ.WY", "3205");
    draft.review_on = Some(day(2024, 1, 1));
    w.kb.create(&staff("ed1"), draft, None).await.unwrap();
    // Feedback on a version since replaced by a published edit no longer counts.
    let fixed = publish(&w, content("已修正", "答复庚。", "CJ.WY", "3205")).await;
    w.kb.record_feedback(mark(fixed, 1, FeedbackKind::DidNotFit, Some("T9"), 1))
        .await
        .unwrap();
    w.kb.update(
        &staff("ed1"),
        fixed,
        1,
        content("已修正", "答复庚，已改。", "CJ.WY", "3205"),
    )
    .await
    .unwrap();
    w.kb.submit(&staff("ed1"), fixed, 2).await.unwrap();
    w.kb.approve(&staff("sup1"), fixed, 2).await.unwrap();

    w.kb.record_feedback(mark(two_marks, 1, FeedbackKind::DidNotFit, Some("T1"), 1))
        .await
        .unwrap();
    w.kb.record_feedback(mark(
        two_marks,
        1,
        FeedbackKind::Dissatisfied,
        Some("T2"),
        2,
    ))
    .await
    .unwrap();
    w.kb.record_feedback(mark(one_mark, 1, FeedbackKind::Dissatisfied, Some("T3"), 3))
        .await
        .unwrap();

    let due = w.kb.review_due(today).await.unwrap();
    let listed: Vec<(hotline_knowledge::ArticleId, Vec<DueReason>)> =
        due.into_iter().map(|d| (d.article.id, d.reasons)).collect();
    assert_eq!(
        listed,
        [
            (
                two_marks,
                vec![DueReason::Feedback {
                    did_not_fit: 1,
                    dissatisfied: 1
                }]
            ),
            (
                one_mark,
                vec![DueReason::Feedback {
                    did_not_fit: 0,
                    dissatisfied: 1
                }]
            ),
            (
                expired,
                vec![
                    DueReason::Expired(day(2025, 1, 15)),
                    DueReason::ReviewDate(day(2025, 2, 1))
                ]
            ),
            (review, vec![DueReason::ReviewDate(today)]),
        ]
    );
    // The day before its review date the article is not yet due.
    let earlier = w.kb.review_due(day(2025, 2, 28)).await.unwrap();
    assert!(earlier.iter().all(|d| d.article.id != review));
}

async fn search_drops_an_article_the_day_after_its_review_date(w: World) {
    let mut due = content("供暖补贴", "供暖补贴按年度发放。", "CJ.WY", "3205");
    due.review_on = Some(day(2025, 3, 1));
    publish(&w, due).await;
    let index = Arc::new(KnowledgeIndex::new(&Segmenter::new(), Ranking::default()).unwrap());
    IndexSync::new(Arc::clone(&index))
        .rebuild(w.store.as_ref())
        .await
        .unwrap();
    // One index, built once: the filter is the call's date.
    assert_eq!(
        titles(&index, "供暖补贴", None, day(2025, 3, 1)),
        ["供暖补贴"]
    );
    assert!(titles(&index, "供暖补贴", None, day(2025, 3, 2)).is_empty());
}

// ---- drafts from replies ----

async fn a_reply_becomes_a_draft_without_the_callers_details(w: World) {
    let reply =
        "网友“UU008123” 您好！您反映的金鸡湖路5号楼301室漏水问题，经与王女士（13912345678）\
                 联系，已安排维修。公积金提取可登录网厅办理。";
    let draft =
        w.kb.draft_from_reply(
            &staff("sup1"),
            "楼上漏水怎么办",
            reply,
            vec![cat("CJ.WY")],
            vec![div("320508")],
            StationId::parse("owner", "320508-office").unwrap(),
            day(2025, 3, 1),
        )
        .await
        .unwrap();
    assert_eq!(draft.status, Status::Draft);
    assert_eq!(draft.live, None);
    let c = &draft.latest.content;
    assert_eq!(
        c.answer,
        "您反映的金鸡湖路【已隐去】漏水问题，经与【已隐去】（【已隐去】）联系，已安排维修。公积金提取可登录网厅办理。"
    );
    assert_eq!(c.effective_from, day(2025, 3, 1));
    assert!(c.internal_note.contains("公开答复"), "{}", c.internal_note);
    assert_eq!(draft.latest.author, staff("sup1"));
    // Stored as written: the draft read back is the same.
    assert_eq!(w.kb.get(draft.id).await.unwrap().latest.content, *c);

    // A reply that is nothing but a salutation leaves no answer: refused, nothing stored.
    let err =
        w.kb.draft_from_reply(
            &staff("sup1"),
            "空",
            "网友：您好！",
            vec![cat("CJ.WY")],
            vec![div("320508")],
            StationId::parse("owner", "320508-office").unwrap(),
            day(2025, 3, 1),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, KnowledgeError::Invalid(ref e) if e.field == "answer"),
        "{err:?}"
    );
    assert_eq!(w.kb.store().list(None).await.unwrap().len(), 1);
}
