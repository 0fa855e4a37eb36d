//! What operations staff and integrators rely on: reflection, health, the directory, search.

use hotline_proto::v1 as pb;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;

use crate::support::*;

pub async fn reflection_lists_every_service(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = ServerReflectionClient::new(app.channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("expected a service list, got {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "hotline.v1.Intake",
        "hotline.v1.Station",
        "hotline.v1.Supervision",
        "hotline.v1.Directory",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
}

/// The older reflection protocol, the only one Python's grpcio-reflection and older grpcurl
/// speak, lists the same services.
pub async fn reflection_v1alpha_lists_every_service_too(backend: Backend) {
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    let app = TestApp::spawn(backend).await;
    let mut client = ServerReflectionClient::new(app.channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("v1alpha is served")
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("expected a service list, got {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "hotline.v1.Intake",
        "hotline.v1.Supervision",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
}

pub async fn health_reports_serving(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(app.channel.clone());
    for service in ["", "hotline.v1.Intake", "hotline.v1.Station"] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service:?}"
        );
    }
}

pub async fn the_directory_lists_suzhou_and_its_stations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let districts = app
        .directory()
        .await
        .list_divisions(pb::ListDivisionsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .divisions;
    assert_eq!(districts.len(), 10);
    assert!(districts.iter().any(|d| d.name == "姑苏区"));
    let stations = app
        .directory()
        .await
        .list_stations(pb::ListStationsRequest {
            division_code: "320508021019".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .stations;
    let ids: Vec<&str> = stations.iter().map(|s| s.id.as_str()).collect();
    assert!(ids.contains(&COMMUNITY_CSS), "{ids:?}");
    assert_eq!(
        stations.len(),
        4,
        "五室三站: three stations and the police room"
    );
}

pub async fn search_pages_newest_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.submit(&format!("第{n}件：路灯坏了"), None).await.id);
    }
    ids.reverse();
    let page = |token: String| pb::SearchTicketsRequest {
        limit: 2,
        page_token: token,
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let resp = app
            .intake()
            .await
            .search_tickets(page(token))
            .await
            .unwrap()
            .into_inner();
        seen.extend(resp.tickets.into_iter().map(|t| t.id));
        if resp.next_page_token.is_empty() {
            break;
        }
        token = resp.next_page_token;
    }
    assert_eq!(seen, ids);
}

on_both_backends!(
    reflection_lists_every_service,
    reflection_v1alpha_lists_every_service_too,
    health_reports_serving,
    the_directory_lists_suzhou_and_its_stations,
    search_pages_newest_first,
);
