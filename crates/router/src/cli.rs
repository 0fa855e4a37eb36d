//! The offline subcommands: train and evaluate a category model, and classify or resolve text
//! from stdin (one line in, one JSON object out), for a centre to check its data and models.

use std::io::{BufRead, Write};
use std::sync::Arc;

use anyhow::Context;
use hotline_classify::{Classifier, Model, Status, TrainOptions, UnclassifiedReason};
use hotline_directory::Directory;
use hotline_territory::{AddressBook, DistrictPolygons, Resolver};
use serde_json::json;

use crate::config::{ClassifyArgs, EvalArgs, ResolveArgs, TrainArgs};

/// Place names for the segmenter, so 沧浪亭社区 or 周市镇 stay one word.
fn place_words(directory: &Directory) -> Vec<String> {
    directory
        .divisions()
        .map(|d| d.short_name.clone())
        .collect()
}

pub fn train(args: &TrainArgs) -> anyhow::Result<()> {
    let mut options = TrainOptions {
        user_words: place_words(&Directory::suzhou()),
        ..TrainOptions::default()
    };
    if let Some(c) = args.c {
        anyhow::ensure!(c > 0.0 && c.is_finite(), "--c must be a positive number");
        options.c = c;
    }
    let file = std::fs::File::open(&args.data)
        .with_context(|| format!("opening {}", args.data.display()))?;
    let also: Vec<&str> = args.also_text.iter().map(String::as_str).collect();
    let model = hotline_classify::read_examples_with(std::io::BufReader::new(file), &also)
        .and_then(|examples| hotline_classify::train_examples(&examples, &options))
        .with_context(|| format!("training on {}", args.data.display()))?;
    model
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "trained on {} examples, {} labels, {} features -> {}",
        model.trained_on(),
        model.labels().len(),
        model.feature_count(),
        args.out.display()
    );
    Ok(())
}

pub fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    let model = Model::load(&args.model)?;
    let report = hotline_classify::evaluate_path(&model, &args.data)
        .with_context(|| format!("evaluating on {}", args.data.display()))?;
    // The report's last line is `macro-F1: <value>`.
    println!("{report}");
    Ok(())
}

pub fn classifier(model: Option<&std::path::Path>, top: usize) -> anyhow::Result<Classifier> {
    let mut classifier = Classifier::shipped().with_top_k(top.max(1));
    classifier.add_words(place_words(&Directory::suzhou()));
    if let Some(path) = model {
        classifier = classifier.with_model(Model::load(path)?)?;
    }
    Ok(classifier)
}

pub fn classify(args: &ClassifyArgs) -> anyhow::Result<()> {
    let classifier = classifier(args.model.as_deref(), args.top)?;
    for_each_line(|text| {
        let c = classifier.classify(text);
        let top = c.top();
        json!({
            "text": text,
            "status": status_code(&c.status),
            "category": top.map(|t| t.code.to_string()),
            "category_name": top.map(|t| t.path.clone()),
            "score": top.map(|t| t.score),
            "categories": c.categories.iter().map(|t| json!({"code": t.code.to_string(), "name": t.path, "score": t.score})).collect::<Vec<_>>(),
            "drivers": c.drivers.iter().map(|d| d.feature.clone()).collect::<Vec<_>>(),
            "source": format!("{:?}", c.source).to_lowercase(),
            "nature": c.nature.map(|n| n.code()),
            "urgency": c.urgency.code(),
            "emergencies": c.emergencies.iter().map(|e| json!({"kind": e.kind, "service": e.service.code(), "cues": e.cues})).collect::<Vec<_>>(),
        })
    })
}

fn status_code(status: &Status) -> &'static str {
    match status {
        Status::Classified => "classified",
        Status::LowConfidence => "low_confidence",
        Status::Unclassified(UnclassifiedReason::Empty) => "unclassified: empty text",
        Status::Unclassified(UnclassifiedReason::NotChinese) => "unclassified: no Chinese text",
        Status::Unclassified(UnclassifiedReason::NothingKnown) => {
            "unclassified: nothing recognised"
        }
    }
}

