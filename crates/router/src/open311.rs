//! Open311 GeoReport v2 at `/open311/v2/` on the HTTP listener, in JSON and XML: the services
//! (the taxonomy's categories), their definitions, creating a request (an integrator's API key),
//! reading requests, and tokens. An adapter like the gRPC ones: it calls the engine as the
//! principal the key proves, so the identity issue's scope rules hold here too.
//!
//! # Decisions
//! - Paths are parsed by hand from one wildcard route, so the quirks of real clients work: a
//!   `.json` / `.xml` suffix or `format=`, the singular `service/{code}`, `//` in a path, an
//!   empty `jurisdiction_id=` (any jurisdiction is accepted: the router serves one city).
//! - `POST requests` needs `api_key`; reading works without one, as the spec's public reads do,
//!   but an anonymous reader sees the public fields only (id, service, status and its notes,
//!   times, agency): never the citizen's words, address, point or contact, and never a
//!   confidential caller's or a 举报 ticket at all. With a key, an integrator reads its own
//!   requests in full.
//! - Statuses are `open` and `closed`, as the spec says; the 12345 stage goes in `status_notes`
//!   and in the extension field `hotline_stage`, as FixMyStreet does.
//! - Ids are strings; a single request comes back as a one-element array; times are ISO 8601
//!   with the `+08:00` offset.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use chrono::{DateTime, Utc};
use hotline_core::{
    CategoryCode, Channel, DivisionCode, GeoPoint, Nature, NewTicket, Stage, Ticket, TicketId,
    Urgency,
};
use hotline_identity::{Authenticator, Credential, Principal, Scope};
use hotline_store::SearchQuery;
use serde_json::{json, Value};

use crate::access;
use crate::error::RouterError;
use crate::routing::Hints;
use crate::tickets::{Disposition, Hotline};

/// The Open311 routes, to nest under `/open311/v2`.
pub fn routes(hotline: Hotline) -> Router {
    Router::new()
        .route("/open311/v2", any(dispatch_root))
        .route("/open311/v2/", any(dispatch_root))
        .route("/open311/v2/{*rest}", any(dispatch))
        .with_state(hotline)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// An Open311 error: its HTTP status and description.
struct Problem {
    status: StatusCode,
    description: String,
}

impl Problem {
    fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
        }
    }
}

impl From<RouterError> for Problem {
    fn from(err: RouterError) -> Self {
        use crate::error::ErrorCode as C;
        let status = match err.code() {
            C::InvalidArgument | C::FailedPrecondition | C::Aborted => StatusCode::BAD_REQUEST,
            C::NotFound => StatusCode::NOT_FOUND,
            C::PermissionDenied => StatusCode::FORBIDDEN,
            C::AlreadyExists => StatusCode::CONFLICT,
            C::Unauthenticated => StatusCode::FORBIDDEN,
            C::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            C::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            C::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let description = match &err {
            RouterError::Internal(cause) => {
                crate::logging::error_line_summarised("open311", &crate::logging::describe(cause));
                "internal error; it has been logged".to_owned()
            }
            other => other.to_string(),
        };
        Self::new(status, description)
    }
}

/// The request's parameters: the query string, then a form body (a key in both: the body's).
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

async fn dispatch_root(
    State(hotline): State<Hotline>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    handle(hotline, method, String::new(), query, body).await
}

async fn dispatch(
    State(hotline): State<Hotline>,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    handle(hotline, method, rest, query, body).await
}

async fn handle(
    hotline: Hotline,
    method: Method,
    rest: String,
    query: Option<String>,
    body: Bytes,
) -> Response {
    let mut params: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    if method == Method::POST {
        match serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
            Ok(form) => params.extend(form),
            Err(e) => {
                return render_problem(
                    Format::Json,
                    &Problem::new(
                        StatusCode::BAD_REQUEST,
                        format!("the form body does not parse: {e}"),
                    ),
                )
            }
        }
    }
    let params = Params(params);
    // `//` and a trailing `/` are tolerated: empty segments are dropped.
    let mut segments: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let mut format = match params.get("format") {
        Some(f) if f.eq_ignore_ascii_case("xml") => Format::Xml,
        _ => Format::Json,
    };
    if let Some(last) = segments.last_mut() {
        for (suffix, f) in [(".json", Format::Json), (".xml", Format::Xml)] {
            if let Some(stripped) = last.strip_suffix(suffix) {
                *last = stripped.to_owned();
                format = f;
            }
        }
    }
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let result = match (&method, segments.as_slice()) {
        (&Method::GET, ["services"]) => services(&hotline),
        (&Method::GET, ["services" | "service", code]) => service_definition(&hotline, code),
        (&Method::POST, ["requests"]) => create_request(&hotline, &params).await,
        (&Method::GET, ["requests"]) => list_requests(&hotline, &params).await,
        (&Method::GET, ["requests" | "request", id]) => one_request(&hotline, &params, id).await,
        (&Method::GET, ["tokens", value]) => token(&hotline, &params, value).await,
        (&Method::GET, ["discovery"] | []) => Ok(discovery()),
        (_, ["services" | "service" | "requests" | "request" | "tokens" | "discovery", ..]) => {
            Err(Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not allowed here"),
            ))
        }
        _ => Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("no Open311 resource at /open311/v2/{rest}; see /open311/v2/discovery.json"),
        )),
    };
    match result {
        Ok(document) => render(format, &document),
        Err(problem) => render_problem(format, &problem),
    }
}

