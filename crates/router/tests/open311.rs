//! Open311 in-process: what an anonymous reader may and may not see, one integrator against
//! another, and the XML and error shapes. (tests/clients/open311_clients.py drives the real
//! binary with the PyPI `georeport` client and form posts.)

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use hotline_identity::{
    ApiKeyGrant, DisplayName, LoginName, NewAccount, Password, Role, RpcName, Scope,
};
use tower::ServiceExt;

struct App {
    router: axum::Router,
    _dir: tempfile::TempDir,
    keys: Vec<String>,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let args =
        hotline_router::config::ServeArgs::parse_from(["--data-dir", dir.path().to_str().unwrap()])
            .unwrap();
    let hotline = hotline_router::server::build(&args, Arc::new(hotline_core::SystemClock))
        .await
        .unwrap();
    let identity = hotline.identity().unwrap().clone();
    let rpcs: Vec<RpcName> = hotline_identity::INTEGRATOR_RPCS
        .iter()
        .map(|r| RpcName::parse("r", r).unwrap())
        .collect();
    let mut keys = Vec::new();
    for login in ["portal-a", "portal-b"] {
        identity
            .add_account(NewAccount {
                login: LoginName::parse("l", login).unwrap(),
                display_name: DisplayName::parse("n", login).unwrap(),
                role: Role::Integrator,
                scope: Scope::Integrator {
                    channels: vec![hotline_core::Channel::Web],
                    rpcs: rpcs.clone(),
                },
                password: Password::parse("p", "a-long-password").unwrap(),
            })
            .await
            .unwrap();
        let issued = identity
            .issue_api_key(
                &LoginName::parse("l", login).unwrap(),
                ApiKeyGrant {
                    channels: vec![hotline_core::Channel::Web],
                    rpcs: rpcs.clone(),
                    per_minute: 1000,
                },
            )
            .await
            .unwrap();
        keys.push(issued.key);
    }
    App {
        router: hotline_router::open311::routes(hotline),
        _dir: dir,
        keys,
    }
}

async fn call(app: &App, method: &str, uri: &str, form: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn form(fields: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(fields).unwrap()
}

async fn create(app: &App, key: &str, extra: &[(&str, &str)]) -> String {
    let mut fields = vec![
        ("api_key", key),
        ("service_code", "SQ.WYBX"),
        ("address_string", "姑苏区双塔街道沧浪亭社区"),
        ("description", "楼上漏水，物业不修"),
        ("phone", "13912345678"),
    ];
    fields.extend_from_slice(extra);
    let (status, body) = call(app, "POST", "/open311/v2/requests.json", &form(&fields)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).unwrap();
    created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_readers_see_public_fields_and_integrators_their_own_requests() {
    let app = app().await;
    let (a, b) = (app.keys[0].clone(), app.keys[1].clone());
    let open = create(&app, &a, &[]).await;
    let secret = create(&app, &a, &[("attribute[confidential]", "true")]).await;
    let report = create(&app, &a, &[("attribute[nature]", "report")]).await;

    // Anonymous: the open request without the citizen's words, address or phone...
    let (status, body) = call(
        &app,
        "GET",
        &format!("/open311/v2/requests/{open}.json"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let read: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(read[0]["status"], "open");
    assert!(read[0].get("description").is_none(), "{body}");
    assert!(
        !body.contains("13912345678") && !body.contains("漏水"),
        "{body}"
    );
    // ...and neither a confidential caller's request nor a 举报 at all.
    for hidden in [&secret, &report] {
        let (status, _) = call(
            &app,
            "GET",
            &format!("/open311/v2/requests/{hidden}.json"),
            "",
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (_, listed) = call(&app, "GET", "/open311/v2/requests.json", "").await;
    assert!(
        listed.contains(&open) && !listed.contains(&secret) && !listed.contains(&report),
        "{listed}"
    );

    // The integrator that made them reads them in full; another one does not see them.
    let (status, mine) = call(
        &app,
        "GET",
        &format!("/open311/v2/requests/{secret}.json?api_key={a}"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(mine.contains("漏水"), "{mine}");
    let (status, theirs) = call(
        &app,
        "GET",
        &format!("/open311/v2/requests/{open}.json?api_key={b}"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{theirs}");

    // XML, with the same shapes, and errors in Open311's format.
    let (status, xml) = call(&app, "GET", &format!("/open311/v2/requests/{open}.xml"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        xml.starts_with("<?xml") && xml.contains("<service_requests><request>"),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("<service_request_id>{open}</service_request_id>")),
        "{xml}"
    );
    assert!(xml.contains("<status>open</status>"), "{xml}");
    let (status, err) = call(
        &app,
        "POST",
        "/open311/v2/requests.xml",
        &form(&[("api_key", "hk_nope"), ("service_code", "SQ.WYBX")]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        err.contains("<errors><error><code>403</code><description>"),
        "{err}"
    );
    let (status, err) = call(
        &app,
        "POST",
        "/open311/v2/requests.json",
        &form(&[("api_key", &a), ("service_code", "SQ.WYBX")]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err.contains("location"), "{err}");
    let (status, err) = call(&app, "GET", "/open311/v2/requests.json?start_date=2026-02-01T00:00:00%2B08:00&end_date=2026-01-01T00:00:00%2B08:00", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err.contains("start_date"), "{err}");
    let (status, _) = call(&app, "DELETE", "/open311/v2/requests.json", "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    // Markup in the citizen's words is text in XML, never markup.
    let tagged = create(&app, &a, &[("description", "<b>路灯</b> & \"坏了\"")]).await;
    let (_, xml) = call(
        &app,
        "GET",
        &format!("/open311/v2/requests/{tagged}.xml?api_key={a}"),
        "",
    )
    .await;
    assert!(
        xml.contains("&lt;b&gt;路灯&lt;/b&gt; &amp; &quot;坏了&quot;"),
        "{xml}"
    );
}
