//! Backups of the embedded default (issue 14, part 6): taken while the router is busy, restored
//! into a fresh data directory, and served again with the working set and the knowledge index
//! rebuilt from them.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use hotline_core::StationId;
use hotline_proto::v1 as pb;
use hotline_proto::v1::knowledge_client::KnowledgeClient;
use hotline_router::config::{BackupArgs, RestoreArgs};
use tokio::sync::watch;

use crate::support::{operator, Backend, TestApp, COMMUNITY_CSS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_ticket_committed_before_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let article = crate::knowledge::publish(
        &app,
        "失业保险金怎么申领",
        "失业后可以在户籍所在地或常住地的公共就业服务机构办理失业登记，并申领失业保险金。",
        "320508",
    )
    .await;

    // Four clients submit and dispatch as fast as the router answers, each acknowledged
    // ticket recorded in order.
    let (acked, progress) = watch::channel(Vec::<String>::new());
    let acked = Arc::new(acked);
    let (stop, stopped) = watch::channel(false);
    let mut load = Vec::new();
    for client in 0..4 {
        let intake = app.intake().await;
        let acked = acked.clone();
        let stopped = stopped.clone();
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !*stopped.borrow() {
                let request = crate::support::submit_request(
                    &format!("第{client}-{n}件：楼道灯不亮"),
                    Some(COMMUNITY_CSS),
                );
                let ticket = intake
                    .clone()
                    .submit_ticket(request)
                    .await
                    .expect("submit")
                    .into_inner()
                    .ticket
                    .unwrap();
                acked.send_modify(|ids| ids.push(ticket.id));
                n += 1;
            }
        }));
    }
    // Back up once the load is well under way; everything acknowledged by then must be in it.
    let mut seen = progress.clone();
    seen.wait_for(|ids| ids.len() >= 40).await.unwrap();
    let before: Vec<String> = progress.borrow().clone();
    let backup_dir = hotline_store::testing::TempDir::new();
    let file = backup_dir.path().join("hotline-backup.sqlite");
    hotline_router::cli::backup(&BackupArgs {
        data_dir: app.data_dir(),
        to: file.clone(),
    })
    .await
    .expect("backup while serving");
    // The load goes on after the backup (the router was not paused by it), then stops.
    let count = progress.borrow().len();
    seen.wait_for(|ids| ids.len() >= count + 20).await.unwrap();
    stop.send_replace(true);
    for task in load {
        task.await.unwrap();
    }
    let all_acked: HashSet<String> = progress.borrow().iter().cloned().collect();

    // A second backup to the same file is refused: a backup never overwrites.
    let again = hotline_router::cli::backup(&BackupArgs {
        data_dir: app.data_dir(),
        to: file.clone(),
    })
    .await;
    assert!(again.is_err(), "overwrote an existing backup");
    // Restoring over the database the router has open is refused, even when forced.
    let live = hotline_router::cli::restore(&RestoreArgs {
        from: file.clone(),
        data_dir: app.data_dir(),
        force: true,
    })
    .await
    .expect_err("restored under a running router");
    assert!(format!("{live:#}").contains("running router"), "{live:#}");
    let still = app.get(&before[0]).await;
    assert_eq!(still.id, before[0]);

    // Into a fresh data directory.
    let restored = hotline_store::testing::TempDir::new();
    let args = RestoreArgs {
        from: file.clone(),
        data_dir: restored.path().to_path_buf(),
        force: false,
    };
    hotline_router::cli::restore(&args).await.expect("restore");
    let refused = hotline_router::cli::restore(&args)
        .await
        .expect_err("restored over a database without --force");
    assert!(format!("{refused:#}").contains("--force"), "{refused:#}");

    let back = TestApp::spawn_with(
        vec![
            "--data-dir".to_owned(),
            restored.path().display().to_string(),
        ],
        hotline_core::ManualClock::new(TestApp::start_time()),
    )
    .await;
    // Every ticket acknowledged before the backup began, with its whole history; and nothing
    // the load did not send (a submit in flight during the backup may or may not be in it).
    for id in &before {
        let ticket = back.get(id).await;
        assert_eq!(
            crate::support::kinds(&ticket),
            ["submit", "dispatch"],
            "{id}"
        );
    }
    let in_backup: BTreeMap<String, u64> = back
        .hotline
        .as_ref()
        .unwrap()
        .store()
        .search(&hotline_store::SearchQuery {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.id.to_string(), t.version))
        .collect();
    for id in in_backup.keys() {
        assert!(
            all_acked.contains(id),
            "{id} is in the backup but was never submitted"
        );
    }
    assert!(in_backup.len() >= before.len());
    // The working set was rebuilt from the restored store: the tickets wait on their queue.
    let queued: HashSet<String> = back
        .hotline
        .as_ref()
        .unwrap()
        .queues()
        .queue()
        .list(
            &StationId::parse("station", COMMUNITY_CSS).unwrap(),
            TestApp::start_time(),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|item| item.entry.ticket.to_string())
        .collect();
    for id in in_backup.keys() {
        assert!(
            queued.contains(id),
            "{id} is not on its queue after the restore"
        );
    }
    // The knowledge base came back, and the search index was rebuilt from it on start.
    let found = KnowledgeClient::new(back.authed(&operator()).await)
        .search_articles(pb::SearchArticlesRequest {
            text: "失业保险金".into(),
            division_code: "320508021019".into(),
            ..Default::default()
        })
        .await
        .expect("search the restored knowledge base")
        .into_inner()
        .articles;
    assert!(
        found.iter().any(|s| s
            .article
            .as_ref()
            .is_some_and(|a| a.article_id == article.id)),
        "{found:?}"
    );
    // And the restored router takes new work.
    let fresh = back
        .submit("恢复后的第一件：井盖缺失", Some(COMMUNITY_CSS))
        .await;
    assert_eq!(crate::support::stage(&fresh), pb::Stage::AwaitingSignFor);
}