/// A response document: the JSON value and the XML root and item names.
struct Document {
    json: Value,
    xml_root: &'static str,
    xml_item: &'static str,
}

fn render(format: Format, doc: &Document) -> Response {
    match format {
        Format::Json => (
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            doc.json.to_string(),
        )
            .into_response(),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
            let _ = write!(out, "<{}>", doc.xml_root);
            match &doc.json {
                Value::Array(items) => {
                    for item in items {
                        xml_value(&mut out, doc.xml_item, item);
                    }
                }
                other => xml_fields(&mut out, other),
            }
            let _ = write!(out, "</{}>", doc.xml_root);
            ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], out).into_response()
        }
    }
}

fn render_problem(format: Format, problem: &Problem) -> Response {
    let json = json!([{ "code": problem.status.as_u16(), "description": problem.description }]);
    let mut response = render(
        format,
        &Document {
            json,
            xml_root: "errors",
            xml_item: "error",
        },
    );
    *response.status_mut() = problem.status;
    response
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// `<name>…</name>` for one value: objects become their fields, arrays repeat a singular
/// element (`attributes` -> `attribute`, `values` -> `value`), scalars become text.
fn xml_value(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => {
            let _ = write!(out, "<{name}/>");
        }
        Value::Object(_) => {
            let _ = write!(out, "<{name}>");
            xml_fields(out, value);
            let _ = write!(out, "</{name}>");
        }
        Value::Array(items) => {
            let _ = write!(out, "<{name}>");
            let item = name.strip_suffix('s').unwrap_or(name);
            for v in items {
                xml_value(out, item, v);
            }
            let _ = write!(out, "</{name}>");
        }
        Value::String(s) => {
            let _ = write!(out, "<{name}>{}</{name}>", xml_escape(s));
        }
        other => {
            let _ = write!(out, "<{name}>{other}</{name}>");
        }
    }
}

fn xml_fields(out: &mut String, value: &Value) {
    if let Value::Object(fields) = value {
        for (k, v) in fields {
            xml_value(out, k, v);
        }
    }
}

fn discovery() -> Document {
    Document {
        json: json!({
            "changeset": "2026-12-05T00:00:00+08:00",
            "contact": "苏州12345政务服务便民热线",
            "key_service": "ask the centre's administrator for an integrator API key",
            "endpoints": [{
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": "/open311/v2",
                "changeset": "2026-12-05T00:00:00+08:00",
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }],
        }),
        xml_root: "discovery",
        xml_item: "endpoint",
    }
}

// ---------------------------------------------------------------- services

fn routing(hotline: &Hotline) -> Result<&crate::routing::Routing, Problem> {
    hotline.routing().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "automatic routing (and with it the service list) is not configured on this router",
        )
    })
}

/// Every category below the first level is a service; its first-level ancestor is the group.
fn services(hotline: &Hotline) -> Result<Document, Problem> {
    let engine = routing(hotline)?.engine();
    let taxonomy = engine.classifier().taxonomy();
    let rules = engine.classifier().rules();
    let mut list = Vec::new();
    for category in taxonomy.categories() {
        if category.parent.is_none() {
            continue;
        }
        let path = taxonomy.path(&category.code);
        list.push(json!({
            "service_code": category.code.as_str(),
            "service_name": category.name,
            "description": path.join(" / "),
            "metadata": true,
            "type": "realtime",
            "keywords": rules.keywords_for(&category.code).join(","),
            "group": path.first().copied().unwrap_or_default(),
        }));
    }
    Ok(Document {
        json: Value::Array(list),
        xml_root: "services",
        xml_item: "service",
    })
}

