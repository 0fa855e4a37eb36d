//! Backups of the embedded default: taken while the router is busy, restored into a fresh data
//! directory, and served again with the working set rebuilt from them.

use std::collections::HashSet;
use std::sync::Arc;

use hotline_core::StationId;
use hotline_router::config::{BackupArgs, RestoreArgs};
use tokio::sync::watch;

use crate::support::{TestApp, COMMUNITY_CSS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_ticket_committed_before_it() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
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
    // The load goes on after the backup, then stops.
    let count = progress.borrow().len();
    seen.wait_for(|ids| ids.len() >= count + 20).await.unwrap();
    stop.send_replace(true);
    for task in load {
        task.await.unwrap();
    }

    // A second backup to the same file is refused: a backup never overwrites.
    let again = hotline_router::cli::backup(&BackupArgs {
        data_dir: app.data_dir(),
        to: file.clone(),
    })
    .await;
    assert!(again.is_err(), "overwrote an existing backup");

    let restored = hotline_store::testing::TempDir::new();
    let args = RestoreArgs {
        from: file.clone(),
        data_dir: restored.path().to_path_buf(),
        replace: false,
    };
    hotline_router::cli::restore(&args).await.expect("restore");
    let refused = hotline_router::cli::restore(&args).await;
    assert!(
        refused.is_err(),
        "restored over a database without --replace"
    );

    let back = TestApp::spawn_with(
        vec![
            "--data-dir".to_owned(),
            restored.path().display().to_string(),
        ],
        hotline_core::ManualClock::new(TestApp::start_time()),
    )
    .await;
    for id in &before {
        back.get(id).await;
    }
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
    for id in &before {
        assert!(
            queued.contains(id),
            "{id} is not on its queue after the restore"
        );
    }
}
