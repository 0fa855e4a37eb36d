//! Duplicates through the working set's duplicate index: a repeated request is linked by what
//! the index hands to the exact check (not by a store scan), a closed ticket leaves the index, a
//! ticket moved to another territory is re-filed there, anti-entropy puts back a filing the
//! index lost, and after a restart or a flushed Redis the rebuilt index still finds duplicates
//! (shared by every replica).

use chrono::Duration;
use hotline_core::TicketId;
use hotline_proto::v1 as pb;
use hotline_router::working_set::AuditBudget;
use hotline_router::Hotline;

use crate::support::*;

const ADDRESS: &str = "姑苏区双塔街道沧浪亭社区";
const FIRST: &str = "我家楼上漏水，找物业报修没人来修";
const AGAIN: &str = "楼上漏水，找物业报修一直没人来修";

async fn route(app: &TestApp, text: &str) -> pb::SubmitTicketResponse {
    route_at(app, text, ADDRESS).await
}

async fn route_at(app: &TestApp, text: &str, address: &str) -> pb::SubmitTicketResponse {
    let mut request = submit_request(text, None);
    request.hold = false;
    request.address = address.into();
    request.division_code = String::new();
    request.channel = pb::Channel::Web as i32;
    app.intake()
        .await
        .submit_ticket(request)
        .await
        .expect("submit")
        .into_inner()
}

fn hotline(app: &TestApp) -> &Hotline {
    app.hotline.as_ref().expect("running")
}

fn id(ticket: &pb::Ticket) -> TicketId {
    TicketId::parse("id", &ticket.id).unwrap()
}

/// What the index hands to the exact check for `ticket`'s own text, key and window.
async fn candidates_like(app: &TestApp, ticket: TicketId) -> Option<Vec<TicketId>> {
    let hotline = hotline(app);
    let stored = hotline.store().get(ticket).await.unwrap().unwrap();
    let entry = hotline
        .queues()
        .duplicate_entry_for(&stored)
        .expect("an open ticket with a division and category is filed");
    hotline
        .queues()
        .duplicate_candidates(
            &entry.key,
            &entry.bands,
            app.clock_now() - Duration::days(7),
            32,
        )
        .await
        .unwrap()
        .map(|found| found.into_iter().map(|c| c.ticket).collect())
}

/// Signs for, replies, reviews, calls back and closes the ticket at the community station.
async fn handle_to_close(app: &TestApp, ticket: &str) {
    let closed = handle_to_close_at(app, ticket, COMMUNITY_CSS).await;
    assert_eq!(stage(&closed), pb::Stage::Closed);
}

/// The matter a request was linked to: the incident it was merged into (its lead's id).
fn linked_to(response: &pb::SubmitTicketResponse) -> Option<String> {
    let ticket = response.ticket.as_ref()?;
    (!ticket.incident_id.is_empty()).then(|| ticket.incident_id.clone())
}

pub async fn a_duplicate_is_linked_through_the_index_and_a_closed_ticket_no_longer_matches(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    // Off the whole millisecond: the index keeps creation times to the millisecond, the store
    // more finely, and anti-entropy must not call that drift.
    app.advance(Duration::microseconds(1_234));
    let first = route(&app, FIRST).await.ticket.unwrap();
    assert_eq!(stage(&first), pb::Stage::AwaitingSignFor);
    assert_eq!(
        candidates_like(&app, id(&first)).await,
        Some(vec![id(&first)])
    );

    let again = route(&app, AGAIN).await;
    assert_eq!(linked_to(&again), Some(first.id.clone()));
    // The merged request is filed too: a later call matching it joins the same incident.
    let member = id(again.ticket.as_ref().unwrap());
    let filed = hotline(&app).queues().duplicates().len().await.unwrap();
    assert_eq!(filed, 2);

    // The lookup trusts the index: filings lost from it (a bug, a hand-edited Redis) mean no
    // duplicate, though the store still has the live tickets...
    for lost in [id(&first), member] {
        assert!(hotline(&app)
            .queues()
            .duplicates()
            .remove(lost)
            .await
            .unwrap());
    }
    let unlinked = route(&app, AGAIN).await;
    assert_eq!(linked_to(&unlinked), None);
    // (That request is a live ticket now, and the closest match for the same text: close it.)
    handle_to_close(&app, &unlinked.ticket.unwrap().id).await;
    // ...until anti-entropy finds the drift and files them again.
    app.advance(Duration::minutes(5));
    let mut cursor = hotline_router::working_set::AuditCursor::default();
    let stations = hotline(&app).directory().stations().count();
    let drift = hotline(&app)
        .queues()
        .audit(
            &mut cursor,
            AuditBudget::stations(stations),
            Duration::seconds(10),
            app.clock_now(),
        )
        .await
        .unwrap();
    assert_eq!(drift.filings, 2, "{drift:?}");
    let again = hotline(&app)
        .queues()
        .audit(
            &mut cursor,
            AuditBudget::stations(stations),
            Duration::seconds(10),
            app.clock_now(),
        )
        .await
        .unwrap();
    assert_eq!(
        again.total(),
        0,
        "still drifting after the repair: {again:?}"
    );
    let linked = route(&app, AGAIN).await;
    assert_eq!(linked_to(&linked), Some(first.id.clone()));

    // Closed together, the incident's tickets leave the index, and nothing matches any more.
    let closed = close_incident_at(&app, &first.id, COMMUNITY_CSS).await;
    assert_eq!(closed.tickets.len(), 3);
    let ids: Vec<TicketId> = closed.tickets.iter().map(id).collect();
    assert!(hotline(&app)
        .queues()
        .duplicates()
        .filed(&ids)
        .await
        .unwrap()
        .is_empty());
    let after_close = route(&app, AGAIN).await;
    assert_eq!(linked_to(&after_close), None);
    assert_eq!(
        stage(after_close.ticket.as_ref().unwrap()),
        pb::Stage::AwaitingSignFor
    );
}

