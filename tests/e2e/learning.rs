//! `hotline train --from-store`: the model learns from the tickets the centre handled, on
//! SQLite and PostgreSQL. A person's correction is the label, a category returned for 职能不符
//! and never corrected is not, a category with too few tickets is left to the keyword rules,
//! and a new model goes live only when it is not worse than the live one on the latest weeks.

use chrono::Duration;
use hotline_classify::{train_examples, Example, Model, TrainOptions};
use hotline_proto::v1 as pb;
use hotline_router::config::TrainArgs;

use crate::support::*;

/// Submits `text` with the operator's `category`, dispatched at once to the community station.
async fn submit(app: &TestApp, text: &str, category: &str) -> pb::Ticket {
    app.intake()
        .await
        .submit_ticket(pb::SubmitTicketRequest {
            category: category.into(),
            hold: false,
            ..submit_request(text, Some(COMMUNITY_CSS))
        })
        .await
        .expect("submit")
        .into_inner()
        .ticket
        .unwrap()
}

/// Signs for, replies, reviews, calls back and closes the ticket at the community station.
async fn handle_to_close(app: &TestApp, id: &str) {
    handle_to_close_at(app, id, COMMUNITY_CSS).await;
}

async fn closed(app: &TestApp, text: &str, category: &str) {
    let ticket = submit(app, text, category).await;
    handle_to_close(app, &ticket.id).await;
}

fn train_args(app: &TestApp, out: &std::path::Path, extra: &[&str]) -> TrainArgs {
    use clap::Parser;
    let mut argv = vec![
        "hotline".to_owned(),
        "train".to_owned(),
        "--from-store".to_owned(),
        "--data-dir".to_owned(),
        app.data_dir().display().to_string(),
        "--out".to_owned(),
        out.display().to_string(),
        "--folds".to_owned(),
        "2".to_owned(),
    ];
    if let Some(url) = app.database_url() {
        argv.extend(["--database-url".to_owned(), url]);
    }
    argv.extend(extra.iter().map(|s| (*s).to_owned()));
    match hotline_router::config::Cli::parse_from(argv).command {
        hotline_router::config::Command::Train(args) => args,
        _ => unreachable!("the argument list starts with `train`"),
    }
}

/// A model trained from a CSV-like list, saved to `path`.
fn model_file(path: &std::path::Path, rows: &[(&str, &str)]) {
    let examples: Vec<Example> = rows
        .iter()
        .map(|(text, label)| Example {
            text: (*text).into(),
            label: (*label).into(),
        })
        .collect();
    let options = TrainOptions {
        min_df: 1,
        ..TrainOptions::default()
    };
    train_examples(&examples, &options)
        .unwrap()
        .save(path)
        .unwrap();
}

