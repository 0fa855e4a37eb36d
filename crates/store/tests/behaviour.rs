//! One behaviour suite, run against every backend: SQLite (the embedded default) and PostgreSQL.

use chrono::{TimeZone, Utc};
use hotline_core::lifecycle::{apply, open, Action, Actor, Role};
use hotline_core::{
    Caller, Channel, DivisionCode, Flag, IncidentId, Nature, NewTicket, RequestId, Stage,
    StationId, Ticket, TicketId, Urgency,
};
use hotline_store::{
    AliasStatus, AliasStore, AliasVote, CandidateFacts, ClockCounts, CodeRange, Decided,
    IncidentNote, IncidentStore, LiveTally, SearchQuery, StoreError, TicketStore,
};

fn new_ticket(text: &str, request_id: Option<&str>) -> NewTicket {
    NewTicket {
        request_id: request_id.map(|r| RequestId::parse("request_id", r).unwrap()),
        channel: Channel::Kiosk,
        caller: Caller {
            name: "张三".into(),
            phone: "13800000000".into(),
            ..Default::default()
        },
        text: text.into(),
        address: "姑苏区双塔街道金麟社区".into(),
        location: None,
        kiosk: None,
        category: None,
        nature: Nature::Help,
        urgency: Urgency::Normal,
        division: Some(DivisionCode::parse("d", "320508014003").unwrap()),
    }
    .validate()
    .unwrap()
}

fn operator() -> Actor {
    Actor {
        role: Role::Operator,
        staff: None,
        station: None,
    }
}

fn station() -> StationId {
    StationId::parse("s", "320508014003-css").unwrap()
}

async fn submit<S: TicketStore>(store: &S, text: &str, request_id: Option<&str>) -> Ticket {
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let new = new_ticket(text, request_id);
    let fingerprint = new.fingerprint();
    let (ticket, event) = open(TicketId::new(), new, operator(), at);
    store
        .create(&ticket, std::slice::from_ref(&event), &fingerprint)
        .await
        .unwrap()
        .into_ticket()
}

fn dispatch(ticket: &Ticket) -> (Ticket, hotline_core::Event) {
    let at = ticket.updated_at + chrono::Duration::minutes(1);
    apply(
        ticket,
        &operator(),
        Action::Dispatch {
            station: station(),
            sign_for_due: None,
            note: String::new(),
        },
        at,
    )
    .unwrap()
}

pub async fn a_created_ticket_reads_back_with_its_submit_event<S: TicketStore>(store: S) {
    let ticket = submit(&store, "路灯不亮", None).await;
    assert_eq!(store.get(ticket.id).await.unwrap().unwrap(), ticket);
    let events = store.events(ticket.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].seq, 1);
    assert_eq!(events[0].action.name(), "submit");
}

pub async fn a_retried_submit_with_the_same_request_id_returns_the_first_ticket<S: TicketStore>(
    store: S,
) {
    let first = submit(&store, "路灯不亮", Some("kiosk-7:req-1")).await;
    let new = new_ticket("路灯不亮", Some("kiosk-7:req-1"));
    let fingerprint = new.fingerprint();
    let (second, event) = open(TicketId::new(), new, operator(), Utc::now());
    let created = store
        .create(&second, std::slice::from_ref(&event), &fingerprint)
        .await
        .unwrap();
    assert!(!created.is_new());
    assert_eq!(created.ticket().id, first.id);
    assert_eq!(store.events(first.id).await.unwrap().len(), 1);
    assert!(store.get(second.id).await.unwrap().is_none());
}

pub async fn a_request_id_reused_for_different_text_is_refused<S: TicketStore>(store: S) {
    submit(&store, "路灯不亮", Some("web-1")).await;
    let new = new_ticket("噪音扰民", Some("web-1"));
    let fingerprint = new.fingerprint();
    let (other, event) = open(TicketId::new(), new, operator(), Utc::now());
    let err = store
        .create(&other, std::slice::from_ref(&event), &fingerprint)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::RequestIdReused(_)), "{err:?}");
    assert!(store.get(other.id).await.unwrap().is_none());
}

pub async fn a_change_writes_the_ticket_and_one_event<S: TicketStore>(store: S) {
    let ticket = submit(&store, "路灯不亮", None).await;
    let (next, event) = dispatch(&ticket);
    store
        .commit(&next, std::slice::from_ref(&event))
        .await
        .unwrap();
    let stored = store.get(ticket.id).await.unwrap().unwrap();
    assert_eq!(stored.stage, Stage::AwaitingSignFor);
    assert_eq!(stored.version, 2);
    let events = store.events(ticket.id).await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(events[1], event);
}

pub async fn two_changes_from_the_same_version_cannot_both_win<S: TicketStore>(store: S) {
    let ticket = submit(&store, "路灯不亮", None).await;
    let (first, first_event) = dispatch(&ticket);
    let (second, second_event) = apply(
        &ticket,
        &operator(),
        Action::NotAccept {
            advice: "请咨询物业".into(),
        },
        ticket.updated_at,
    )
    .unwrap();
    store
        .commit(&first, std::slice::from_ref(&first_event))
        .await
        .unwrap();
    let err = store
        .commit(&second, std::slice::from_ref(&second_event))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let stored = store.get(ticket.id).await.unwrap().unwrap();
    assert_eq!(stored.stage, Stage::AwaitingSignFor);
    assert_eq!(store.events(ticket.id).await.unwrap().len(), 2);
}

