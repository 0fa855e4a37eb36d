//! Who you are to the router: `agent-desk login` trades a password for tokens and keeps them in
//! the session file (mode 0600, in the user's config directory); every other command sends the
//! access token, refreshing it first when it is about to run out. `--token` / `HOTLINE_TOKEN`
//! (an access token or an integrator API key) overrides the file.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use hotline_proto::v1 as pb;
use hotline_proto::v1::auth_client::AuthClient;
use serde::{Deserialize, Serialize};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::Channel;

use crate::DeskError;

/// A connection that sends the credential with every call.
pub type Conn = InterceptedService<Channel, Bearer>;

/// Adds `authorization: Bearer <credential>` to every request.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    pub fn new(credential: Option<&str>) -> Result<Self, DeskError> {
        credential
            .map(|c| {
                format!("Bearer {c}").parse().map_err(|_| {
                    DeskError::Usage("the token has characters a header cannot carry".into())
                })
            })
            .transpose()
            .map(Self)
    }
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub fn connection(channel: Channel, credential: Option<&str>) -> Result<Conn, DeskError> {
    Ok(InterceptedService::new(channel, Bearer::new(credential)?))
}

/// What `login` keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub server: String,
    pub login: String,
    pub role: String,
    #[serde(default)]
    pub station_id: String,
    pub access_token: String,
    pub access_expires_at: String,
    pub refresh_token: String,
}

/// `$XDG_CONFIG_HOME/hotline/agent-desk-session.json`, else under `~/.config`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("hotline").join("agent-desk-session.json"))
}

pub fn load(path: &Path) -> Result<Option<Session>, DeskError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            DeskError::Usage(format!(
                "session file {} is damaged ({e}); run `agent-desk login` again",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes the session readable by its owner only, from the first byte.
pub fn save(path: &Path, session: &Session) -> Result<(), DeskError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(
        serde_json::to_string_pretty(session)
            .expect("a session serialises")
            .as_bytes(),
    )?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

pub fn session_from(response: pb::LoginResponse, server: &str) -> Session {
    let account = response.account.unwrap_or_default();
    Session {
        server: server.to_owned(),
        login: account.login,
        role: account.role,
        station_id: account.station_id,
        access_token: response.access_token,
        access_expires_at: response.access_expires_at,
        refresh_token: response.refresh_token,
    }
}

/// The access token to send: the session's, refreshed (and saved) when it runs out within a
/// minute.
pub async fn fresh_token(
    channel: Channel,
    path: &Path,
    mut session: Session,
) -> Result<Session, DeskError> {
    let expires = DateTime::parse_from_rfc3339(&session.access_expires_at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    if expires - Utc::now() > chrono::Duration::minutes(1) {
        return Ok(session);
    }
    let refreshed = AuthClient::new(channel)
        .refresh(pb::RefreshRequest {
            refresh_token: session.refresh_token.clone(),
        })
        .await
        .map_err(|status| match status.code() {
            tonic::Code::Unauthenticated => DeskError::Usage(format!(
                "your session has ended ({}); run `agent-desk login {}` again",
                status.message(),
                session.login
            )),
            _ => DeskError::Status(status),
        })?
        .into_inner();
    let server = std::mem::take(&mut session.server);
    let session = session_from(refreshed, &server);
    save(path, &session)?;
    Ok(session)
}