pub fn resolve(args: &ResolveArgs) -> anyhow::Result<()> {
    let directory = Arc::new(Directory::suzhou());
    let mut resolver = Resolver::new(directory.clone());
    if let Some(path) = &args.polygons {
        resolver = resolver.with_polygons(DistrictPolygons::from_geojson_path(path)?);
    }
    if let Some(path) = &args.address_book {
        resolver = resolver.with_address_book(AddressBook::load_path(path, &directory)?);
    }
    for_each_line(|line| {
        // `lat,lng` resolves a point to its district; anything else is an address or text.
        if let Some((lat, lng)) = parse_point(line) {
            let district = resolver.resolve_point(lat, lng);
            let reason = match (&district, resolver.polygons()) {
                (Some(_), _) => "inside the district's polygon",
                (None, None) => "no district polygons loaded (--polygons FILE)",
                (None, Some(_)) => "outside every district polygon",
            };
            return json!({"input": line, "reason": reason, "outcome": if district.is_some() {"resolved"} else {"unresolved"},
                "level": district.as_ref().map(|_| "district"), "division": district.map(|d| d.to_string())});
        }
        let r = resolver.resolve_text(line);
        let mut value = serde_json::to_value(&r).unwrap_or_default();
        value["input"] = json!(line);
        value["reason"] = json!(r.reason());
        value
    })
}

fn parse_point(line: &str) -> Option<(f64, f64)> {
    let (lat, lng) = line.split_once(',')?;
    Some((lat.trim().parse().ok()?, lng.trim().parse().ok()?))
}

/// Reads stdin line by line (empty lines too: every input gets an answer) and writes one JSON
/// object per line.
fn for_each_line(mut answer: impl FnMut(&str) -> serde_json::Value) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line.context("reading stdin (is it UTF-8?)")?;
        let value = answer(line.trim_end_matches('\r'));
        if writeln!(out, "{value}").is_err() {
            return Ok(()); // the reader went away (e.g. `| head`)
        }
    }
    out.flush().ok();
    Ok(())
}

/// `hotline migrate`: the schema version, then each pending migration, applied unless
/// `--dry-run`. A database migrated by a newer release is refused with both versions named.
pub async fn migrate(args: &crate::config::MigrateArgs) -> anyhow::Result<()> {
    use crate::config::{redact, ServeArgs, Storage};
    let storage = ServeArgs::parse_from([
        "--data-dir".to_owned(),
        args.data_dir.display().to_string(),
        "--database-url".to_owned(),
        args.database_url.clone().unwrap_or_default(),
    ])?
    .storage()
    .map_err(anyhow::Error::msg)?;
    let report = |before: &hotline_store::SchemaStatus,
                  after: Option<&hotline_store::SchemaStatus>| {
        println!(
            "schema version {} (this binary knows up to {})",
            before.version(),
            before.newest_known()
        );
        for (version, description) in before.pending() {
            let state = match after {
                Some(after) if after.applied.contains(&version) => "applied",
                Some(_) => "not applied",
                None => "pending",
            };
            println!("{version:04} {description}: {state}");
        }
        if let Some(after) = after {
            println!("schema version now {}", after.version());
        }
    };
    match storage {
        Storage::Postgres(url) => {
            let before = hotline_store::PgStore::migrate_url(&url, true)
                .await
                .with_context(|| format!("reading the schema of {}", redact(&url)))?;
            let after = if args.dry_run {
                None
            } else {
                Some(
                    hotline_store::PgStore::migrate_url(&url, false)
                        .await
                        .with_context(|| format!("migrating {}", redact(&url)))?,
                )
            };
            report(&before, after.as_ref());
        }
        Storage::SqliteDir(_) | Storage::SqliteUrl(_) => {
            let store = match &storage {
                Storage::SqliteDir(dir) => {
                    hotline_store::SqliteStore::open_dir_unmigrated(dir).await
                }
                Storage::SqliteUrl(url) => {
                    hotline_store::SqliteStore::open_url_unmigrated(url).await
                }
                Storage::Postgres(_) => unreachable!("matched above"),
            }
            .context("opening the SQLite database")?;
            let before = store.schema_status().await?;
            before.check_not_newer()?;
            let after = if args.dry_run {
                None
            } else {
                Some(store.migrate().await?)
            };
            report(&before, after.as_ref());
        }
    }
    Ok(())
}

/// `hotline backup`: a consistent online copy of the embedded default's database.
pub async fn backup(args: &crate::config::BackupArgs) -> anyhow::Result<()> {
    let file = args.data_dir.join("hotline.sqlite");
    anyhow::ensure!(
        file.is_file(),
        "{} has no database to back up (is --data-dir / HOTLINE_DATA_DIR right?)",
        args.data_dir.display()
    );
    let store = hotline_store::SqliteStore::open_dir_unmigrated(&args.data_dir).await?;
    store
        .backup_to(&args.to)
        .await
        .with_context(|| format!("backing up to {}", args.to.display()))?;
    println!("backed up {} to {}", file.display(), args.to.display());
    Ok(())
}

/// `hotline restore`: puts a backup in place; the next `serve` rebuilds the working set.
pub async fn restore(args: &crate::config::RestoreArgs) -> anyhow::Result<()> {
    hotline_store::SqliteStore::restore(&args.from, &args.data_dir, args.replace)
        .await
        .with_context(|| format!("restoring {}", args.from.display()))?;
    println!(
        "restored {} into {}; the working set is rebuilt from it when the router starts",
        args.from.display(),
        args.data_dir.display()
    );
    Ok(())
}

