//! The one authentication layer, and the Auth and Admin services.
//!
//! [`AuthLayer`] sits in front of every gRPC service. For each call it reads the
//! `authorization` metadata, has the identity room turn the credential into a [`Principal`],
//! checks that the principal's role may call the RPC at all ([`access::may_call`]), and hands
//! the principal to the service in the request's extensions. Health, reflection, `Auth/Login`
//! and `Auth/Refresh` pass without a credential. A refused call never reaches a service, so
//! nothing is changed by it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hotline_core::Channel;
use hotline_identity::{
    Account, ApiKeyGrant, Authenticator, ContactAccessQuery, Credential, DisplayName, Identity,
    LoginName, NewAccount, Password, Principal, Role, RpcName, Scope, Territory, INTEGRATOR_RPCS,
};
use hotline_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::convert::{channel_in, channel_out, optional, station_id, ticket_id, time_out};
use super::status::invalid;
use crate::access;
use crate::error::RouterError;

/// The principal the layer proved, for a service handler. A handler reached without one is a
/// wiring bug; it answers UNAUTHENTICATED rather than act for nobody.
pub fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no credential"))
}

/// The tower layer; see the module docs.
#[derive(Clone)]
pub struct AuthLayer {
    auth: Arc<dyn Authenticator>,
}

impl AuthLayer {
    pub fn new(auth: Arc<dyn Authenticator>) -> Self {
        Self { auth }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    auth: Arc<dyn Authenticator>,
}

/// Proves who sent `headers` and whether they may call `path`.
pub async fn authorize(
    auth: &dyn Authenticator,
    path: &str,
    headers: &http::HeaderMap,
) -> Result<Principal, RouterError> {
    let rpc = access::rpc_of(path)
        .ok_or_else(|| RouterError::NotFound(format!("{path} is not an RPC of this router")))?;
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or(hotline_identity::IdentityError::MissingCredential)?
        .to_str()
        .map_err(|_| hotline_identity::IdentityError::MissingCredential)?;
    let credential = Credential::from_authorization(value)?;
    let principal = auth.authenticate(&credential).await?;
    access::may_call(&principal, rpc)?;
    Ok(principal)
}

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_owned();
        if access::is_public(&path) {
            return Box::pin(self.inner.call(request));
        }
        // The clone that was polled ready is the one to call (tower's rule for cloned services).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            match authorize(auth.as_ref(), &path, request.headers()).await {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                    inner.call(request).await
                }
                Err(err) => Ok(Status::from(err).into_http()),
            }
        })
    }
}

// ---------------------------------------------------------------- Auth

pub struct AuthApi {
    identity: Arc<Identity>,
}

impl AuthApi {
    pub fn new(identity: Arc<Identity>) -> Self {
        Self { identity }
    }
}

pub fn account_out(account: &Account) -> pb::StaffAccount {
    let mut out = pb::StaffAccount {
        id: account.id.to_string(),
        login: account.login.as_str().to_owned(),
        display_name: account.display_name.as_str().to_owned(),
        role: account.role.code().to_owned(),
        enabled: account.enabled,
        created_at: time_out(Some(account.created_at)),
        ..Default::default()
    };
    scope_out(&account.scope, &mut out);
    out
}

fn scope_out(scope: &Scope, out: &mut pb::StaffAccount) {
    match scope {
        Scope::Centre => {}
        Scope::Station { station } => out.station_id = station.to_string(),
        Scope::Territory { territory } => {
            out.territory = match territory {
                Territory::City => "city".to_owned(),
                Territory::Division(code) => code.to_string(),
            }
        }
        Scope::Integrator { channels, rpcs } => {
            out.channels = channels.iter().map(|c| channel_out(*c)).collect();
            out.rpcs = rpcs.iter().map(|r| r.as_str().to_owned()).collect();
        }
    }
}

