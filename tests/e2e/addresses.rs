//! Addresses as callers say them (issue 16), over gRPC: the address book routes a road and
//! house number, and a territory correction repeated on three tickets becomes an alias a
//! supervisor confirms; a new ticket is then resolved by it at once, and after a restart.

use hotline_proto::v1 as pb;

use crate::support::*;

/// 金狮社区 (姑苏区沧浪街道): where staff keep correcting 锦绣大厦's tickets to.
const JINSHI: &str = "320508020024";

fn book_path() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/territory/tests/fixtures/address_book_synthetic.csv")
        .display()
        .to_string()
}

async fn app_with_book(backend: Backend) -> TestApp {
    let mut argv = vec![
        "--address-book".to_owned(),
        book_path(),
        "--alias-min-agreeing".to_owned(),
        "3".to_owned(),
    ];
    if let Backend::Postgres = backend {
        argv.extend([
            "--database-url".to_owned(),
            hotline_store::testing::fresh_postgres_url()
                .await
                .expect("fresh postgres database"),
        ]);
    }
    TestApp::spawn_with(argv, hotline_core::ManualClock::new(TestApp::start_time())).await
}

async fn routed(app: &TestApp, text: &str, address: &str) -> pb::Ticket {
    let mut request = submit_request(text, None);
    request.hold = false;
    request.address = address.into();
    // The harness's request names 沧浪亭社区: here the router has to find the territory.
    request.division_code = String::new();
    app.intake_as(&operator())
        .await
        .submit_ticket(request)
        .await
        .expect("submit")
        .into_inner()
        .ticket
        .unwrap()
}

fn territory(ticket: &pb::Ticket) -> pb::TerritoryMatch {
    ticket
        .route
        .as_ref()
        .and_then(|r| r.territory.clone())
        .expect("a routed ticket explains its territory")
}

async fn correct(app: &TestApp, ticket: &pb::Ticket, division: &str) {
    app.supervision_as(&operator())
        .await
        .reclassify(pb::ReclassifyRequest {
            ticket_id: ticket.id.clone(),
            division_code: division.into(),
            ..Default::default()
        })
        .await
        .expect("territory correction");
}

async fn proposals(app: &TestApp, who: &Who) -> Vec<pb::AliasProposal> {
    app.supervision_as(who)
        .await
        .list_alias_proposals(pb::ListAliasProposalsRequest::default())
        .await
        .expect("list proposals")
        .into_inner()
        .proposals
}