/// `hotline staff ...`: accounts, keys and signing keys, on the store, with the router stopped
/// or running (changes made here reach running replicas within their account cache time).
pub async fn staff(args: &crate::config::StaffArgs) -> anyhow::Result<()> {
    use crate::config::StaffCommand as C;
    use hotline_identity::{
        ApiKeyGrant, DisplayName, KeyRing, LoginName, NewAccount, Password, Role, RpcName,
    };

    let mut argv = vec!["--data-dir".to_owned(), args.data_dir.display().to_string()];
    if let Some(url) = &args.database_url {
        argv.extend(["--database-url".to_owned(), url.clone()]);
    }
    if let Some(keys) = &args.signing_keys {
        argv.extend(["--signing-keys".to_owned(), keys.display().to_string()]);
    }
    let serve = crate::config::ServeArgs::parse_from(argv)?;
    if let C::RotateSigningKey = &args.command {
        let path = crate::server::signing_keys_path(&serve);
        let kid = KeyRing::rotate_file(&path, chrono::Utc::now())?;
        println!(
            "added signing key {kid} to {}; restart the replicas to sign with it",
            path.display()
        );
        return Ok(());
    }
    // Opening the ticket store applies the migrations the accounts live in.
    crate::server::open_store(&serve).await?;
    let identity =
        crate::server::open_identity(&serve, std::sync::Arc::new(hotline_core::SystemClock))
            .await?;
    let read_password = |from_stdin: bool| -> anyhow::Result<(String, bool)> {
        if from_stdin {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
        } else {
            Ok((hotline_identity::password::random_secret(12), true))
        }
    };
    match &args.command {
        C::Add {
            login,
            name,
            role,
            station,
            territory,
            channels,
            rpcs,
            password_stdin,
        } => {
            let role = Role::parse("--role", role)?;
            let channels = channels
                .iter()
                .map(|c| hotline_core::Channel::parse("--channel", c))
                .collect::<Result<Vec<_>, _>>()?;
            let rpcs = rpcs
                .iter()
                .map(|r| RpcName::parse("--rpc", r))
                .collect::<Result<Vec<_>, _>>()?;
            let scope = crate::grpc::auth::scope_for(role, station, territory, channels, rpcs)?;
            let (password, generated) = read_password(*password_stdin)?;
            let account = identity
                .add_account(NewAccount {
                    login: LoginName::parse("--login", login)?,
                    display_name: DisplayName::parse("--name", name)?,
                    role,
                    scope: scope.clone(),
                    password: Password::parse("password", &password)?,
                })
                .await?;
            println!(
                "added {} ({}, {})",
                account.login,
                account.role.code(),
                scope.describe()
            );
            if generated {
                println!("password (shown once): {password}");
            }
        }
        C::List => {
            for a in identity.store().list_accounts().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    a.login,
                    a.role.code(),
                    a.scope.describe(),
                    if a.enabled { "enabled" } else { "disabled" },
                    a.display_name.as_str()
                );
            }
        }
        C::Disable { login } | C::Enable { login } => {
            let enable = matches!(&args.command, C::Enable { .. });
            let login = LoginName::parse("login", login)?;
            identity.set_enabled(&login, enable).await?;
            println!("{login} {}", if enable { "enabled" } else { "disabled" });
        }
        C::Passwd {
            login,
            password_stdin,
        } => {
            let login = LoginName::parse("login", login)?;
            let (password, generated) = read_password(*password_stdin)?;
            identity
                .set_password(&login, &Password::parse("password", &password)?)
                .await?;
            println!("password of {login} set; its sessions ended");
            if generated {
                println!("password (shown once): {password}");
            }
        }
        C::Key {
            login,
            channels,
            rpcs,
            per_minute,
        } => {
            let login = LoginName::parse("login", login)?;
            let account = identity
                .store()
                .account_by_login(&login)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no account with login name {login:?}"))?;
            let (all_channels, all_rpcs) = match &account.scope {
                hotline_identity::Scope::Integrator { channels, rpcs } => {
                    (channels.clone(), rpcs.clone())
                }
                _ => (Vec::new(), Vec::new()),
            };
            let channels = channels
                .iter()
                .map(|c| hotline_core::Channel::parse("--channel", c))
                .collect::<Result<Vec<_>, _>>()?;
            let rpcs = rpcs
                .iter()
                .map(|r| RpcName::parse("--rpc", r))
                .collect::<Result<Vec<_>, _>>()?;
            let issued = identity
                .issue_api_key(
                    &login,
                    ApiKeyGrant {
                        channels: if channels.is_empty() {
                            all_channels
                        } else {
                            channels
                        },
                        rpcs: if rpcs.is_empty() { all_rpcs } else { rpcs },
                        per_minute: *per_minute,
                    },
                )
                .await?;
            println!("key id: {}", issued.id);
            println!("key (shown once): {}", issued.key);
        }
        C::RevokeKey { key_id } => {
            let revoked = identity.revoke_api_key(key_id.trim()).await?;
            anyhow::ensure!(revoked, "no live API key with id {key_id:?}");
            println!("API key {key_id} revoked");
        }
        C::RotateSigningKey => unreachable!("handled above"),
    }
    Ok(())
}