pub async fn a_ticket_moved_to_another_territory_is_matched_there_and_no_longer_here(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let first = route(&app, FIRST).await.ticket.unwrap();
    let elsewhere = "虎丘区横塘街道横塘社区";
    let moved = app
        .supervision_as(&supervisor())
        .await
        .reclassify(pb::ReclassifyRequest {
            ticket_id: first.id.clone(),
            expected_version: 0,
            category: first.category.clone(),
            address: elsewhere.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_ne!(moved.division_code, first.division_code);
    let filed = hotline(&app)
        .queues()
        .duplicates()
        .filed(&[id(&first)])
        .await
        .unwrap();
    assert_eq!(
        filed[&id(&first)].key.division.as_str(),
        moved.division_code
    );
    assert_eq!(linked_to(&route(&app, AGAIN).await), None);
    assert_eq!(
        linked_to(&route_at(&app, AGAIN, elsewhere).await),
        Some(first.id)
    );
}

pub async fn duplicates_are_still_found_after_a_restart(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let first = route(&app, FIRST).await.ticket.unwrap();
    // A new process: its in-process index is rebuilt from the store at start.
    app.restart().await;
    assert_eq!(hotline(&app).queues().duplicates().len().await.unwrap(), 1);
    assert_eq!(
        candidates_like(&app, id(&first)).await,
        Some(vec![id(&first)])
    );
    let again = route(&app, AGAIN).await;
    assert_eq!(linked_to(&again), Some(first.id));
}

on_both_backends!(
    a_duplicate_is_linked_through_the_index_and_a_closed_ticket_no_longer_matches,
    a_ticket_moved_to_another_territory_is_matched_there_and_no_longer_here,
    duplicates_are_still_found_after_a_restart,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_duplicate_index_and_a_flushed_redis_is_rebuilt() {
    let (replicas, prefix) = TestApp::spawn_replicas(2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let first = route(a, FIRST).await.ticket.unwrap();
    // Filed by a, found by b.
    assert_eq!(candidates_like(b, id(&first)).await, Some(vec![id(&first)]));
    assert_eq!(linked_to(&route(b, AGAIN).await), Some(first.id.clone()));

    // Redis loses everything: until a rebuild the index is not trusted, and a lookup scans
    // the store instead, so the duplicate is still linked.
    hotline_dispatch::testing::flush_prefix(&prefix).await;
    assert_eq!(linked_to(&route(b, AGAIN).await), Some(first.id.clone()));
    // A rebuild (this call, or a replica's repair loop that got there first) files it again,
    // with the requests merged into its incident.
    a.hotline
        .as_ref()
        .unwrap()
        .repair_working_set()
        .await
        .unwrap();
    assert!(hotline(b).queues().duplicates().is_intact().await.unwrap());
    assert!(candidates_like(b, id(&first))
        .await
        .is_some_and(|found| found.contains(&id(&first))));
    assert_eq!(linked_to(&route(a, AGAIN).await), Some(first.id.clone()));
    hotline_dispatch::testing::flush_prefix(&prefix).await;
}