pub async fn a_change_to_an_unknown_ticket_is_not_found<S: TicketStore>(store: S) {
    let ticket = submit(&store, "路灯不亮", None).await;
    let (mut next, mut event) = dispatch(&ticket);
    next.id = TicketId::new();
    event.ticket_id = next.id;
    let err = store
        .commit(&next, std::slice::from_ref(&event))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

pub async fn the_event_log_replays_to_the_stored_ticket<S: TicketStore>(store: S) {
    let ticket = submit(&store, "路灯不亮", None).await;
    let (next, event) = dispatch(&ticket);
    store
        .commit(&next, std::slice::from_ref(&event))
        .await
        .unwrap();
    let events = store.events(ticket.id).await.unwrap();
    let replayed = hotline_core::replay(&events).unwrap();
    assert_eq!(replayed, store.get(ticket.id).await.unwrap().unwrap());
}

pub async fn search_filters_by_stage_station_division_and_text_newest_first<S: TicketStore>(
    store: S,
) {
    let a = submit(&store, "路灯不亮", None).await;
    let b = submit(&store, "噪音扰民 100%", None).await;
    let c = submit(&store, "窨井盖缺失", None).await;
    let (next, event) = dispatch(&c);
    store
        .commit(&next, std::slice::from_ref(&event))
        .await
        .unwrap();

    let all = store
        .search(&SearchQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![c.id, b.id, a.id]
    );

    let waiting = SearchQuery {
        stage: Some(Stage::AwaitingSignFor),
        station: Some(station()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.search(&waiting).await.unwrap().len(), 1);

    let in_district = SearchQuery {
        division: Some(DivisionCode::parse("d", "320508").unwrap()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.search(&in_district).await.unwrap().len(), 3);
    let elsewhere = SearchQuery {
        division: Some(DivisionCode::parse("d", "320505").unwrap()),
        limit: 10,
        ..Default::default()
    };
    assert!(store.search(&elsewhere).await.unwrap().is_empty());

    // `%` in the search text is a literal, not a wildcard.
    let percent = SearchQuery {
        text_contains: Some("100%".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.search(&percent).await.unwrap()[0].id, b.id);
    let wildcard = SearchQuery {
        text_contains: Some("%".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.search(&wildcard).await.unwrap().len(), 1);

    let page = SearchQuery {
        before_id: Some(b.id),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        store
            .search(&page)
            .await
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect::<Vec<_>>(),
        vec![a.id]
    );
}

/// Intake's caller history (by phone) and an integrator's own tickets (by who submitted): both
/// filters keep finding a ticket after it changes, alone or in a batch of changes.
pub async fn a_search_by_phone_or_integrator_finds_only_their_tickets<S: TicketStore>(store: S) {
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let create = |text: &str, phone: &str, portal: bool| {
        let mut new = new_ticket(text, None);
        new.caller.phone = phone.into();
        let fingerprint = new.fingerprint();
        let (mut ticket, event) = open(TicketId::new(), new, operator(), at);
        if portal {
            ticket.submitted_by = Some(hotline_core::StaffId::parse("s", "portal").unwrap());
        }
        let store = &store;
        async move {
            store
                .create(&ticket, std::slice::from_ref(&event), &fingerprint)
                .await
                .unwrap()
                .into_ticket()
        }
    };
    let mine = create("路灯不亮", "13912345678", false).await;
    let other = create("噪音扰民", "13800000000", true).await;
    let no_number = create("窨井盖缺失", "", true).await;
    let search = |phone: Option<&str>, by: Option<&str>| SearchQuery {
        caller_phone: phone.map(str::to_owned),
        submitted_by: by.map(|b| hotline_core::StaffId::parse("s", b).unwrap()),
        limit: 10,
        ..Default::default()
    };
    let ids = |found: Vec<Ticket>| found.iter().map(|t| t.id).collect::<Vec<_>>();
    let by_phone = search(Some("13912345678"), None);
    let by_portal = search(None, Some("portal"));
    assert_eq!(ids(store.search(&by_phone).await.unwrap()), vec![mine.id]);
    assert_eq!(
        ids(store.search(&by_portal).await.unwrap()),
        vec![no_number.id, other.id]
    );
    assert!(store
        .search(&search(None, Some("kiosk-gateway")))
        .await
        .unwrap()
        .is_empty());

    // A change alone, then two in one batch: the filters still find them.
    let (mine_next, event) = dispatch(&mine);
    store
        .commit(&mine_next, std::slice::from_ref(&event))
        .await
        .unwrap();
    let (other_next, e1) = dispatch(&other);
    let (none_next, e2) = dispatch(&no_number);
    for result in store
        .commit_many(&[(other_next, vec![e1]), (none_next, vec![e2])])
        .await
    {
        result.unwrap();
    }
    assert_eq!(ids(store.search(&by_phone).await.unwrap()), vec![mine.id]);
    assert_eq!(
        ids(store.search(&by_portal).await.unwrap()),
        vec![no_number.id, other.id]
    );
    let both = search(Some("13800000000"), Some("portal"));
    let found = store.search(&both).await.unwrap();
    assert_eq!(ids(found.clone()), vec![other.id]);
    assert_eq!(found[0].stage, Stage::AwaitingSignFor);
}

pub async fn tickets_by_stage_lists_what_belongs_on_queues<S: TicketStore>(store: S) {
    let a = submit(&store, "路灯不亮", None).await;
    submit(&store, "噪音扰民", None).await;
    let (next, event) = dispatch(&a);
    store
        .commit(&next, std::slice::from_ref(&event))
        .await
        .unwrap();
    let queued = store
        .in_stages(&[Stage::AwaitingSignFor, Stage::PendingDispatch])
        .await
        .unwrap();
    assert_eq!(queued.iter().map(|t| t.id).collect::<Vec<_>>(), vec![a.id]);
    assert!(store.in_stages(&[]).await.unwrap().is_empty());
}

pub async fn several_events_commit_together_or_not_at_all<S: TicketStore>(store: S) {
    let ticket = submit(&store, "路灯不亮", None).await;
    let (dispatched, e2) = dispatch(&ticket);
    let (signed, e3) = apply(
        &dispatched,
        &Actor {
            role: Role::Station,
            staff: None,
            station: Some(station()),
        },
        Action::SignFor {
            resolution_due: None,
            first_contact_due: None,
        },
        dispatched.updated_at,
    )
    .unwrap();
    // Out of order: refused whole.
    let err = store
        .commit(&signed, &[e3.clone(), e2.clone()])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert_eq!(store.events(ticket.id).await.unwrap().len(), 1);
    store.commit(&signed, &[e2, e3]).await.unwrap();
    assert_eq!(store.get(ticket.id).await.unwrap().unwrap(), signed);
    assert_eq!(
        store
            .events(ticket.id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
}

pub async fn live_tickets_of_a_territory_and_category_are_listed_for_duplicate_checks<
    S: TicketStore,
>(
    store: S,
) {
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let division = DivisionCode::parse("d", "320508014003").unwrap();
    let category = hotline_core::CategoryCode::parse("c", "SQ.WYBX").unwrap();
    let mut tickets = Vec::new();
    for text in ["楼上漏水", "电梯故障", "路灯不亮"] {
        let mut new = new_ticket(text, None);
        new.category = Some(category.clone());
        let fingerprint = new.fingerprint();
        let (ticket, event) = open(TicketId::new(), new, operator(), at);
        store
            .create(&ticket, std::slice::from_ref(&event), &fingerprint)
            .await
            .unwrap();
        tickets.push(ticket);
    }
    // One closes; it is no longer a candidate.
    let (closed, event) = apply(
        &tickets[2],
        &operator(),
        Action::NotAccept {
            advice: "非本市事项".into(),
        },
        at,
    )
    .unwrap();
    store.commit(&closed, &[event]).await.unwrap();
    let live = store.live_in(&division, &category, at, 10).await.unwrap();
    assert_eq!(
        live,
        vec![
            (tickets[1].id, "电梯故障".to_owned()),
            (tickets[0].id, "楼上漏水".to_owned())
        ]
    );
    let other = hotline_core::CategoryCode::parse("c", "LS.GZFL").unwrap();
    assert!(store
        .live_in(&division, &other, at, 10)
        .await
        .unwrap()
        .is_empty());
    let later = at + chrono::Duration::seconds(1);
    assert!(store
        .live_in(&division, &category, later, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Many submits at once (as a busy intake sends them, and as they reach a backend that writes them
/// in batches): each gets its own correct answer. Per request id exactly one try creates the
/// ticket; a retry with the same content gets that ticket back; a different request under the
/// same id is refused. Submits without a request id are all created.
pub async fn concurrent_submits_each_get_their_own_answer<S: TicketStore>(store: S) {
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let mut tries = Vec::new();
    for i in 0..10 {
        let id = format!("kiosk-{i}");
        tries.push((Some(id.clone()), format!("路灯不亮 {i}")));
        tries.push((Some(id.clone()), format!("路灯不亮 {i}")));
        tries.push((Some(id), format!("窨井盖丢失 {i}")));
    }
    for i in 0..20 {
        tries.push((None, format!("噪声扰民 {i}")));
    }
    let results = futures::future::join_all(tries.iter().map(|(request_id, text)| {
        let new = new_ticket(text, request_id.as_deref());
        let fingerprint = new.fingerprint();
        let (ticket, event) = open(TicketId::new(), new, operator(), at);
        let store = &store;
        async move {
            let result = store
                .create(&ticket, std::slice::from_ref(&event), &fingerprint)
                .await;
            (ticket, result)
        }
    }))
    .await;

    let mut winners = std::collections::HashMap::new();
    for (ticket, result) in &results {
        if let Ok(hotline_store::Created::New(stored)) = result {
            assert_eq!(stored, ticket);
            if let Some(request_id) = &ticket.request_id {
                assert!(
                    winners.insert(request_id.clone(), ticket.clone()).is_none(),
                    "two tickets created for request id {request_id}"
                );
            }
        }
    }
    assert_eq!(
        winners.len(),
        10,
        "every request id created exactly one ticket"
    );
    for (ticket, result) in &results {
        let Some(request_id) = &ticket.request_id else {
            assert!(matches!(result, Ok(hotline_store::Created::New(_))));
            continue;
        };
        let winner = &winners[request_id];
        match result {
            Ok(hotline_store::Created::New(_)) => assert_eq!(ticket.id, winner.id),
            Ok(hotline_store::Created::Existing(existing)) => {
                assert_eq!(existing, winner);
                assert_eq!(
                    ticket.text, winner.text,
                    "only the same request gets it back"
                );
            }
            Err(StoreError::RequestIdReused(reused)) => {
                assert_eq!(reused, request_id);
                assert_ne!(ticket.text, winner.text, "the same request was refused");
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    let stored = store
        .search(&SearchQuery {
            limit: 1000,
            ..SearchQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 30, "10 request ids + 20 anonymous submits");
    for ticket in &stored {
        let events = store.events(ticket.id).await.unwrap();
        assert_eq!(events.len(), 1, "each stored ticket has its submit event");
        assert_eq!(events[0].ticket_id, ticket.id);
    }
}

/// A snapshot of live tickets and the changes committed after it, each once: what a
/// working-set rebuild catches up with.
pub async fn changes_committed_after_a_snapshot_are_found_each_once<S: TicketStore>(store: S) {
    let before = submit(&store, "快照前已派单的工单", None).await;
    let (dispatched, event) = dispatch(&before);
    store
        .commit(&dispatched, std::slice::from_ref(&event))
        .await
        .unwrap();
    let snapshot = store
        .live_snapshot(&[Stage::AwaitingSignFor, Stage::PendingDispatch])
        .await
        .unwrap();
    assert_eq!(
        snapshot.tickets.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![before.id],
        "the snapshot holds what was live when it was read"
    );
    let (nothing, cursor) = store.changed_since(&snapshot.cursor).await.unwrap();
    assert!(nothing.is_empty(), "nothing changed yet: {nothing:?}");

    // After the snapshot: a new ticket, and a change to the old one.
    let created = submit(&store, "快照后新建的工单", None).await;
    let at = dispatched.updated_at + chrono::Duration::minutes(1);
    let (signed, event) = apply(
        &dispatched,
        &Actor {
            role: Role::Station,
            staff: Some(hotline_core::StaffId::parse("s", "li").unwrap()),
            station: Some(station()),
        },
        Action::SignFor {
            resolution_due: None,
            first_contact_due: None,
        },
        at,
    )
    .unwrap();
    store
        .commit(&signed, std::slice::from_ref(&event))
        .await
        .unwrap();

    let (mut changed, next) = store.changed_since(&snapshot.cursor).await.unwrap();
    changed.sort();
    let mut expected = vec![created.id, before.id];
    expected.sort();
    assert_eq!(changed, expected, "both changes, each once");
    let (since_middle, _) = store.changed_since(&cursor).await.unwrap();
    assert_eq!(since_middle.len(), 2, "a cursor from before them sees both");
    let (after, _) = store.changed_since(&next).await.unwrap();
    assert!(
        after.is_empty(),
        "nothing after the newest cursor: {after:?}"
    );
}

/// The live tickets page by page after a cursor, as a streamed working-set rebuild reads them:
/// each once, in id order, across page boundaries; what changes between pages is in a later
/// page or found by `changed_since` the cursor taken before the first.
pub async fn live_pages_give_each_ticket_once_and_the_cursor_covers_changes_between_them<
    S: TicketStore,
>(
    store: S,
) {
    let stages = [Stage::AwaitingSignFor, Stage::PendingDispatch];
    let mut live = Vec::new();
    for n in 0..5 {
        let ticket = submit(&store, &format!("分页读取的工单{n}"), None).await;
        let (dispatched, event) = dispatch(&ticket);
        store
            .commit(&dispatched, std::slice::from_ref(&event))
            .await
            .unwrap();
        live.push(dispatched);
    }
    let not_yet = submit(&store, "分页期间才派单的工单", None).await;
    live.sort_by_key(|t| t.id);
    let cursor = store.change_cursor().await.unwrap();
    let first = store.live_page(&stages, None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![live[0].id, live[1].id]
    );

    // Between pages: one ticket already read leaves the stages, another enters them.
    let (signed, event) = apply(
        &live[0],
        &Actor {
            role: Role::Station,
            staff: Some(hotline_core::StaffId::parse("s", "li").unwrap()),
            station: Some(station()),
        },
        Action::SignFor {
            resolution_due: None,
            first_contact_due: None,
        },
        live[0].updated_at + chrono::Duration::minutes(1),
    )
    .unwrap();
    store
        .commit(&signed, std::slice::from_ref(&event))
        .await
        .unwrap();
    let (entered, event) = dispatch(&not_yet);
    store
        .commit(&entered, std::slice::from_ref(&event))
        .await
        .unwrap();

    let mut read: Vec<TicketId> = first.iter().map(|t| t.id).collect();
    let mut after = first.last().map(|t| t.id);
    loop {
        let page = store.live_page(&stages, after, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        read.extend(page.iter().map(|t| t.id));
    }
    let mut expected: Vec<TicketId> = live.iter().map(|t| t.id).chain([entered.id]).collect();
    expected.sort();
    assert_eq!(
        read, expected,
        "every page once, in id order, with the ticket that entered between pages"
    );
    let (mut changed, _) = store.changed_since(&cursor).await.unwrap();
    changed.sort();
    let mut between = vec![signed.id, entered.id];
    between.sort();
    assert_eq!(changed, between, "the catch-up finds both changes");
}

/// Several tickets' changes in one call: the stale one fails alone.
pub async fn a_batch_of_changes_fails_only_the_stale_one<S: TicketStore>(store: S) {
    let a = submit(&store, "批量一", None).await;
    let b = submit(&store, "批量二", None).await;
    let c = submit(&store, "批量三", None).await;
    let (b_now, event) = dispatch(&b);
    store
        .commit(&b_now, std::slice::from_ref(&event))
        .await
        .unwrap();
    // `b` is changed again from the version before: stale.
    let changes: Vec<(Ticket, Vec<hotline_core::Event>)> = [&a, &b, &c]
        .into_iter()
        .map(|t| {
            let (next, event) = dispatch(t);
            (next, vec![event])
        })
        .collect();
    let results = store.commit_many(&changes).await;
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(
        matches!(results[1], Err(StoreError::Conflict { actual: 2, .. })),
        "{:?}",
        results[1]
    );
    assert!(results[2].is_ok(), "{:?}", results[2]);
    let versions = store.versions(&[a.id, b.id, c.id]).await.unwrap();
    assert_eq!(
        (versions[&a.id], versions[&b.id], versions[&c.id]),
        (2, 2, 2)
    );
    assert_eq!(store.events(a.id).await.unwrap().len(), 2);
    assert_eq!(
        store.events(b.id).await.unwrap().len(),
        2,
        "no second dispatch"
    );
    let many = store
        .get_many(&[a.id, c.id, TicketId::new()])
        .await
        .unwrap();
    assert_eq!(many.len(), 2, "unknown ids are left out");
    assert!(many.iter().all(|t| t.stage == Stage::AwaitingSignFor));
    // The audit's pages: by id, a station's tickets of one stage, `limit` at a time.
    let first = store
        .stage_page(Some(&station()), Stage::AwaitingSignFor, None, 2)
        .await
        .unwrap();
    let rest = store
        .stage_page(
            Some(&station()),
            Stage::AwaitingSignFor,
            first.last().map(|t| t.id),
            2,
        )
        .await
        .unwrap();
    let mut paged: Vec<TicketId> = first.iter().chain(&rest).map(|t| t.id).collect();
    assert_eq!(
        (first.len(), rest.len()),
        (2, 1),
        "a, b and c wait at the station"
    );
    assert!(
        paged.windows(2).all(|w| w[0] < w[1]),
        "in id order, each once"
    );
    paged.sort();
    let mut abc = vec![a.id, b.id, c.id];
    abc.sort();
    assert_eq!(paged, abc);
    let anywhere = store
        .stage_page(None, Stage::AwaitingSignFor, None, 10)
        .await
        .unwrap();
    assert_eq!(anywhere.len(), 3, "any station");
    let elsewhere = store
        .stage_page(
            Some(&StationId::parse("s", "nowhere").unwrap()),
            Stage::AwaitingSignFor,
            None,
            10,
        )
        .await
        .unwrap();
    assert!(elsewhere.is_empty(), "another station's page is its own");
    let other_stage = store
        .stage_page(Some(&station()), Stage::InProgress, None, 10)
        .await
        .unwrap();
    assert!(other_stage.is_empty(), "another stage's page is its own");
}

/// Writes `actions` one after another onto a stored ticket, each a minute after the last.
async fn walk<S: TicketStore>(store: &S, ticket: Ticket, steps: Vec<(Actor, Action)>) -> Ticket {
    let mut current = ticket;
    for (actor, action) in steps {
        let at = current.updated_at + chrono::Duration::minutes(1);
        let (next, event) = apply(&current, &actor, action, at).unwrap();
        store
            .commit(&next, std::slice::from_ref(&event))
            .await
            .unwrap();
        current = next;
    }
    current
}

/// Submits a ticket placed in `division` (none when `None`).
async fn submit_in<S: TicketStore>(store: &S, text: &str, division: Option<&str>) -> Ticket {
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let mut new = new_ticket(text, None);
    new.division = division.map(|d| DivisionCode::parse("d", d).unwrap());
    let fingerprint = new.fingerprint();
    let (ticket, event) = open(TicketId::new(), new, operator(), at);
    store
        .create(&ticket, std::slice::from_ref(&event), &fingerprint)
        .await
        .unwrap()
        .into_ticket()
}

pub async fn live_tickets_are_tallied_by_street_and_stage_with_overdue_and_yellow_clocks<
    S: TicketStore,
>(
    store: S,
) {
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let now = start + chrono::Duration::hours(2);
    let hours = |h: i64| Some(start + chrono::Duration::hours(h));
    let css = Actor {
        role: Role::Station,
        staff: None,
        station: Some(station()),
    };
    let dispatch_due = |due| {
        (
            operator(),
            Action::Dispatch {
                station: station(),
                sign_for_due: due,
                note: String::new(),
            },
        )
    };
    let sign_for = |resolution_due, first_contact_due| {
        (
            css.clone(),
            Action::SignFor {
                resolution_due,
                first_contact_due,
            },
        )
    };
    let yellow = || {
        (
            operator(),
            Action::Flag {
                flag: Flag::Warning,
                note: String::new(),
            },
        )
    };
    let community = Some("320508014003");

    // Awaiting sign-for: one past its deadline, one before it with its yellow light on.
    let late = submit_in(&store, "路灯不亮 1", community).await;
    walk(&store, late, vec![dispatch_due(hours(1))]).await;
    let warned = submit_in(&store, "路灯不亮 2", community).await;
    walk(&store, warned, vec![dispatch_due(hours(3)), yellow()]).await;
    // In progress, past both the first-contact and the resolution deadline (its yellow light
    // on too: overdue is not also about to breach).
    let handling = submit_in(&store, "路灯不亮 3", community).await;
    walk(
        &store,
        handling,
        vec![
            dispatch_due(hours(1)),
            sign_for(hours(1), hours(1)),
            yellow(),
        ],
    )
    .await;
    // In progress, as late, but the caller was contacted and the clock is paused: neither
    // clock runs.
    let paused = submit_in(&store, "路灯不亮 4", community).await;
    walk(
        &store,
        paused,
        vec![
            dispatch_due(hours(1)),
            sign_for(hours(1), hours(1)),
            (
                css.clone(),
                Action::ContactCaller {
                    note: String::new(),
                },
            ),
            (
                css.clone(),
                Action::PauseClock {
                    reason: "等待补充材料".into(),
                },
            ),
        ],
    )
    .await;
    // Awaiting callback past its deadline.
    let replied = submit_in(&store, "路灯不亮 5", community).await;
    walk(
        &store,
        replied,
        vec![
            dispatch_due(hours(3)),
            sign_for(hours(30), hours(30)),
            (
                css.clone(),
                Action::Reply {
                    internal_record: "已修复".into(),
                    public_reply: "已修复".into(),
                },
            ),
            (
                operator(),
                Action::Review {
                    approve: true,
                    callback_due: Some(now),
                    note: String::new(),
                },
            ),
        ],
    )
    .await;
    // Without a division; placed only in a district; closed (never counted).
    submit_in(&store, "噪音扰民", None).await;
    submit_in(&store, "噪音扰民 区", Some("320508")).await;
    let closed = submit_in(&store, "窨井盖缺失", Some("320506001001")).await;
    walk(
        &store,
        closed,
        vec![(
            operator(),
            Action::NotAccept {
                advice: "请咨询物业".into(),
            },
        )],
    )
    .await;

    let mut tally = store.live_tally(now).await.unwrap();
    tally.sort_by(|a, b| (&a.territory, a.stage).cmp(&(&b.territory, b.stage)));
    let row = |territory: Option<&str>, stage, tickets, overdue, soon| LiveTally {
        territory: territory.map(str::to_owned),
        stage,
        tickets,
        overdue,
        about_to_breach: soon,
    };
    let none = ClockCounts::default();
    assert_eq!(
        tally,
        vec![
            row(None, Stage::Accepted, 1, none, none),
            row(Some("320508"), Stage::Accepted, 1, none, none),
            row(
                Some("320508014"),
                Stage::AwaitingSignFor,
                2,
                ClockCounts {
                    sign_for: 1,
                    ..none
                },
                ClockCounts {
                    sign_for: 1,
                    ..none
                },
            ),
            row(
                Some("320508014"),
                Stage::InProgress,
                2,
                ClockCounts {
                    first_contact: 1,
                    resolution: 1,
                    ..none
                },
                none,
            ),
            row(
                Some("320508014"),
                Stage::AwaitingCallback,
                1,
                ClockCounts {
                    callback: 1,
                    ..none
                },
                none,
            ),
        ]
    );

    // The same tally read in parts (a stage and a range of codes at a time): each row in
    // exactly one part, whatever the bounds.
    for bounds in [
        vec![],
        vec!["320508".to_owned()],
        vec![
            "320505".to_owned(),
            "320508014".to_owned(),
            "320509".to_owned(),
        ],
    ] {
        let mut parts = Vec::new();
        for stage in Stage::ALL.iter().filter(|s| s.is_live()) {
            for codes in CodeRange::partition(&bounds) {
                parts.extend(store.live_tally_part(now, *stage, &codes).await.unwrap());
            }
        }
        parts.sort_by(|a, b| (&a.territory, a.stage).cmp(&(&b.territory, b.stage)));
        assert_eq!(parts, tally, "in parts split at {bounds:?}");
    }

    // Earlier, before any deadline: the same tickets, nothing overdue; the yellow lights
    // count as about to breach.
    let before = store.live_tally(start).await.unwrap();
    assert_eq!(before.iter().map(|t| t.tickets).sum::<u64>(), 7);
    assert!(before.iter().all(|t| t.overdue == none), "{before:?}");
    let soon: u64 = before
        .iter()
        .map(|t| t.about_to_breach.sign_for + t.about_to_breach.resolution)
        .sum();
    assert_eq!(soon, 2, "{before:?}");
}

/// Overdue and about-to-breach counts summed over every group of a tally.
fn clock_totals(tally: &[LiveTally]) -> (ClockCounts, ClockCounts) {
    let add = |sum: ClockCounts, c: &ClockCounts| ClockCounts {
        sign_for: sum.sign_for + c.sign_for,
        first_contact: sum.first_contact + c.first_contact,
        resolution: sum.resolution + c.resolution,
        callback: sum.callback + c.callback,
    };
    tally.iter().fold(
        (ClockCounts::default(), ClockCounts::default()),
        |(overdue, soon), t| (add(overdue, &t.overdue), add(soon, &t.about_to_breach)),
    )
}

/// The tally reads what the store keeps beside each body, so every write path (a new ticket
/// with its first events, one change, a batch of changes) must keep it in step with the body:
/// each step below changes one thing the tally counts and would leave the tally stale if that
/// write did not carry it.
pub async fn the_tally_follows_each_change_of_a_deadline_flag_contact_or_pause<S: TicketStore>(
    store: S,
) {
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let now = start + chrono::Duration::hours(2);
    let hours = |h: i64| Some(start + chrono::Duration::hours(h));
    let css = Actor {
        role: Role::Station,
        staff: None,
        station: Some(station()),
    };
    let change = |ticket: &Ticket, actor: &Actor, action| {
        let at = ticket.updated_at + chrono::Duration::minutes(1);
        apply(ticket, actor, action, at).unwrap()
    };
    let dispatch_due = |due| Action::Dispatch {
        station: station(),
        sign_for_due: due,
        note: String::new(),
    };
    let sign_for = |due| Action::SignFor {
        resolution_due: due,
        first_contact_due: due,
    };
    let yellow = || Action::Flag {
        flag: Flag::Warning,
        note: String::new(),
    };
    let none = ClockCounts::default();

    // A is created already dispatched (intake's first events in the one write), past due.
    let new = new_ticket("路灯不亮", None);
    let fingerprint = new.fingerprint();
    let (opened, submitted) = open(TicketId::new(), new, operator(), start);
    let (a, dispatched) = change(&opened, &operator(), dispatch_due(hours(1)));
    store
        .create(&a, &[submitted, dispatched], &fingerprint)
        .await
        .unwrap();
    // B is dispatched by a later change, due after now.
    let b = submit(&store, "楼道灯坏了", None).await;
    let (b, event) = change(&b, &operator(), dispatch_due(hours(3)));
    store.commit(&b, &[event]).await.unwrap();
    let sign_for_late = ClockCounts {
        sign_for: 1,
        ..none
    };
    assert_eq!(
        clock_totals(&store.live_tally(now).await.unwrap()),
        (sign_for_late, none)
    );

    // A yellow light raised on B.
    let (b, event) = change(&b, &operator(), yellow());
    store.commit(&b, &[event]).await.unwrap();
    assert_eq!(
        clock_totals(&store.live_tally(now).await.unwrap()),
        (sign_for_late, sign_for_late),
        "B's warning"
    );

    // A signed for with its first-contact and resolution deadlines already past.
    let (a, event) = change(&a, &css, sign_for(hours(1)));
    store.commit(&a, &[event]).await.unwrap();
    let handling_late = ClockCounts {
        first_contact: 1,
        resolution: 1,
        ..none
    };
    assert_eq!(
        clock_totals(&store.live_tally(now).await.unwrap()),
        (handling_late, sign_for_late),
        "A's new deadlines"
    );

    // In one batch: A's caller contacted (its first-contact clock stops); B signed for, its
    // clocks starting anew, which lowers its yellow light.
    let (a, contacted) = change(
        &a,
        &css,
        Action::ContactCaller {
            note: String::new(),
        },
    );
    let (b, signed) = change(&b, &css, sign_for(hours(30)));
    assert!(!b.flags.contains(&Flag::Warning));
    let results = store
        .commit_many(&[(a.clone(), vec![contacted]), (b.clone(), vec![signed])])
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let resolution_late = ClockCounts {
        resolution: 1,
        ..none
    };
    assert_eq!(
        clock_totals(&store.live_tally(now).await.unwrap()),
        (resolution_late, none),
        "A contacted, B's light lowered"
    );

    // A's resolution clock paused: it no longer runs.
    let (a, event) = change(
        &a,
        &css,
        Action::PauseClock {
            reason: "等待补充材料".into(),
        },
    );
    store.commit(&a, &[event]).await.unwrap();
    assert_eq!(
        clock_totals(&store.live_tally(now).await.unwrap()),
        (none, none),
        "A paused"
    );

    // Resumed with its deadline moved past now, then a yellow light: about to breach, not
    // overdue (the old deadline would be overdue, a pause left set would count nothing).
    let (a, event) = change(
        &a,
        &css,
        Action::ResumeClock {
            resolution_due: hours(50),
        },
    );
    store.commit(&a, &[event]).await.unwrap();
    let (a, event) = change(&a, &operator(), yellow());
    store.commit(&a, &[event]).await.unwrap();
    assert!(a.paused.is_none());
    assert_eq!(
        clock_totals(&store.live_tally(now).await.unwrap()),
        (none, resolution_late),
        "A resumed with a later deadline"
    );
}

/// The duplicate check reads its candidates' facts without their bodies.
pub async fn duplicate_facts_are_read_for_the_tickets_that_exist<S: TicketStore>(store: S) {
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let category = hotline_core::CategoryCode::parse("c", "SQ.WYBX").unwrap();
    let mut with_category = new_ticket("楼上漏水", None);
    with_category.category = Some(category.clone());
    let fingerprint = with_category.fingerprint();
    let (leak, event) = open(TicketId::new(), with_category, operator(), at);
    store
        .create(&leak, std::slice::from_ref(&event), &fingerprint)
        .await
        .unwrap();
    let nowhere = submit_in(&store, "噪音扰民", None).await;
    let (closed, event) = apply(
        &nowhere,
        &operator(),
        Action::NotAccept {
            advice: "非本市事项".into(),
        },
        at,
    )
    .unwrap();
    store.commit(&closed, &[event]).await.unwrap();

    let unknown = TicketId::new();
    let mut facts = store
        .duplicate_facts(&[leak.id, closed.id, unknown])
        .await
        .unwrap();
    facts.sort_by_key(|f| f.id);
    let expected = |t: &Ticket| CandidateFacts {
        id: t.id,
        stage: t.stage,
        division: t.division.clone(),
        category: t.category.clone(),
        created_at: t.created_at,
        text: t.text.clone(),
    };
    let mut want = vec![expected(&leak), expected(&closed)];
    want.sort_by_key(|f| f.id);
    assert_eq!(facts, want);
    assert!(facts.iter().any(|f| f.category == Some(category.clone())));
    assert!(store.duplicate_facts(&[]).await.unwrap().is_empty());
}

fn vote<'a>(
    alias: &'a str,
    division: &'a DivisionCode,
    ticket: TicketId,
    minute: u32,
) -> AliasVote<'a> {
    AliasVote {
        alias,
        spoken: alias,
        division,
        ticket,
        staff: "sup-1",
        at: Utc.with_ymd_and_hms(2026, 3, 2, 9, minute, 0).unwrap(),
    }
}

pub async fn a_correction_proposes_an_alias_and_each_ticket_agrees_once<
    S: TicketStore + AliasStore,
>(
    store: S,
) {
    let community = DivisionCode::parse("c", "320508020024").unwrap();
    let (first, second) = (TicketId::new(), TicketId::new());
    let proposal = store
        .propose_alias(&vote("金狮大厦", &community, first, 0))
        .await
        .unwrap();
    assert_eq!(proposal.agreeing, 1);
    assert_eq!(proposal.status, AliasStatus::Proposed);
    assert_eq!(proposal.spoken, "金狮大厦");
    // The same ticket corrected again does not count twice.
    let again = store
        .propose_alias(&vote("金狮大厦", &community, first, 1))
        .await
        .unwrap();
    assert_eq!(again.agreeing, 1);
    let proposal = store
        .propose_alias(&vote("金狮大厦", &community, second, 2))
        .await
        .unwrap();
    assert_eq!(proposal.agreeing, 2);
    assert!(proposal.last_at > proposal.first_at);
    // Offered only from the configured count.
    assert!(store
        .alias_proposals(AliasStatus::Proposed, 3)
        .await
        .unwrap()
        .is_empty());
    let offered = store
        .alias_proposals(AliasStatus::Proposed, 2)
        .await
        .unwrap();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].division, community);
}

pub async fn concurrent_corrections_are_all_counted<S: TicketStore + AliasStore>(store: S) {
    let store = std::sync::Arc::new(store);
    let community = DivisionCode::parse("c", "320508020024").unwrap();
    let mut tasks = Vec::new();
    for minute in 0..8u32 {
        let store = store.clone();
        let community = community.clone();
        tasks.push(tokio::spawn(async move {
            // SQLite allows one writer: a busy file is retried by the pool's busy timeout.
            store
                .propose_alias(&vote("金狮大厦", &community, TicketId::new(), minute))
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let offered = store
        .alias_proposals(AliasStatus::Proposed, 1)
        .await
        .unwrap();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].agreeing, 8);
}

pub async fn a_supervisor_confirms_one_community_for_an_alias_and_rejects_others<
    S: TicketStore + AliasStore,
>(
    store: S,
) {
    let jinshi = DivisionCode::parse("c", "320508020024").unwrap();
    let daoqian = DivisionCode::parse("c", "320508020025").unwrap();
    for minute in 0..3 {
        store
            .propose_alias(&vote("金狮大厦", &jinshi, TicketId::new(), minute))
            .await
            .unwrap();
    }
    store
        .propose_alias(&vote("金狮大厦", &daoqian, TicketId::new(), 5))
        .await
        .unwrap();
    let rivals = store.alias_rivals("金狮大厦").await.unwrap();
    assert_eq!(
        rivals
            .iter()
            .map(|r| (r.division.as_str(), r.agreeing))
            .collect::<Vec<_>>(),
        vec![("320508020024", 3), ("320508020025", 1)]
    );

    let at = Utc.with_ymd_and_hms(2026, 3, 3, 10, 0, 0).unwrap();
    let confirmed = match store
        .decide_alias("金狮大厦", &jinshi, AliasStatus::Confirmed, "sup-1", at)
        .await
        .unwrap()
    {
        Decided::Done(p) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(confirmed.status, AliasStatus::Confirmed);
    assert_eq!(confirmed.decided_by.as_deref(), Some("sup-1"));
    assert_eq!(confirmed.decided_at, Some(at));
    // Deciding twice: the first decision stands.
    assert!(matches!(
        store
            .decide_alias("金狮大厦", &jinshi, AliasStatus::Rejected, "sup-2", at)
            .await
            .unwrap(),
        Decided::NotPending(p) if p.status == AliasStatus::Confirmed
    ));
    // The rival cannot be confirmed as well, but can be rejected.
    assert!(matches!(
        store
            .decide_alias("金狮大厦", &daoqian, AliasStatus::Confirmed, "sup-2", at)
            .await
            .unwrap(),
        Decided::Taken(p) if p.division == jinshi
    ));
    assert!(matches!(
        store
            .decide_alias("金狮大厦", &daoqian, AliasStatus::Rejected, "sup-2", at)
            .await
            .unwrap(),
        Decided::Done(p) if p.status == AliasStatus::Rejected
    ));
    assert_eq!(
        store
            .decide_alias("无此别名", &jinshi, AliasStatus::Confirmed, "sup-2", at)
            .await
            .unwrap(),
        Decided::NotFound
    );
    // What the resolver loads at start-up.
    let confirmed = store
        .alias_proposals(AliasStatus::Confirmed, 0)
        .await
        .unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].division, jinshi);
    assert!(store
        .alias_proposals(AliasStatus::Proposed, 0)
        .await
        .unwrap()
        .is_empty());
}

async fn act<S: TicketStore>(store: &S, ticket: &Ticket, action: Action) -> Ticket {
    let at = ticket.updated_at + chrono::Duration::minutes(1);
    let (next, event) = apply(ticket, &operator(), action, at).unwrap();
    store
        .commit(&next, std::slice::from_ref(&event))
        .await
        .unwrap();
    next
}

pub async fn an_incident_opens_once_and_keeps_its_latest_notice_reply_and_closing<
    S: TicketStore + IncidentStore,
>(
    store: S,
) {
    let lead = submit(&store, "整条街停水了", None).await;
    let id = IncidentId::led_by(lead.id);
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 5, 0).unwrap();
    let opened = store.open_incident(id, "router", at).await.unwrap();
    assert_eq!((opened.id, opened.opened_at), (id, at));
    assert_eq!((opened.notice.clone(), opened.reply.clone()), (None, None));
    // A second opening (another replica, later) returns the first.
    let again = store
        .open_incident(id, "other", at + chrono::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(again, opened);
    for (minute, text) in [(10, "抢修中"), (20, "预计18时恢复供水")] {
        let note = IncidentNote {
            text: text.into(),
            by: "sup-1".into(),
            at: at + chrono::Duration::minutes(minute),
        };
        let posted = store
            .post_incident_notice(id, &note)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(posted.notice, Some(note));
    }
    let reply = IncidentNote {
        text: "已恢复供水".into(),
        by: "sup-1".into(),
        at: at + chrono::Duration::minutes(30),
    };
    let replied = store
        .record_incident_reply(id, &reply)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replied.reply, Some(reply));
    assert_eq!(
        replied.notice.unwrap().text,
        "预计18时恢复供水",
        "the latest notice"
    );
    assert_eq!(store.incidents(false, 10).await.unwrap().len(), 1);
    let closing = IncidentNote {
        text: String::new(),
        by: "sup-2".into(),
        at: at + chrono::Duration::minutes(40),
    };
    let closed = store.close_incident(id, &closing).await.unwrap().unwrap();
    assert_eq!(closed.closed, Some(closing.clone()));
    let later = IncidentNote {
        at: closing.at + chrono::Duration::minutes(1),
        ..closing
    };
    let still = store.close_incident(id, &later).await.unwrap().unwrap();
    assert_eq!(still.closed, closed.closed, "the first closing stands");
    assert!(store.incidents(false, 10).await.unwrap().is_empty());
    assert_eq!(store.incidents(true, 10).await.unwrap().len(), 1);
    let unknown = IncidentId::led_by(TicketId::new());
    assert_eq!(store.incident(unknown).await.unwrap(), None);
    assert_eq!(
        store.post_incident_notice(unknown, &later).await.unwrap(),
        None
    );
}

pub async fn an_incident_s_tickets_are_the_ones_that_name_it_lead_first<
    S: TicketStore + IncidentStore,
>(
    store: S,
) {
    let lead = submit(&store, "整条街停水了", None).await;
    let id = IncidentId::led_by(lead.id);
    store.open_incident(id, "router", Utc::now()).await.unwrap();
    let mut members = Vec::new();
    for text in ["家里没水", "自来水停了", "小区停水"] {
        let ticket = submit(&store, text, None).await;
        members.push(act(&store, &ticket, Action::JoinIncident { incident: id }).await);
    }
    let bystander = submit(&store, "路灯不亮", None).await;
    // The lead records the incident after its members joined: it still comes first.
    act(&store, &lead, Action::LeadIncident { incident: id }).await;
    let tickets = store.incident_tickets(id).await.unwrap();
    let ids: Vec<TicketId> = tickets.iter().map(|t| t.id).collect();
    assert_eq!(ids[0], lead.id);
    assert_eq!(ids.len(), 4);
    assert!(!ids.contains(&bystander.id));
    assert!(tickets[1..].iter().all(|t| t.stage == Stage::Merged));
    assert_eq!(store.incident(id).await.unwrap().unwrap().tickets, 4);
    // A member split out no longer names it.
    act(
        &store,
        &members[0],
        Action::LeaveIncident {
            incident: id,
            note: "另一处漏水".into(),
        },
    )
    .await;
    assert_eq!(store.incident_tickets(id).await.unwrap().len(), 3);
    assert_eq!(store.incident(id).await.unwrap().unwrap().tickets, 3);
}

macro_rules! behaviour_suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            behaviour_suite!(@tests $make;
                a_created_ticket_reads_back_with_its_submit_event,
                a_retried_submit_with_the_same_request_id_returns_the_first_ticket,
                a_request_id_reused_for_different_text_is_refused,
                a_change_writes_the_ticket_and_one_event,
                two_changes_from_the_same_version_cannot_both_win,
                a_change_to_an_unknown_ticket_is_not_found,
                the_event_log_replays_to_the_stored_ticket,
                search_filters_by_stage_station_division_and_text_newest_first,
                tickets_by_stage_lists_what_belongs_on_queues,
                several_events_commit_together_or_not_at_all,
                live_tickets_of_a_territory_and_category_are_listed_for_duplicate_checks,
                concurrent_submits_each_get_their_own_answer,
                changes_committed_after_a_snapshot_are_found_each_once,
                live_pages_give_each_ticket_once_and_the_cursor_covers_changes_between_them,
                a_batch_of_changes_fails_only_the_stale_one,
                live_tickets_are_tallied_by_street_and_stage_with_overdue_and_yellow_clocks,
                the_tally_follows_each_change_of_a_deadline_flag_contact_or_pause,
                duplicate_facts_are_read_for_the_tickets_that_exist,
                a_correction_proposes_an_alias_and_each_ticket_agrees_once,
                concurrent_corrections_are_all_counted,
                a_supervisor_confirms_one_community_for_an_alias_and_rejects_others,
                an_incident_opens_once_and_keeps_its_latest_notice_reply_and_closing,
                an_incident_s_tickets_are_the_ones_that_name_it_lead_first,
                a_search_by_phone_or_integrator_finds_only_their_tickets,
            );
        }
    };
    (@tests $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                #[allow(unused_variables)]
                let (store, guard) = $make;
                super::$name(store).await;
            }
        )+
    };
}

behaviour_suite!(
    sqlite,
    hotline_store::testing::fresh_sqlite().await.unwrap()
);
behaviour_suite!(
    postgres,
    (hotline_store::testing::fresh_postgres().await.unwrap(), ())
);