fn values_of(pairs: &[(&str, &str)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(key, name)| json!({ "key": key, "name": name }))
            .collect(),
    )
}

fn service_definition(hotline: &Hotline, code: &str) -> Result<Document, Problem> {
    let engine = routing(hotline)?.engine();
    let taxonomy = engine.classifier().taxonomy();
    let found = CategoryCode::parse("service_code", code)
        .ok()
        .and_then(|c| taxonomy.get(&c))
        .filter(|c| c.parent.is_some())
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                format!("service_code {code:?} is not a service; see services.json"),
            )
        })?;
    let natures: Vec<(&str, &str)> = Nature::ALL
        .iter()
        .map(|n| (n.code(), n.name_zh()))
        .collect();
    let urgencies: Vec<(&str, &str)> = Urgency::ALL
        .iter()
        .map(|u| (u.code(), u.name_zh()))
        .collect();
    let attribute = |order: u32, code: &str, description: &str, datatype: &str, values: Value| {
        json!({
            "variable": true,
            "code": code,
            "datatype": datatype,
            "required": false,
            "datatype_description": "",
            "order": order,
            "description": description,
            "values": values,
        })
    };
    Ok(Document {
        json: json!({
            "service_code": found.code.as_str(),
            "attributes": [
                attribute(1, "nature", "诉求性质 nature (default: the router decides)", "singlevaluelist", values_of(&natures)),
                attribute(2, "urgency", "紧急程度 urgency (default: the router decides)", "singlevaluelist", values_of(&urgencies)),
                attribute(3, "confidential", "保密: hide the caller from the handling station (always offered for 举报)", "singlevaluelist", values_of(&[("false", "否 no"), ("true", "是 yes")])),
                attribute(4, "contact", "回访方式 how the station may contact the caller", "singlevaluelist", values_of(&[("phone", "电话 phone"), ("email", "邮件 email"), ("none", "不需回访 none")])),
            ],
        }),
        xml_root: "service_definition",
        xml_item: "attribute",
    })
}

// ---------------------------------------------------------------- requests

/// The principal an `api_key` proves, for one intake RPC.
async fn integrator(
    hotline: &Hotline,
    params: &Params,
    rpc: &str,
) -> Result<Option<Principal>, Problem> {
    let Some(key) = params.get("api_key") else {
        return Ok(None);
    };
    let identity = hotline.identity().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "identity is not configured",
        )
    })?;
    let credential = if key.starts_with(hotline_identity::API_KEY_PREFIX) {
        Credential::ApiKey(key.to_owned())
    } else {
        Credential::Bearer(key.to_owned())
    };
    let principal = identity
        .authenticate(&credential)
        .await
        .map_err(|e| Problem::from(RouterError::from(e)))?;
    access::may_call(&principal, rpc)?;
    Ok(Some(principal))
}

fn attribute<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(&format!("attribute[{name}]"))
}

fn bad(field: &str, message: impl std::fmt::Display) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, format!("{field}: {message}"))
}