fn tokens_out(tokens: hotline_identity::Tokens) -> pb::LoginResponse {
    let p = &tokens.principal;
    let mut account = pb::StaffAccount {
        id: p.account.to_string(),
        login: p.login.as_str().to_owned(),
        display_name: p.display_name.clone(),
        role: p.role.code().to_owned(),
        enabled: true,
        ..Default::default()
    };
    scope_out(&p.scope, &mut account);
    pb::LoginResponse {
        access_token: tokens.access_token,
        access_expires_at: time_out(Some(tokens.access_expires_at)),
        refresh_token: tokens.refresh_token,
        refresh_expires_at: time_out(Some(tokens.refresh_expires_at)),
        account: Some(account),
    }
}

#[tonic::async_trait]
impl pb::auth_server::Auth for AuthApi {
    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let req = request.into_inner();
        let tokens = self
            .identity
            .login(&req.login, &req.password)
            .await
            .map_err(RouterError::from)?;
        tracing::info!(login = %tokens.principal.login, role = tokens.principal.role.code(), "logged in");
        Ok(Response::new(tokens_out(tokens)))
    }

    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let req = request.into_inner();
        let tokens = self
            .identity
            .refresh(&req.refresh_token)
            .await
            .map_err(RouterError::from)?;
        Ok(Response::new(tokens_out(tokens)))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let req = request.into_inner();
        self.identity
            .logout(&req.refresh_token)
            .await
            .map_err(RouterError::from)?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::StaffAccount>, Status> {
        let who = principal(&request)?;
        let account = self
            .identity
            .store()
            .account(who.account)
            .await
            .map_err(RouterError::from)?
            .ok_or_else(|| Status::unauthenticated("the account no longer exists"))?;
        let mut out = account_out(&account);
        // An API key's grant, not the account's.
        out.channels.clear();
        out.rpcs.clear();
        scope_out(&who.scope, &mut out);
        Ok(Response::new(out))
    }
}

// ---------------------------------------------------------------- Admin

pub struct AdminApi {
    identity: Arc<Identity>,
    hotline: crate::tickets::Hotline,
}

impl AdminApi {
    pub fn new(identity: Arc<Identity>, hotline: crate::tickets::Hotline) -> Self {
        Self { identity, hotline }
    }
}

fn calendar_out(status: crate::tickets::CalendarStatus) -> pb::CalendarStatus {
    pb::CalendarStatus {
        published_years: status.published,
        provisional_years: status.provisional,
        warning: status.warning.unwrap_or_default(),
        tickets_checked: u32::try_from(status.checked).unwrap_or(u32::MAX),
        tickets_recomputed: u32::try_from(status.recomputed).unwrap_or(u32::MAX),
    }
}

fn login_in(raw: &str) -> Result<LoginName, Status> {
    LoginName::parse("login", raw).map_err(invalid)
}

