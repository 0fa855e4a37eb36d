//! Who may act: roles, scopes, accounts and the validated values they are made of.

use chrono::{DateTime, Utc};
use hotline_core::{Channel, DivisionCode, InvalidInput, StationId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An account's id (a UUID), the `sub` of its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccountId(pub Uuid);

impl AccountId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        Uuid::parse_str(raw.trim())
            .map(Self)
            .map_err(|_| InvalidInput::new(field, format!("{raw:?} is not an account id (a UUID)")))
    }
}

impl Default for AccountId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What a person (or platform) does at the centre. The role decides which RPCs it may call; the
/// [`Scope`] decides on which tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 话务员: takes calls, submits and previews, reads a caller's earlier tickets.
    Operator,
    /// Staff of one handling station (承办单位).
    StationStaff,
    /// 督办/派单 at the centre, a district or a street.
    Supervisor,
    /// Manages accounts and keys.
    Administrator,
    /// Another platform submitting through intake RPCs with an API key.
    Integrator,
    /// Writes knowledge-base articles for a territory (issue 21).
    KnowledgeEditor,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Operator,
        Role::StationStaff,
        Role::Supervisor,
        Role::Administrator,
        Role::Integrator,
        Role::KnowledgeEditor,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::StationStaff => "station_staff",
            Role::Supervisor => "supervisor",
            Role::Administrator => "administrator",
            Role::Integrator => "integrator",
            Role::KnowledgeEditor => "knowledge_editor",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Role::Operator => "话务员",
            Role::StationStaff => "承办单位工作人员",
            Role::Supervisor => "督办员",
            Role::Administrator => "系统管理员",
            Role::Integrator => "对接平台",
            Role::KnowledgeEditor => "知识库编辑",
        }
    }

    /// Accepts the code with `_` or `-` (`station-staff` on a command line).
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        let wanted = raw.trim().replace('-', "_");
        Role::ALL
            .into_iter()
            .find(|r| r.code() == wanted)
            .ok_or_else(|| {
                let codes: Vec<&str> = Role::ALL.iter().map(|r| r.code()).collect();
                InvalidInput::new(
                    field,
                    format!("{raw:?} is not a role; one of {}", codes.join(", ")),
                )
            })
    }
}

/// A supervisor's or knowledge editor's territory: the whole city (the centre), or one district
/// or street by its division code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Territory {
    City,
    Division(DivisionCode),
}

impl Territory {
    /// `city` (or `centre`), or a 6-digit district or 9-digit street division code.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        let value = raw.trim();
        if value.eq_ignore_ascii_case("city") || value.eq_ignore_ascii_case("centre") {
            return Ok(Territory::City);
        }
        let code = DivisionCode::parse(field, value)?;
        if ![6, 9].contains(&code.as_str().len()) {
            return Err(InvalidInput::new(
                field,
                format!(
                    "{raw:?}: a territory is `city`, a district (6 digits) or a street (9 digits)"
                ),
            ));
        }
        Ok(Territory::Division(code))
    }
}

/// The intake RPCs an integrator key may be given; everything else is for staff.
pub const INTEGRATOR_RPCS: [&str; 4] =
    ["SubmitTicket", "GetTicket", "SearchTickets", "PreviewRoute"];

/// The name of an intake RPC an integrator may call (one of [`INTEGRATOR_RPCS`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RpcName(String);

impl RpcName {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        let value = raw.trim();
        INTEGRATOR_RPCS
            .iter()
            .find(|r| **r == value)
            .map(|r| Self((*r).to_owned()))
            .ok_or_else(|| {
                InvalidInput::new(
                    field,
                    format!(
                        "{raw:?}: integrators may be given intake RPCs only: {}",
                        INTEGRATOR_RPCS.join(", ")
                    ),
                )
            })
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// On which tickets an account may act. Which variant fits which role is checked by
/// [`Scope::check_for`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Scope {
    /// Operators and administrators: the centre's whole intake.
    Centre,
    /// Station staff: one station's tickets.
    Station { station: StationId },
    /// Supervisors and knowledge editors.
    Territory { territory: Territory },
    /// Integrators: the channels they submit for and the intake RPCs they may call. An API key
    /// carries its own (narrower or equal) grant; see [`crate::ApiKeyGrant`].
    Integrator {
        channels: Vec<Channel>,
        rpcs: Vec<RpcName>,
    },
}

impl Scope {
    /// Refuses a scope that does not fit the role (a supervisor with a station, ...).
    pub fn check_for(&self, role: Role) -> Result<(), InvalidInput> {
        let fits = matches!(
            (role, self),
            (Role::Operator | Role::Administrator, Scope::Centre)
                | (Role::StationStaff, Scope::Station { .. })
                | (
                    Role::Supervisor | Role::KnowledgeEditor,
                    Scope::Territory { .. }
                )
                | (Role::Integrator, Scope::Integrator { .. })
        );
        if fits {
            return Ok(());
        }
        let needs = match role {
            Role::Operator | Role::Administrator => "no scope (the centre)",
            Role::StationStaff => "a station (--station)",
            Role::Supervisor | Role::KnowledgeEditor => {
                "a territory (--territory city|district code|street code)"
            }
            Role::Integrator => "channels and RPCs (--channel, --rpc)",
        };
        Err(InvalidInput::new(
            "scope",
            format!("a {} account needs {needs}", role.code()),
        ))
    }