async fn decide(
    app: &TestApp,
    who: &Who,
    alias: &str,
    division: &str,
    confirm: bool,
) -> Result<pb::AliasProposal, tonic::Status> {
    app.supervision_as(who)
        .await
        .decide_alias(pb::DecideAliasRequest {
            alias: alias.into(),
            division_code: division.into(),
            confirm,
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn a_road_and_house_number_route_by_the_address_book(backend: Backend) {
    let app = app_with_book(backend).await;
    let ticket = routed(&app, "楼道里的路灯坏了三天了", "十全街88号2幢").await;
    assert_eq!(ticket.division_code, "320508021034");
    let why = territory(&ticket);
    assert_eq!(why.how, "address:book_road");
    assert!(
        why.reason.contains("十全街 2-100 双号") && why.reason.contains("confidence 0.95"),
        "{}",
        why.reason
    );
    // A typo, with less confidence, said so.
    let ticket = routed(&app, "小区门口垃圾没人清理", "南园新材5幢").await;
    assert_eq!(ticket.division_code, "320508021021");
    let why = territory(&ticket);
    assert_eq!(why.how, "address:book_name");
    assert!(
        why.reason
            .contains("typo, 1 character off, confidence 0.75"),
        "{}",
        why.reason
    );
}

async fn three_agreeing_corrections_and_a_confirmation_teach_the_resolver(backend: Backend) {
    let mut app = app_with_book(backend).await;
    let address = "姑苏区锦绣大厦3号楼";
    let texts = [
        "楼道灯坏了好几天",
        "楼下饭店油烟很大",
        "电梯经常停运",
        "小区门口的井盖松动了",
    ];
    // Before: only the district is known.
    let first = routed(&app, texts[0], address).await;
    assert_eq!(first.division_code, "320508");
    correct(&app, &first, JINSHI).await;
    let second = routed(&app, texts[1], "姑苏区锦绣大厦5幢").await;
    correct(&app, &second, JINSHI).await;
    // Correcting the same ticket again does not agree twice.
    correct(&app, &second, JINSHI).await;
    assert!(
        proposals(&app, &supervisor()).await.is_empty(),
        "two corrections are not enough"
    );
    let third = routed(&app, texts[2], "姑苏区 锦绣大厦 十二栋").await;
    correct(&app, &third, JINSHI).await;

    let listed = proposals(&app, &supervisor()).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let proposal = &listed[0];
    assert_eq!(proposal.alias, "锦绣大厦");
    assert_eq!(proposal.division_code, JINSHI);
    assert_eq!(proposal.division_path, "姑苏区沧浪街道金狮社区");
    assert_eq!(proposal.agreeing, 3);
    assert_eq!(proposal.status, pb::AliasStatus::Proposed as i32);

    // Only supervisors, and only of the community's territory.
    let err = app
        .supervision_as(&operator())
        .await
        .list_alias_proposals(pb::ListAliasProposalsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let err = decide(&app, &operator(), "锦绣大厦", JINSHI, true)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let err = pb::supervision_client::SupervisionClient::new(app.anonymous())
        .decide_alias(pb::DecideAliasRequest {
            alias: "锦绣大厦".into(),
            division_code: JINSHI.into(),
            confirm: true,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let huqiu = supervisor_of("320505", "sup-huqiu");
    assert!(proposals(&app, &huqiu).await.is_empty());
    let err = decide(&app, &huqiu, "锦绣大厦", JINSHI, true)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert!(err.message().contains(JINSHI), "{}", err.message());
    // Bad requests say what to fix.
    let err = decide(&app, &supervisor(), "锦绣大厦", "", true)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("division_code"), "{}", err.message());
    let err = decide(&app, &supervisor(), "锦绣花园", JINSHI, true)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    assert!(
        err.message().contains("ListAliasProposals"),
        "{}",
        err.message()
    );

    // Not yet an alias: a new call from there still knows only the district.
    let before = routed(&app, texts[3], "姑苏区锦绣大厦7幢").await;
    assert_eq!(before.division_code, "320508");

    let gusu = supervisor_of("320508", "sup-gusu");
    let confirmed = decide(&app, &gusu, "锦绣大厦", JINSHI, true).await.unwrap();
    assert_eq!(confirmed.status, pb::AliasStatus::Confirmed as i32);
    assert_eq!(confirmed.decided_by, "sup-gusu");
    let err = decide(&app, &supervisor(), "锦绣大厦", JINSHI, false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(
        err.message().contains("already confirmed"),
        "{}",
        err.message()
    );
    assert!(proposals(&app, &supervisor()).await.is_empty());

    // Used at once, with the match kind and confidence in the explanation.
    let after = routed(&app, "锦绣大厦门口路面塌陷", "锦绣大厦七号楼").await;
    assert_eq!(after.division_code, JINSHI);
    let why = territory(&after);
    assert_eq!(why.how, "address:learned_alias");
    assert!(
        why.reason.contains("confirmed by a supervisor") && why.reason.contains("confidence 0.90"),
        "{}",
        why.reason
    );

    // And after a restart, from the store.
    app.restart().await;
    let again = routed(&app, "锦绣大厦楼顶漏水", "锦绣大厦1幢").await;
    assert_eq!(again.division_code, JINSHI);
    assert_eq!(territory(&again).how, "address:learned_alias");
    let confirmed = app
        .supervision_as(&supervisor())
        .await
        .list_alias_proposals(pb::ListAliasProposalsRequest {
            status: pb::AliasStatus::Confirmed as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .proposals;
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].agreeing, 3);
}

/// A bad book stops the router at start-up, naming the file's line and what to fix.
#[tokio::test]
async fn a_router_refuses_to_start_on_a_bad_address_book() {
    let dir = hotline_store::testing::TempDir::new();
    let path = dir.path().join("book.csv");
    std::fs::write(
        &path,
        "# a comment\nkind,name,range,parity,community,aliases\nroad,十全街,99-1,单号,320508021019,\n",
    )
    .unwrap();
    let args = hotline_router::config::ServeArgs::parse_from([
        "--address-book".to_owned(),
        path.display().to_string(),
    ])
    .unwrap();
    let directory = hotline_router::server::load_directory(&args).unwrap();
    let err = hotline_router::server::load_routing(&args, &directory)
        .err()
        .expect("refused");
    let message = format!("{err:#}");
    assert!(
        message.contains("HOTLINE_ADDRESS_BOOK")
            && message.contains("book.csv:3: bad range `99-1`"),
        "{message}"
    );
    // A bad flag value is refused too.
    assert!(hotline_router::config::ServeArgs::parse_from(["--alias-min-agreeing", "0"]).is_err());
}

/// An unknown status in ListAliasProposals is INVALID_ARGUMENT, naming the field.
#[tokio::test]
async fn an_unknown_alias_status_is_invalid() {
    let app = app_with_book(Backend::Sqlite).await;
    let err = app
        .supervision_as(&supervisor())
        .await
        .list_alias_proposals(pb::ListAliasProposalsRequest { status: 99 })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("status"), "{}", err.message());
}

on_both_backends!(
    a_road_and_house_number_route_by_the_address_book,
    three_agreeing_corrections_and_a_confirmation_teach_the_resolver,
);