/// `hotline knowledge ...`: import, export and search on the store; `eval` needs none.
pub async fn knowledge(args: &crate::config::KnowledgeArgs) -> anyhow::Result<()> {
    use crate::config::KnowledgeCommand as C;
    if let C::Offline(command) = &args.command {
        let offline = hotline_knowledge::cli::KnowledgeArgs {
            command: command.clone(),
        };
        return Ok(hotline_knowledge::cli::run(&offline)?);
    }
    let mut argv = vec!["--data-dir".to_owned(), args.data_dir.display().to_string()];
    if let Some(url) = &args.database_url {
        argv.extend(["--database-url".to_owned(), url.clone()]);
    }
    let serve = crate::config::ServeArgs::parse_from(argv)?;
    // Opening the ticket store applies the migrations the articles live in.
    crate::server::open_store(&serve).await?;
    let directory = crate::server::load_directory(&serve)?;
    let routing = crate::server::load_routing(&serve, &directory)?;
    let room = crate::knowledge::KnowledgeRoom::open(
        &serve,
        directory,
        Some(routing.engine().classifier().taxonomy().clone()),
        std::sync::Arc::new(hotline_core::SystemClock),
    )
    .await?;
    let service = room.service();
    match &args.command {
        C::Offline(_) => unreachable!("handled above"),
        C::Import(import) => {
            let identity = crate::server::open_identity(
                &serve,
                std::sync::Arc::new(hotline_core::SystemClock),
            )
            .await?;
            let login = hotline_identity::LoginName::parse("--as", &import.as_login)?;
            let account = identity
                .store()
                .account_by_login(&login)
                .await?
                .filter(|a| a.enabled)
                .with_context(|| {
                    format!("--as {login}: no enabled account with that login in this store")
                })?;
            if import.published && account.role != hotline_identity::Role::Administrator {
                anyhow::bail!(
                    "--published: {login} is a {}; only an administrator imports articles as published (without --published they are drafts for review)",
                    account.role.code()
                );
            }
            let rows = hotline_knowledge::transfer::read_file(&import.file)?;
            let staff = hotline_core::StaffId::parse("--as", login.as_str())?;
            let report = service.import(&staff, rows, import.published).await?;
            println!(
                "imported {}: {} created, {} updated, {} unchanged ({})",
                import.file.display(),
                report.created,
                report.updated,
                report.unchanged,
                if import.published {
                    "published"
                } else {
                    "drafts"
                }
            );
        }
        C::Export(export) => {
            let articles = service.store().list(None).await?;
            let extension = export
                .out
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default()
                .to_ascii_lowercase();
            match extension.as_str() {
                "csv" => {
                    let file = std::fs::File::create(&export.out)
                        .with_context(|| format!("creating {}", export.out.display()))?;
                    hotline_knowledge::transfer::write_csv(
                        &articles,
                        std::io::BufWriter::new(file),
                    )?;
                }
                "xlsx" => hotline_knowledge::transfer::write_xlsx(&articles, &export.out)?,
                _ => anyhow::bail!("{}: export to a .csv or .xlsx file", export.out.display()),
            }
            println!(
                "exported {} articles to {}",
                articles.len(),
                export.out.display()
            );
        }
        C::Search(search) => {
            let division = crate::grpc::convert::division_code("--division", &search.division)?;
            let category = search
                .category
                .as_deref()
                .map(|c| hotline_core::CategoryCode::parse("--category", c))
                .transpose()?;
            let on = search.on.unwrap_or_else(|| room.today());
            let hits = room
                .suggest(
                    &search.text,
                    category.as_ref(),
                    division.as_ref(),
                    on,
                    search.limit,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut out = std::io::stdout().lock();
            for hit in hits {
                let line = json!({
                    "article": hit.article.id,
                    "version": hit.article.version,
                    "title": hit.title,
                    "score": hit.score,
                    "territories": hit.territories,
                    "source_number": hit.source_number,
                    "answer": hit.answer,
                });
                writeln!(out, "{line}")?;
            }
        }
    }
    Ok(())
}
