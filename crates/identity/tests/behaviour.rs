//! One behaviour suite for identity, run against every backend: SQLite (the embedded default)
//! and PostgreSQL. Time is a ManualClock; nothing sleeps.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use hotline_core::{Channel, ManualClock, StationId, TicketId};
use hotline_identity::{
    AccountStore, ApiKeyGrant, Authenticator, ContactAccessQuery, Credential, CredentialKind,
    DisplayName, ErrorCode, Identity, IdentityConfig, IdentityError, KeyRing, LoginName,
    NewAccount, Password, Role, RpcName, Scope, SigningKey, Territory,
};

struct World {
    identity: Identity,
    clock: ManualClock,
    keys: KeyRing,
    store: Arc<dyn AccountStore>,
}

fn world(store: Arc<dyn AccountStore>) -> World {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let keys = KeyRing::new(vec![SigningKey::generate(clock_now(&clock))], "test").unwrap();
    let config = IdentityConfig {
        max_failures: 3,
        lockout: Duration::minutes(10),
        ..IdentityConfig::default()
    };
    World {
        identity: Identity::new(
            Arc::clone(&store),
            Arc::new(clock.clone()),
            keys.clone(),
            config,
        ),
        clock,
        keys,
        store,
    }
}

fn clock_now(clock: &ManualClock) -> chrono::DateTime<Utc> {
    hotline_core::Clock::now(clock)
}

fn login(s: &str) -> LoginName {
    LoginName::parse("login", s).unwrap()
}

fn new_account(name: &str, role: Role, scope: Scope) -> NewAccount {
    NewAccount {
        login: login(name),
        display_name: DisplayName::parse("display_name", "张伟").unwrap(),
        role,
        scope,
        password: Password::parse("password", "correct horse 电池").unwrap(),
    }
}

fn station_staff(name: &str) -> NewAccount {
    new_account(
        name,
        Role::StationStaff,
        Scope::Station {
            station: StationId::parse("s", "320508014003-css").unwrap(),
        },
    )
}

fn integrator(name: &str) -> NewAccount {
    new_account(
        name,
        Role::Integrator,
        Scope::Integrator {
            channels: vec![Channel::App, Channel::Web],
            rpcs: vec![
                RpcName::parse("rpc", "SubmitTicket").unwrap(),
                RpcName::parse("rpc", "GetTicket").unwrap(),
            ],
        },
    )
}

async fn bearer(w: &World, name: &str) -> Credential {
    let tokens = w.identity.login(name, "correct horse 电池").await.unwrap();
    Credential::Bearer(tokens.access_token)
}