/// An integrator's channels: known ones, each once. (A list of 10,000 would be stored and
/// checked on every call.)
fn channels_in(raw: &[i32]) -> Result<Vec<Channel>, Status> {
    let channels = raw
        .iter()
        .map(|c| {
            channel_in("channels", *c).and_then(|c| {
                c.ok_or_else(|| {
                    hotline_core::InvalidInput::new("channels", "a channel is unspecified")
                })
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    listed_once("channels", &channels, |c| c.code().to_owned())?;
    Ok(channels)
}

/// An integrator's intake RPCs: known ones, each once.
fn rpcs_in(raw: &[String]) -> Result<Vec<RpcName>, Status> {
    let rpcs = raw
        .iter()
        .map(|r| RpcName::parse("rpcs", r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    listed_once("rpcs", &rpcs, |r| r.as_str().to_owned())?;
    Ok(rpcs)
}

/// Refuses a list that names an entry twice, saying how long it was.
fn listed_once<T>(
    field: &'static str,
    items: &[T],
    name: impl Fn(&T) -> String,
) -> Result<(), Status> {
    let mut seen = std::collections::HashSet::new();
    for item in items {
        let item = name(item);
        if !seen.insert(item.clone()) {
            return Err(invalid(hotline_core::InvalidInput::new(
                field,
                format!(
                    "{} entries, {item} among them more than once; list each once",
                    items.len()
                ),
            )));
        }
    }
    Ok(())
}

/// The scope an `AddStaff` asks for, from the fields that fit the role.
pub fn scope_for(
    role: Role,
    station: &str,
    territory: &str,
    channels: Vec<Channel>,
    rpcs: Vec<RpcName>,
) -> Result<Scope, hotline_core::InvalidInput> {
    Ok(match role {
        Role::Operator | Role::Administrator => Scope::Centre,
        Role::StationStaff => Scope::Station {
            station: station_id("station_id", station)?,
        },
        Role::Supervisor | Role::KnowledgeEditor => Scope::Territory {
            territory: Territory::parse("territory", territory)?,
        },
        Role::Integrator => Scope::Integrator {
            channels: if channels.is_empty() {
                Channel::ALL.to_vec()
            } else {
                channels
            },
            rpcs: if rpcs.is_empty() {
                INTEGRATOR_RPCS
                    .iter()
                    .map(|r| RpcName::parse("rpcs", r))
                    .collect::<Result<_, _>>()?
            } else {
                rpcs
            },
        },
    })
}

#[tonic::async_trait]
impl pb::admin_server::Admin for AdminApi {
    async fn add_staff(
        &self,
        request: Request<pb::AddStaffRequest>,
    ) -> Result<Response<pb::StaffAccount>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let role = Role::parse("role", &req.role).map_err(invalid)?;
        let scope = scope_for(
            role,
            &req.station_id,
            &req.territory,
            channels_in(&req.channels)?,
            rpcs_in(&req.rpcs)?,
        )
        .map_err(invalid)?;
        let account = self
            .identity
            .add_account(NewAccount {
                login: login_in(&req.login)?,
                display_name: DisplayName::parse("display_name", &req.display_name)
                    .map_err(invalid)?,
                role,
                scope,
                password: Password::parse("password", &req.password).map_err(invalid)?,
            })
            .await
            .map_err(RouterError::from)?;
        tracing::info!(by = %who.login, login = %account.login, role = account.role.code(), "staff account added");
        Ok(Response::new(account_out(&account)))
    }

    async fn list_staff(
        &self,
        _request: Request<pb::ListStaffRequest>,
    ) -> Result<Response<pb::ListStaffResponse>, Status> {
        let accounts = self
            .identity
            .store()
            .list_accounts()
            .await
            .map_err(RouterError::from)?;
        Ok(Response::new(pb::ListStaffResponse {
            accounts: accounts.iter().map(account_out).collect(),
        }))
    }

    async fn set_staff_enabled(
        &self,
        request: Request<pb::SetStaffEnabledRequest>,
    ) -> Result<Response<pb::StaffAccount>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let login = login_in(&req.login)?;
        if login == who.login && !req.enabled {
            return Err(Status::failed_precondition(
                "you cannot disable your own account; ask another administrator",
            ));
        }
        let account = self
            .identity
            .set_enabled(&login, req.enabled)
            .await
            .map_err(RouterError::from)?;
        tracing::info!(by = %who.login, login = %login, enabled = req.enabled, "staff account changed");
        Ok(Response::new(account_out(&account)))
    }

    async fn set_staff_password(
        &self,
        request: Request<pb::SetStaffPasswordRequest>,
    ) -> Result<Response<pb::SetStaffPasswordResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let login = login_in(&req.login)?;
        let password = Password::parse("password", &req.password).map_err(invalid)?;
        self.identity
            .set_password(&login, &password)
            .await
            .map_err(RouterError::from)?;
        tracing::info!(by = %who.login, login = %login, "password set");
        Ok(Response::new(pb::SetStaffPasswordResponse {}))
    }

    async fn issue_api_key(
        &self,
        request: Request<pb::IssueApiKeyRequest>,
    ) -> Result<Response<pb::IssueApiKeyResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let login = login_in(&req.login)?;
        let account = self
            .identity
            .store()
            .account_by_login(&login)
            .await
            .map_err(RouterError::from)?
            .ok_or_else(|| Status::not_found(format!("no account with login name {login:?}")))?;
        let (all_channels, all_rpcs) = match &account.scope {
            Scope::Integrator { channels, rpcs } => (channels.clone(), rpcs.clone()),
            _ => (Vec::new(), Vec::new()),
        };
        let channels = channels_in(&req.channels)?;
        let rpcs = rpcs_in(&req.rpcs)?;
        let issued = self
            .identity
            .issue_api_key(
                &login,
                ApiKeyGrant {
                    channels: if channels.is_empty() {
                        all_channels
                    } else {
                        channels
                    },
                    rpcs: if rpcs.is_empty() { all_rpcs } else { rpcs },
                    per_minute: if req.per_minute == 0 {
                        600
                    } else {
                        req.per_minute
                    },
                },
            )
            .await
            .map_err(RouterError::from)?;
        tracing::info!(by = %who.login, login = %login, key_id = %issued.id, "API key issued");
        Ok(Response::new(pb::IssueApiKeyResponse {
            key_id: issued.id,
            key: issued.key,
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let revoked = self
            .identity
            .revoke_api_key(req.key_id.trim())
            .await
            .map_err(RouterError::from)?;
        tracing::info!(by = %who.login, key_id = %req.key_id, revoked, "API key revoked");
        Ok(Response::new(pb::RevokeApiKeyResponse { revoked }))
    }

    async fn get_calendar_status(
        &self,
        _request: Request<pb::GetCalendarStatusRequest>,
    ) -> Result<Response<pb::CalendarStatus>, Status> {
        Ok(Response::new(calendar_out(self.hotline.calendar_status())))
    }

    async fn reload_calendar(
        &self,
        request: Request<pb::ReloadCalendarRequest>,
    ) -> Result<Response<pb::CalendarStatus>, Status> {
        let who = principal(&request)?;
        tracing::info!(by = %who.login, "reloading the holiday notices");
        let status = self.hotline.reload_calendar().await?;
        Ok(Response::new(calendar_out(status)))
    }

    async fn list_contact_access(
        &self,
        request: Request<pb::ListContactAccessRequest>,
    ) -> Result<Response<pb::ListContactAccessResponse>, Status> {
        let req = request.into_inner();
        let limit = match req.limit {
            0 => 100,
            n if n > 1000 => {
                return Err(invalid(hotline_core::InvalidInput::new(
                    "limit",
                    "at most 1000",
                )))
            }
            n => n,
        };
        let account =
            match optional(&req.login, |s| LoginName::parse("login", s)).map_err(invalid)? {
                Some(login) => Some(
                    self.identity
                        .store()
                        .account_by_login(&login)
                        .await
                        .map_err(RouterError::from)?
                        .ok_or_else(|| {
                            Status::not_found(format!("no account with login name {login:?}"))
                        })?
                        .id,
                ),
                None => None,
            };
        let query = ContactAccessQuery {
            ticket: optional(&req.ticket_id, |s| ticket_id("ticket_id", s)).map_err(invalid)?,
            account,
            since: None,
            until: None,
            limit,
        };
        let found = self
            .identity
            .contact_accesses(&query)
            .await
            .map_err(RouterError::from)?;
        let accounts = self
            .identity
            .store()
            .list_accounts()
            .await
            .map_err(RouterError::from)?;
        let login_of = |id| {
            accounts
                .iter()
                .find(|a| a.id == id)
                .map(|a| a.login.as_str().to_owned())
                .unwrap_or_else(|| id.to_string())
        };
        Ok(Response::new(pb::ListContactAccessResponse {
            accesses: found
                .iter()
                .map(|a| pb::ContactAccess {
                    login: login_of(a.account),
                    ticket_id: a.ticket.to_string(),
                    at: time_out(Some(a.at)),
                })
                .collect(),
        }))
    }
}

/// The engine's contact access log, kept by the identity room.
pub struct IdentityContactLog(pub Arc<Identity>);

#[async_trait::async_trait]
impl crate::tickets::ContactLog for IdentityContactLog {
    async fn record(
        &self,
        reader: &Principal,
        ticket: hotline_core::TicketId,
    ) -> Result<(), RouterError> {
        self.0
            .log_contact_access(reader, ticket)
            .await
            .map_err(RouterError::from)
    }
}