pub async fn the_model_learns_from_handled_tickets_with_corrections_and_disputes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for n in 0..4 {
        closed(&app, &format!("小区路灯坏了不亮第{n}盏"), "CJ").await;
        closed(&app, &format!("公司拖欠工资第{n}个月"), "LS").await;
    }
    // Categorised 城乡建设 at intake, corrected to 劳动和社会保障 by a supervisor: LS.
    let corrected = submit(&app, "老板拖欠工资不发", "CJ").await;
    app.supervision_as(&supervisor())
        .await
        .reclassify(pb::ReclassifyRequest {
            ticket_id: corrected.id.clone(),
            expected_version: 0,
            category: "LS".into(),
            ..Default::default()
        })
        .await
        .expect("reclassify");
    let moved = app.get(&corrected.id).await;
    assert_eq!(moved.category, "LS");
    // Re-routed on the new category; handled wherever it went.
    handle_to_close_at(&app, &corrected.id, &moved.station_id).await;
    // Returned for 职能不符 as 城乡建设, accepted, dispatched again by hand and closed without
    // the category ever corrected: it teaches nothing.
    let disputed = submit(&app, "路边摊占道经营噪音扰民", "CJ").await;
    app.station_as(&staff(COMMUNITY_CSS, "li"))
        .await
        .request_return(pb::RequestReturnRequest {
            ticket_id: disputed.id.clone(),
            expected_version: 0,
            reason: pb::ReturnReason::NotOurFunction as i32,
            basis: "属城管职能".into(),
        })
        .await
        .expect("return");
    app.supervision_as(&supervisor())
        .await
        .arbitrate_return(pb::ArbitrateReturnRequest {
            ticket_id: disputed.id.clone(),
            expected_version: 0,
            accept: true,
            note: String::new(),
        })
        .await
        .expect("arbitrate");
    app.supervision_as(&operator())
        .await
        .dispatch(pb::DispatchRequest {
            ticket_id: disputed.id.clone(),
            expected_version: 0,
            station_id: COMMUNITY_CSS.into(),
            note: String::new(),
        })
        .await
        .expect("dispatch again");
    handle_to_close(&app, &disputed.id).await;
    // Two tickets of a third category: under --min-examples 3, left to the rules.
    closed(&app, "孩子上学择校问题咨询", "JY").await;
    closed(&app, "学校乱收费问题", "JY").await;
    // Still open: not a label yet.
    submit(&app, "路灯又坏了", "CJ").await;

    let dir = hotline_store::testing::TempDir::new();
    let out = dir.path().join("model.bin");
    hotline_router::cli::train(&train_args(&app, &out, &["--min-examples", "3"]))
        .await
        .expect("train from the store");
    let model = Model::load(&out).unwrap();
    let mut labels = model.labels().to_vec();
    labels.sort();
    assert_eq!(labels, ["CJ", "LS"]);
    // 4 + 4 + the corrected one; the disputed, the open and the two JY tickets are not in it.
    assert_eq!(model.trained_on(), 9);
    assert_eq!(model.rules_fallback(), ["JY"]);
    assert!(model.calibration().is_some_and(|c| c.folds == 2));
    // The router takes it: labels, fallback and taxonomy version match the shipped taxonomy.
    let classifier = hotline_router::cli::classifier(Some(&out), 3).unwrap();
    assert_eq!(
        classifier
            .classify("公司拖欠工资")
            .top()
            .unwrap()
            .code
            .as_str(),
        "LS"
    );

    // Too few for the minimum asked: refused, with the count of every category.
    let err = hotline_router::cli::train(&train_args(&app, &out, &["--min-examples", "6"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("too few labelled tickets")
            && err.contains("CJ 4")
            && err.contains("LS 5")
            && err.contains("JY 2"),
        "{err}"
    );
}

pub async fn a_new_model_goes_live_only_when_not_worse_on_the_latest_weeks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for n in 0..3 {
        closed(&app, &format!("小区路灯坏了不亮第{n}盏"), "CJ").await;
        closed(&app, &format!("公司拖欠工资第{n}个月"), "LS").await;
    }
    // Five weeks later the calls use words the older history never had.
    app.advance(Duration::weeks(5));
    closed(&app, "井盖丢失有隐患", "CJ").await;
    closed(&app, "社保卡补办手续", "LS").await;
    let dir = hotline_store::testing::TempDir::new();

    // A live model that knows the new words: the candidate, trained without the latest four
    // weeks, is worse on them, and nothing is written.
    let good_live = dir.path().join("good.bin");
    model_file(
        &good_live,
        &[
            ("井盖丢失有隐患", "CJ"),
            ("路灯坏了", "CJ"),
            ("社保卡补办手续", "LS"),
            ("拖欠工资", "LS"),
        ],
    );
    let out = dir.path().join("new.bin");
    let live = good_live.display().to_string();
    let err = hotline_router::cli::train(&train_args(
        &app,
        &out,
        &["--min-examples", "2", "--live", &live],
    ))
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("worse than the live one") && err.contains("nothing written"),
        "{err}"
    );
    assert!(!out.exists());

    // A live model with the labels the wrong way round: the candidate is not worse; written.
    let bad_live = dir.path().join("bad.bin");
    model_file(
        &bad_live,
        &[
            ("井盖丢失有隐患", "LS"),
            ("路灯坏了", "LS"),
            ("社保卡补办手续", "CJ"),
            ("拖欠工资", "CJ"),
        ],
    );
    let live = bad_live.display().to_string();
    hotline_router::cli::train(&train_args(
        &app,
        &out,
        &["--min-examples", "2", "--live", &live],
    ))
    .await
    .expect("not worse: goes live");
    assert_eq!(Model::load(&out).unwrap().trained_on(), 8);
}

on_both_backends!(
    the_model_learns_from_handled_tickets_with_corrections_and_disputes,
    a_new_model_goes_live_only_when_not_worse_on_the_latest_weeks,
);
