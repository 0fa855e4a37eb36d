//! What authentication costs the router per request: the authentication layer's work
//! (`grpc::auth::authorize`: read the header, verify the credential, check the RPC) for an
//! access token and for an integrator API key, on a warm account cache, one thread, measured in
//! the process's CPU time. `benches/submit/run.sh` prints it beside the submit figures.
//!
//!   cargo run --release -p hotline-router --example auth_cost -- [REQUESTS]
//!
//! Prints `auth_token_us=... auth_api_key_us=...`.

use std::sync::Arc;

use hotline_core::SystemClock;
use hotline_identity::{
    ApiKeyGrant, DisplayName, Identity, IdentityConfig, KeyRing, LoginName, NewAccount, Password,
    Role, RpcName, Scope, SqliteAccounts, INTEGRATOR_RPCS,
};
use hotline_router::grpc::auth::authorize;

fn cpu_seconds() -> f64 {
    // The process's CPU time (user + system), from /proc: no extra dependency for one number.
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn main() -> anyhow::Result<()> {
    let requests: u32 = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(200_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        // The ticket store makes the schema the accounts live in.
        hotline_store::SqliteStore::open_dir(dir.path()).await?;
        let accounts = Arc::new(SqliteAccounts::open_dir(dir.path()).await?);
        let keys_path = dir.path().join("keys.json");
        KeyRing::rotate_file(&keys_path, chrono::Utc::now())?;
        let identity = Identity::new(
            accounts,
            Arc::new(SystemClock),
            KeyRing::load(&keys_path)?,
            IdentityConfig::default(),
        );
        let add = |login: &str, role, scope| NewAccount {
            login: LoginName::parse("login", login).unwrap(),
            display_name: DisplayName::parse("name", login).unwrap(),
            role,
            scope,
            password: Password::parse("password", "bench-password").unwrap(),
        };
        identity
            .add_account(add("op", Role::Operator, Scope::Centre))
            .await?;
        let rpcs: Vec<RpcName> = INTEGRATOR_RPCS
            .iter()
            .map(|r| RpcName::parse("rpc", r).unwrap())
            .collect();
        identity
            .add_account(add(
                "portal",
                Role::Integrator,
                Scope::Integrator {
                    channels: hotline_core::Channel::ALL.to_vec(),
                    rpcs: rpcs.clone(),
                },
            ))
            .await?;
        let token = identity.login("op", "bench-password").await?.access_token;
        let key = identity
            .issue_api_key(
                &LoginName::parse("login", "portal")?,
                ApiKeyGrant {
                    channels: hotline_core::Channel::ALL.to_vec(),
                    rpcs,
                    per_minute: u32::MAX,
                },
            )
            .await?
            .key;
        let path = "/hotline.v1.Intake/SubmitTicket";
        let mut results = Vec::new();
        for (name, credential) in [("token", token), ("api_key", key)] {
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::AUTHORIZATION,
                format!("Bearer {credential}").parse()?,
            );
            // Warm: the account and key caches hold what a busy router's do.
            for _ in 0..1000 {
                authorize(&identity, path, &headers).await?;
            }
            let before = cpu_seconds();
            for _ in 0..requests {
                let principal = authorize(&identity, path, &headers).await?;
                std::hint::black_box(principal);
            }
            let us = (cpu_seconds() - before) * 1e6 / f64::from(requests);
            results.push(format!("auth_{name}_us={us:.2}"));
        }
        println!("{}", results.join(" "));
        anyhow::Ok(())
    })
}