    pub fn describe(&self) -> String {
        match self {
            Scope::Centre => "centre".to_owned(),
            Scope::Station { station } => format!("station {station}"),
            Scope::Territory {
                territory: Territory::City,
            } => "territory city".to_owned(),
            Scope::Territory {
                territory: Territory::Division(code),
            } => format!("territory {code}"),
            Scope::Integrator { channels, rpcs } => format!(
                "channels {} rpcs {}",
                channels
                    .iter()
                    .map(|c| c.code())
                    .collect::<Vec<_>>()
                    .join(","),
                rpcs.iter()
                    .map(RpcName::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

/// A login name: 1-64 characters of ASCII letters, digits, `.`, `_` and `-`, stored lower-case
/// so `Zhang.Wei` and `zhang.wei` are one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LoginName(String);

impl LoginName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        let value = raw.trim().to_ascii_lowercase();
        if value.is_empty() {
            return Err(InvalidInput::new(field, "a login name is required"));
        }
        if value.len() > Self::MAX_LEN {
            return Err(InvalidInput::new(
                field,
                format!("a login name is at most {} characters", Self::MAX_LEN),
            ));
        }
        if let Some(bad) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(InvalidInput::new(
                field,
                format!("{raw:?}: {bad:?} is not allowed in a login name (ASCII letters, digits, . _ -)"),
            ));
        }
        Ok(Self(value))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LoginName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name shown to colleagues (张伟, 姑苏区城管 值班): 1-64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(InvalidInput::new(field, "a display name is required"));
        }
        if value.chars().count() > Self::MAX_CHARS {
            return Err(InvalidInput::new(
                field,
                format!("a display name is at most {} characters", Self::MAX_CHARS),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                field,
                "a display name has no control characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed. Its `Debug` hides it. Between 8 and 256 bytes: argon2 would hash any
/// length, but an unbounded one lets a caller make the server hash megabytes per attempt.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_BYTES: usize = 256;

    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        if raw.len() > Self::MAX_BYTES {
            return Err(InvalidInput::new(
                field,
                format!("a password is at most {} bytes (UTF-8)", Self::MAX_BYTES),
            ));
        }
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(InvalidInput::new(
                field,
                format!("a password is at least {} characters", Self::MIN_CHARS),
            ));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A staff account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub login: LoginName,
    pub display_name: DisplayName,
    pub role: Role,
    pub scope: Scope,
    pub enabled: bool,
    /// argon2id, PHC string format (algorithm, parameters and salt included).
    pub password_hash: String,
    pub failed_logins: u32,
    pub locked_until: Option<DateTime<Utc>>,
    /// Every access token carries the version it was issued under; bumping it revokes them all.
    pub token_version: i64,
    pub created_at: DateTime<Utc>,
}

/// Who is acting, as proven by a credential: what the engine and adapters use instead of the
/// request's self-declared actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub account: AccountId,
    pub login: LoginName,
    pub display_name: String,
    pub role: Role,
    pub scope: Scope,
    /// How the caller proved it.
    pub via: CredentialKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    AccessToken,
    ApiKey,
}

impl Principal {
    /// Whether this principal may call `rpc` at all. Integrators: only the RPCs their key names.
    /// Staff roles' RPC rules (and every ticket-level rule) belong to the engine.
    pub fn may_call(&self, rpc: &str) -> Result<(), crate::IdentityError> {
        match &self.scope {
            Scope::Integrator { rpcs, .. } if !rpcs.iter().any(|r| r.as_str() == rpc) => {
                Err(crate::IdentityError::Forbidden(format!(
                    "this API key may not call {rpc}; it may call {}",
                    rpcs.iter()
                        .map(RpcName::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names_are_lower_cased_and_refuse_spaces_and_chinese() {
        assert_eq!(
            LoginName::parse("l", " Zhang.Wei ").unwrap().as_str(),
            "zhang.wei"
        );
        assert!(LoginName::parse("l", "zhang wei").is_err());
        assert!(LoginName::parse("l", "张伟").is_err());
        assert!(LoginName::parse("l", "").is_err());
        assert!(LoginName::parse("l", &"a".repeat(65)).is_err());
    }

    #[test]
    fn a_password_over_256_bytes_is_refused_and_debug_hides_it() {
        assert!(Password::parse("p", &"密".repeat(85)).is_ok()); // 255 bytes
        let err = Password::parse("p", &"密".repeat(86)).unwrap_err(); // 258 bytes
        assert!(err.message.contains("256 bytes"), "{}", err.message);
        assert!(Password::parse("p", "short").is_err());
        let p = Password::parse("p", "correct horse").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
    }

    #[test]
    fn roles_parse_from_codes_with_dashes_or_underscores() {
        assert_eq!(
            Role::parse("r", "station-staff").unwrap(),
            Role::StationStaff
        );
        assert_eq!(
            Role::parse("r", "knowledge_editor").unwrap(),
            Role::KnowledgeEditor
        );
        let err = Role::parse("r", "root").unwrap_err();
        assert!(err.message.contains("operator"), "{}", err.message);
    }

    #[test]
    fn a_scope_must_fit_its_role() {
        let station = Scope::Station {
            station: StationId::parse("s", "320508014003-css").unwrap(),
        };
        assert!(station.check_for(Role::StationStaff).is_ok());
        assert!(station.check_for(Role::Supervisor).is_err());
        let street = Scope::Territory {
            territory: Territory::parse("t", "320508014").unwrap(),
        };
        assert!(street.check_for(Role::KnowledgeEditor).is_ok());
        assert!(Scope::Centre.check_for(Role::Integrator).is_err());
        assert!(
            Territory::parse("t", "320508014003").is_err(),
            "a community is not a territory"
        );
        assert_eq!(Territory::parse("t", "City").unwrap(), Territory::City);
    }

    #[test]
    fn integrators_may_be_given_intake_rpcs_only() {
        assert!(RpcName::parse("rpc", "SubmitTicket").is_ok());
        let err = RpcName::parse("rpc", "Dispatch").unwrap_err();
        assert!(err.message.contains("intake RPCs only"), "{}", err.message);
    }
}