async fn create_request(hotline: &Hotline, params: &Params) -> Result<Document, Problem> {
    let who = integrator(hotline, params, "Intake/SubmitTicket")
        .await?
        .ok_or_else(|| {
            Problem::new(
                StatusCode::FORBIDDEN,
                "api_key is required to create a request; ask the centre for an integrator key",
            )
        })?;
    let engine = routing(hotline)?.engine();
    let code = params
        .get("service_code")
        .ok_or_else(|| bad("service_code", "is required"))?;
    let category = CategoryCode::parse("service_code", code)
        .ok()
        .filter(|c| engine.classifier().taxonomy().get(c).is_some())
        .ok_or_else(|| {
            bad(
                "service_code",
                format!("{code:?} is not a service; see services.json"),
            )
        })?;
    let location = match (params.get("lat"), params.get("long")) {
        (Some(lat), Some(lng)) => {
            let lat: f64 = lat
                .parse()
                .map_err(|_| bad("lat", format!("{lat:?} is not a number")))?;
            let lng: f64 = lng
                .parse()
                .map_err(|_| bad("long", format!("{lng:?} is not a number")))?;
            Some(GeoPoint::parse(lat, lng).map_err(|e| bad("lat/long", e))?)
        }
        (None, None) => None,
        _ => return Err(bad("lat/long", "give both lat and long, or neither")),
    };
    let address = params.get("address_string").unwrap_or_default().to_owned();
    let division = params
        .get("address_id")
        .map(|id| DivisionCode::parse("address_id", id))
        .transpose()
        .map_err(|e| bad("address_id", e.message))?;
    if location.is_none() && address.is_empty() && division.is_none() {
        return Err(bad(
            "location",
            "give lat and long, address_string or address_id (a division code)",
        ));
    }
    let nature = attribute(params, "nature")
        .map(|n| Nature::parse("attribute[nature]", n))
        .transpose()
        .map_err(|e| bad("attribute[nature]", e.message))?;
    let urgency = attribute(params, "urgency")
        .map(|u| Urgency::parse("attribute[urgency]", u))
        .transpose()
        .map_err(|e| bad("attribute[urgency]", e.message))?;
    let confidential = match attribute(params, "confidential") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(bad(
                "attribute[confidential]",
                format!("{other:?}: true or false"),
            ))
        }
    };
    let mut text = params.get("description").unwrap_or_default().to_owned();
    if text.is_empty() {
        text = engine
            .classifier()
            .taxonomy()
            .get(&category)
            .map(|c| c.name.clone())
            .unwrap_or_default();
    }
    for (what, key) in [("邮箱 email", "email"), ("附件 media", "media_url")] {
        if let Some(value) = params.get(key) {
            let _ = write!(text, "\n{what}: {value}");
        }
    }
    let name = [params.get("last_name"), params.get("first_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .concat();
    // The platform's first granted channel (an Open311 client is a web form or an app).
    let channel = match &who.scope {
        Scope::Integrator { channels, .. } if channels.contains(&Channel::Web) => Channel::Web,
        Scope::Integrator { channels, .. } => channels.first().copied().unwrap_or(Channel::Web),
        _ => Channel::Web,
    };
    let new = NewTicket {
        request_id: None,
        channel,
        caller: hotline_core::Caller {
            name,
            phone: params.get("phone").unwrap_or_default().to_owned(),
            confidential,
        },
        text,
        address,
        location,
        kiosk: None,
        category: Some(category.clone()),
        nature: nature.unwrap_or(Nature::Help),
        urgency: urgency.unwrap_or(Urgency::Normal),
        division: division.clone(),
    };
    let hints = Hints {
        category: Some(category),
        nature,
        urgency,
        division,
        station: None,
    };
    let submitted = hotline
        .submit_as(&who, new, Disposition::Route(hints))
        .await?;
    let id = submitted.ticket.id.to_string();
    let notice = match &submitted.duplicate_of {
        Some(original) => format!("已并入 linked to request {}", original.id),
        None => format!("已受理 accepted: {}", stage_note(submitted.ticket.stage)),
    };
    Ok(Document {
        json: json!([{
            "service_request_id": id,
            "token": id,
            "service_notice": notice,
            "account_id": Value::Null,
        }]),
        xml_root: "service_requests",
        xml_item: "request",
    })
}

fn stage_note(stage: Stage) -> String {
    format!("{} ({})", stage.name_zh(), stage.code())
}

fn local(at: DateTime<Utc>) -> String {
    at.with_timezone(&hotline_sla::TIME_ZONE)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Whether an anonymous reader may see that the ticket exists at all.
fn public(ticket: &Ticket) -> bool {
    !ticket.caller.confidential && ticket.nature != Nature::Report
}

fn request_out(hotline: &Hotline, ticket: &Ticket, full: bool) -> Value {
    let service_name = ticket
        .category
        .as_ref()
        .and_then(|c| {
            hotline.routing().and_then(|r| {
                r.engine()
                    .classifier()
                    .taxonomy()
                    .get(c)
                    .map(|c| c.name.clone())
            })
        })
        .unwrap_or_default();
    let agency = ticket
        .station
        .as_ref()
        .and_then(|s| hotline.directory().station(s))
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let mut out = json!({
        "service_request_id": ticket.id.to_string(),
        "status": if ticket.stage == Stage::Closed { "closed" } else { "open" },
        "status_notes": stage_note(ticket.stage),
        "hotline_stage": ticket.stage.code(),
        "service_name": service_name,
        "service_code": ticket.category.as_ref().map(|c| c.as_str()).unwrap_or_default(),
        "agency_responsible": agency,
        "service_notice": "",
        "requested_datetime": local(ticket.created_at),
        "updated_datetime": local(ticket.updated_at),
        "expected_datetime": ticket.deadlines.resolution.map(local).unwrap_or_default(),
    });
    if full {
        let fields = out.as_object_mut().expect("an object");
        fields.insert("description".into(), ticket.text.clone().into());
        fields.insert("address".into(), ticket.address.clone().into());
        fields.insert(
            "address_id".into(),
            ticket
                .division
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_default()
                .into(),
        );
        if let Some(point) = ticket.location {
            fields.insert("lat".into(), point.lat.into());
            fields.insert("long".into(), point.lng.into());
        }
        fields.insert("media_url".into(), "".into());
    }
    out
}

fn requests_document(list: Vec<Value>) -> Document {
    Document {
        json: Value::Array(list),
        xml_root: "service_requests",
        xml_item: "request",
    }
}

fn date_param(params: &Params, key: &str) -> Result<Option<DateTime<Utc>>, Problem> {
    params
        .get(key)
        .map(|raw| {
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    bad(
                        key,
                        format!("{raw:?} is not an ISO 8601 time with an offset"),
                    )
                })
        })
        .transpose()
}