pub async fn accounts_are_created_listed_and_found_by_login(store: Arc<dyn AccountStore>) {
    let w = world(store);
    let created = w
        .identity
        .add_account(station_staff("Zhang.Wei"))
        .await
        .unwrap();
    w.identity
        .add_account(new_account(
            "li.na",
            Role::Supervisor,
            Scope::Territory {
                territory: Territory::parse("t", "320508").unwrap(),
            },
        ))
        .await
        .unwrap();
    let found = w
        .store
        .account_by_login(&login("zhang.wei"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, created);
    assert!(found.password_hash.starts_with("$argon2id$"));
    let listed: Vec<String> = w
        .store
        .list_accounts()
        .await
        .unwrap()
        .iter()
        .map(|a| a.login.as_str().to_owned())
        .collect();
    assert_eq!(listed, ["li.na", "zhang.wei"]);
    let again = w
        .identity
        .add_account(station_staff("ZHANG.WEI"))
        .await
        .unwrap_err();
    assert!(matches!(again, IdentityError::LoginTaken(_)), "{again:?}");
    let misfit = w
        .identity
        .add_account(new_account("x", Role::Supervisor, Scope::Centre))
        .await
        .unwrap_err();
    assert_eq!(misfit.code(), ErrorCode::InvalidArgument, "{misfit}");
    assert_eq!(w.store.count_accounts().await.unwrap(), 2);
}

pub async fn a_login_token_authenticates_as_the_account_with_its_role_and_scope(
    store: Arc<dyn AccountStore>,
) {
    let w = world(store);
    let account = w
        .identity
        .add_account(station_staff("zhang.wei"))
        .await
        .unwrap();
    let tokens = w
        .identity
        .login("Zhang.Wei", "correct horse 电池")
        .await
        .unwrap();
    assert_eq!(
        tokens.access_expires_at,
        clock_now(&w.clock) + Duration::minutes(15)
    );
    let principal = w
        .identity
        .authenticate(
            &Credential::from_authorization(&format!("Bearer {}", tokens.access_token)).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(principal.account, account.id);
    assert_eq!(principal.role, Role::StationStaff);
    assert_eq!(principal.scope, account.scope);
    assert_eq!(principal.via, CredentialKind::AccessToken);
    assert_eq!(principal.display_name, "张伟");
}

pub async fn wrong_passwords_lock_the_account_for_the_lockout_then_it_opens(
    store: Arc<dyn AccountStore>,
) {
    let w = world(store);
    w.identity
        .add_account(station_staff("zhang.wei"))
        .await
        .unwrap();
    for _ in 0..2 {
        let e = w
            .identity
            .login("zhang.wei", "wrong password")
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::InvalidCredentials), "{e:?}");
    }
    // A success clears the count: two more failures do not lock.
    w.identity
        .login("zhang.wei", "correct horse 电池")
        .await
        .unwrap();
    for _ in 0..2 {
        w.identity
            .login("zhang.wei", "wrong password")
            .await
            .unwrap_err();
    }
    w.identity
        .login("zhang.wei", "correct horse 电池")
        .await
        .unwrap();
    for _ in 0..3 {
        w.identity
            .login("zhang.wei", "wrong password")
            .await
            .unwrap_err();
    }
    let locked = w
        .identity
        .login("zhang.wei", "correct horse 电池")
        .await
        .unwrap_err();
    match &locked {
        IdentityError::Locked { until } => {
            assert_eq!(*until, clock_now(&w.clock) + Duration::minutes(10))
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert_eq!(locked.code(), ErrorCode::Unauthenticated);
    assert!(locked.to_string().contains("locked until"), "{locked}");
    w.clock.advance(Duration::minutes(10));
    w.identity
        .login("zhang.wei", "correct horse 电池")
        .await
        .unwrap();
    let account = w
        .store
        .account_by_login(&login("zhang.wei"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((account.failed_logins, account.locked_until), (0, None));
    // An unknown name is refused like a wrong password.
    let unknown = w
        .identity
        .login("nobody", "correct horse 电池")
        .await
        .unwrap_err();
    assert!(matches!(unknown, IdentityError::InvalidCredentials));
}

pub async fn an_over_long_password_is_refused_without_counting_a_failure(
    store: Arc<dyn AccountStore>,
) {
    let w = world(store);
    w.identity
        .add_account(station_staff("zhang.wei"))
        .await
        .unwrap();
    let long = "x".repeat(257);
    let e = w.identity.login("zhang.wei", &long).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(e.to_string().contains("256 bytes"), "{e}");
    let account = w
        .store
        .account_by_login(&login("zhang.wei"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.failed_logins, 0);
}

pub async fn expired_forged_wrong_key_and_revoked_tokens_are_each_refused(
    store: Arc<dyn AccountStore>,
) {
    let w = world(store);
    let account = w
        .identity
        .add_account(station_staff("zhang.wei"))
        .await
        .unwrap();
    let token = match bearer(&w, "zhang.wei").await {
        Credential::Bearer(t) => t,
        Credential::ApiKey(_) => unreachable!(),
    };

    // Forged: the payload changed (another role), signature kept.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    let forged = w
        .identity
        .authenticate(&Credential::Bearer(parts.join(".")))
        .await
        .unwrap_err();
    assert!(matches!(forged, IdentityError::TokenForged), "{forged:?}");
    let garbage = w
        .identity
        .authenticate(&Credential::Bearer("not a jwt".into()))
        .await
        .unwrap_err();
    assert!(matches!(garbage, IdentityError::TokenForged), "{garbage:?}");

    // Wrong key: signed by another deployment's ring.
    let other = Identity::new(
        Arc::clone(&w.store),
        Arc::new(w.clock.clone()),
        KeyRing::new(vec![SigningKey::generate(clock_now(&w.clock))], "other").unwrap(),
        IdentityConfig::default(),
    );
    let foreign = other
        .login("zhang.wei", "correct horse 电池")
        .await
        .unwrap()
        .access_token;
    let wrong_key = w
        .identity
        .authenticate(&Credential::Bearer(foreign))
        .await
        .unwrap_err();
    assert!(
        matches!(wrong_key, IdentityError::TokenWrongKey { .. }),
        "{wrong_key:?}"
    );

    // A rotated ring (new key signs, old one still verifies) accepts the old token.
    let mut rotated_keys = vec![SigningKey::generate(
        clock_now(&w.clock) + Duration::seconds(1),
    )];
    rotated_keys.push(w.keys.signing().clone());
    let rotated = Identity::new(
        Arc::clone(&w.store),
        Arc::new(w.clock.clone()),
        KeyRing::new(rotated_keys, "rotated").unwrap(),
        IdentityConfig::default(),
    );
    rotated
        .authenticate(&Credential::Bearer(token.clone()))
        .await
        .unwrap();

    // Expired.
    w.clock.advance(Duration::minutes(15));
    let expired = w
        .identity
        .authenticate(&Credential::Bearer(token.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(expired, IdentityError::TokenExpired { .. }),
        "{expired:?}"
    );
    assert!(
        expired.to_string().contains("refresh it or log in again"),
        "{expired}"
    );

    // Revoked: logout everywhere.
    let fresh = bearer(&w, "zhang.wei").await;
    w.identity.authenticate(&fresh).await.unwrap();
    w.identity.revoke_all(account.id).await.unwrap();
    let revoked = w.identity.authenticate(&fresh).await.unwrap_err();
    assert!(
        matches!(revoked, IdentityError::TokenRevoked),
        "{revoked:?}"
    );

    for e in [forged, wrong_key, expired, revoked] {
        assert_eq!(e.code(), ErrorCode::Unauthenticated);
    }
}

pub async fn a_disabled_or_deleted_account_is_refused_with_the_token_it_had(
    store: Arc<dyn AccountStore>,
) {
    let w = world(store);
    w.identity
        .add_account(station_staff("zhang.wei"))
        .await
        .unwrap();
    let token = bearer(&w, "zhang.wei").await;
    let disabled = w
        .identity
        .set_enabled(&login("zhang.wei"), false)
        .await
        .unwrap();
    assert!(!disabled.enabled);
    let e = w.identity.authenticate(&token).await.unwrap_err();
    assert!(matches!(e, IdentityError::AccountDisabled), "{e:?}");
    let e = w
        .identity
        .login("zhang.wei", "correct horse 电池")
        .await
        .unwrap_err();
    assert!(matches!(e, IdentityError::AccountDisabled), "{e:?}");
    // Re-enabling does not bring the old token back.
    w.identity
        .set_enabled(&login("zhang.wei"), true)
        .await
        .unwrap();
    let e = w.identity.authenticate(&token).await.unwrap_err();
    assert!(matches!(e, IdentityError::TokenRevoked), "{e:?}");

    let token = bearer(&w, "zhang.wei").await;
    w.identity
        .delete_account(&login("zhang.wei"))
        .await
        .unwrap();
    let e = w.identity.authenticate(&token).await.unwrap_err();
    assert!(matches!(e, IdentityError::AccountDeleted), "{e:?}");
}

pub async fn refresh_tokens_rotate_on_use_and_a_used_or_logged_out_one_is_refused(
    store: Arc<dyn AccountStore>,
) {
    let w = world(store);
    w.identity
        .add_account(station_staff("zhang.wei"))
        .await
        .unwrap();
    let first = w
        .identity
        .login("zhang.wei", "correct horse 电池")
        .await
        .unwrap();
    // Stored hashed, never in clear.
    assert!(w
        .store
        .refresh_token(&first.refresh_token)
        .await
        .unwrap()
        .is_none());
    w.clock.advance(Duration::minutes(20));
    let second = w.identity.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    w.identity
        .authenticate(&Credential::Bearer(second.access_token.clone()))
        .await
        .unwrap();
    let reused = w.identity.refresh(&first.refresh_token).await.unwrap_err();
    assert!(
        matches!(reused, IdentityError::RefreshRevoked),
        "{reused:?}"
    );

    w.identity.logout(&second.refresh_token).await.unwrap();
    let e = w.identity.refresh(&second.refresh_token).await.unwrap_err();
    assert!(matches!(e, IdentityError::RefreshRevoked), "{e:?}");

    let third = w
        .identity
        .login("zhang.wei", "correct horse 电池")
        .await
        .unwrap();
    w.clock.advance(Duration::days(14));
    let e = w.identity.refresh(&third.refresh_token).await.unwrap_err();
    assert!(matches!(e, IdentityError::RefreshExpired { .. }), "{e:?}");
}

pub async fn a_password_change_ends_every_session(store: Arc<dyn AccountStore>) {
    let w = world(store);
    w.identity
        .add_account(station_staff("zhang.wei"))
        .await
        .unwrap();
    let tokens = w
        .identity
        .login("zhang.wei", "correct horse 电池")
        .await
        .unwrap();
    let new = Password::parse("password", "a new password 2026").unwrap();
    w.identity
        .set_password(&login("zhang.wei"), &new)
        .await
        .unwrap();
    let e = w
        .identity
        .authenticate(&Credential::Bearer(tokens.access_token))
        .await
        .unwrap_err();
    assert!(matches!(e, IdentityError::TokenRevoked), "{e:?}");
    assert!(w.identity.refresh(&tokens.refresh_token).await.is_err());
    assert!(w
        .identity
        .login("zhang.wei", "correct horse 电池")
        .await
        .is_err());
    w.identity
        .login("zhang.wei", "a new password 2026")
        .await
        .unwrap();
}

pub async fn api_keys_authenticate_within_their_grant_and_rate_limit(store: Arc<dyn AccountStore>) {
    let w = world(store);
    w.identity
        .add_account(integrator("wechat-bridge"))
        .await
        .unwrap();
    w.identity
        .add_account(station_staff("zhang.wei"))
        .await
        .unwrap();
    let grant = ApiKeyGrant {
        channels: vec![Channel::App],
        rpcs: vec![RpcName::parse("rpc", "SubmitTicket").unwrap()],
        per_minute: 2,
    };
    let issued = w
        .identity
        .issue_api_key(&login("wechat-bridge"), grant.clone())
        .await
        .unwrap();
    assert!(issued.key.starts_with("hk_"));
    assert_ne!(issued.record.key_hash, issued.key, "stored hashed");
    let credential = Credential::from_authorization(&format!("Bearer {}", issued.key)).unwrap();
    assert!(matches!(credential, Credential::ApiKey(_)));

    let principal = w.identity.authenticate(&credential).await.unwrap();
    assert_eq!(principal.role, Role::Integrator);
    assert_eq!(principal.via, CredentialKind::ApiKey);
    assert_eq!(
        principal.scope,
        Scope::Integrator {
            channels: grant.channels.clone(),
            rpcs: grant.rpcs.clone()
        },
        "the key's grant, narrower than the account's"
    );
    principal.may_call("SubmitTicket").unwrap();
    let denied = principal.may_call("GetTicket").unwrap_err();
    assert_eq!(denied.code(), ErrorCode::PermissionDenied);
    assert!(principal.may_call("Dispatch").is_err());

    w.identity.authenticate(&credential).await.unwrap();
    let limited = w.identity.authenticate(&credential).await.unwrap_err();
    assert_eq!(limited.code(), ErrorCode::ResourceExhausted, "{limited}");
    w.clock.advance(Duration::seconds(30));
    w.identity.authenticate(&credential).await.unwrap();

    // Outside the account's scope, or for a staff account: refused.
    let wide = ApiKeyGrant {
        channels: vec![Channel::Hotline],
        ..grant.clone()
    };
    let e = w
        .identity
        .issue_api_key(&login("wechat-bridge"), wide)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    let e = w
        .identity
        .issue_api_key(&login("zhang.wei"), grant.clone())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("API keys are for integrators"),
        "{e}"
    );

    let listed = w.store.api_keys(issued.record.account).await.unwrap();
    assert_eq!(listed, vec![issued.record.clone()]);
    assert!(w.identity.revoke_api_key(&issued.id).await.unwrap());
    w.clock.advance(Duration::minutes(5));
    let e = w.identity.authenticate(&credential).await.unwrap_err();
    assert!(matches!(e, IdentityError::ApiKeyInvalid), "{e:?}");
    let e = w
        .identity
        .authenticate(&Credential::ApiKey("hk_made_up".into()))
        .await
        .unwrap_err();
    assert!(matches!(e, IdentityError::ApiKeyInvalid), "{e:?}");
}

pub async fn the_first_start_creates_admin_once_with_a_password_that_logs_in(
    store: Arc<dyn AccountStore>,
) {
    let w = world(store);
    let admin = w
        .identity
        .bootstrap_admin()
        .await
        .unwrap()
        .expect("empty store");
    assert_eq!(admin.login, "admin");
    assert!(admin.password.len() >= 20);
    assert!(!format!("{admin:?}").contains(&admin.password));
    let tokens = w.identity.login("admin", &admin.password).await.unwrap();
    assert_eq!(tokens.principal.role, Role::Administrator);
    assert!(
        w.identity.bootstrap_admin().await.unwrap().is_none(),
        "only on an empty store"
    );

    let dir = hotline_store::testing::TempDir::new();
    let path = hotline_identity::write_initial_password(dir.path(), &admin).unwrap();
    assert_eq!(path, dir.path().join("initial-admin-password"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().trim(),
        admin.password
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

pub async fn unmasked_contact_reads_are_logged_and_queried(store: Arc<dyn AccountStore>) {
    let w = world(store);
    w.identity
        .add_account(station_staff("zhang.wei"))
        .await
        .unwrap();
    w.identity
        .add_account(station_staff("li.na"))
        .await
        .unwrap();
    let zhang = w
        .identity
        .login("zhang.wei", "correct horse 电池")
        .await
        .unwrap()
        .principal;
    let li = w
        .identity
        .login("li.na", "correct horse 电池")
        .await
        .unwrap()
        .principal;
    let (t1, t2) = (TicketId::new(), TicketId::new());
    let start = clock_now(&w.clock);
    w.identity.log_contact_access(&zhang, t1).await.unwrap();
    w.clock.advance(Duration::minutes(1));
    w.identity.log_contact_access(&li, t1).await.unwrap();
    w.clock.advance(Duration::minutes(1));
    w.identity.log_contact_access(&zhang, t2).await.unwrap();

    let by_ticket = w
        .identity
        .contact_accesses(&ContactAccessQuery {
            ticket: Some(t1),
            ..Default::default()
        })
        .await
        .unwrap();
    let readers: Vec<_> = by_ticket.iter().map(|e| e.account).collect();
    assert_eq!(readers, vec![zhang.account, li.account]);
    assert_eq!(by_ticket[0].at, start);

    let by_account = w
        .identity
        .contact_accesses(&ContactAccessQuery {
            account: Some(zhang.account),
            since: Some(start + Duration::seconds(30)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_account.len(), 1);
    assert_eq!(by_account[0].ticket, t2);

    let limited = w
        .identity
        .contact_accesses(&ContactAccessQuery {
            until: Some(start + Duration::minutes(2)),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].account, zhang.account);
}

macro_rules! behaviour_suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            behaviour_suite!(@tests $make;
                accounts_are_created_listed_and_found_by_login,
                a_login_token_authenticates_as_the_account_with_its_role_and_scope,
                wrong_passwords_lock_the_account_for_the_lockout_then_it_opens,
                an_over_long_password_is_refused_without_counting_a_failure,
                expired_forged_wrong_key_and_revoked_tokens_are_each_refused,
                a_disabled_or_deleted_account_is_refused_with_the_token_it_had,
                refresh_tokens_rotate_on_use_and_a_used_or_logged_out_one_is_refused,
                a_password_change_ends_every_session,
                api_keys_authenticate_within_their_grant_and_rate_limit,
                the_first_start_creates_admin_once_with_a_password_that_logs_in,
                unmasked_contact_reads_are_logged_and_queried,
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

async fn sqlite() -> (Arc<dyn AccountStore>, hotline_store::testing::TempDir) {
    let dir = hotline_store::testing::TempDir::new();
    let store = hotline_identity::SqliteAccounts::open_dir(dir.path())
        .await
        .unwrap();
    (Arc::new(store), dir)
}

async fn postgres() -> (Arc<dyn AccountStore>, ()) {
    let url = hotline_store::testing::fresh_postgres_url().await.unwrap();
    let store = hotline_identity::PgAccounts::connect(&url, 4)
        .await
        .unwrap();
    (Arc::new(store), ())
}

behaviour_suite!(sqlite, super::sqlite().await);
behaviour_suite!(postgres, super::postgres().await);