async fn list_requests(hotline: &Hotline, params: &Params) -> Result<Document, Problem> {
    let who = integrator(hotline, params, "Intake/SearchTickets").await?;
    if let Some(ids) = params.get("service_request_id") {
        let mut list = Vec::new();
        for id in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if let Some(found) = read(hotline, who.as_ref(), id).await? {
                list.push(found);
            }
        }
        return Ok(requests_document(list));
    }
    let now = hotline.now();
    let end = date_param(params, "end_date")?.unwrap_or(now);
    // The spec's default window: the last 90 days.
    let start = date_param(params, "start_date")?.unwrap_or(end - chrono::Duration::days(90));
    if start > end {
        return Err(bad("start_date", "is after end_date"));
    }
    let status = match params.get("status") {
        None => None,
        Some(s) => {
            let wanted: Vec<&str> = s.split(',').map(str::trim).collect();
            if let Some(bad_status) = wanted.iter().find(|s| !matches!(**s, "open" | "closed")) {
                return Err(bad("status", format!("{bad_status:?}: open or closed")));
            }
            Some(wanted)
        }
    };
    let codes: Option<Vec<&str>> = params
        .get("service_code")
        .map(|s| s.split(',').map(str::trim).collect());
    let query = SearchQuery {
        created_after: Some(start),
        created_before: Some(end),
        limit: 500,
        ..SearchQuery::default()
    };
    let tickets = match &who {
        Some(who) => hotline.search_as(who, query).await?,
        None => hotline
            .search(&query)
            .await?
            .into_iter()
            .filter(public)
            .collect(),
    };
    let list = tickets
        .iter()
        .filter(|t| {
            status.as_ref().is_none_or(|s| {
                s.contains(&if t.stage == Stage::Closed {
                    "closed"
                } else {
                    "open"
                })
            })
        })
        .filter(|t| {
            codes.as_ref().is_none_or(|c| {
                t.category
                    .as_ref()
                    .is_some_and(|cat| c.contains(&cat.as_str()))
            })
        })
        .map(|t| request_out(hotline, t, who.is_some()))
        .collect();
    Ok(requests_document(list))
}

/// One request as the reader may see it; `None` when it is not there for them.
async fn read(
    hotline: &Hotline,
    who: Option<&Principal>,
    raw: &str,
) -> Result<Option<Value>, Problem> {
    let Ok(id) = TicketId::parse("service_request_id", raw) else {
        return Ok(None);
    };
    let found = match who {
        Some(who) => match hotline.get_as(who, id).await {
            Ok(t) => Some(request_out(hotline, &t, true)),
            Err(RouterError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        },
        None => match hotline.get(id).await {
            Ok(t) if public(&t) => Some(request_out(hotline, &t, false)),
            Ok(_) | Err(RouterError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        },
    };
    Ok(found)
}

async fn one_request(hotline: &Hotline, params: &Params, id: &str) -> Result<Document, Problem> {
    let who = integrator(hotline, params, "Intake/GetTicket").await?;
    let found = read(hotline, who.as_ref(), id).await?.ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            format!("service_request_id {id:?} does not exist"),
        )
    })?;
    Ok(requests_document(vec![found]))
}

/// Requests are created at once, so a token is the request's id.
async fn token(hotline: &Hotline, params: &Params, token: &str) -> Result<Document, Problem> {
    let who = integrator(hotline, params, "Intake/GetTicket").await?;
    read(hotline, who.as_ref(), token).await?.ok_or_else(|| {
        Problem::new(StatusCode::NOT_FOUND, format!("token {token:?} is unknown"))
    })?;
    Ok(Document {
        json: json!([{ "service_request_id": token, "token": token }]),
        xml_root: "service_requests",
        xml_item: "request",
    })
}
