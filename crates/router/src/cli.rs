//! The offline subcommands: train and evaluate a category model, and classify or resolve text
//! from stdin (one line in, one JSON object out), for a centre to check its data and models.

use std::io::{BufRead, Write};
use std::sync::Arc;

use anyhow::Context;
use hotline_classify::calibration::{self, Scored};
use hotline_classify::{
    CalibrateOptions, Classifier, Model, Status, TrainOptions, UnclassifiedReason,
};
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

/// `hotline train`: from a CSV, or `--from-store` from the tickets the centre has handled.
pub async fn train(args: &TrainArgs) -> anyhow::Result<()> {
    let mut options = TrainOptions {
        user_words: place_words(&Directory::suzhou()),
        ..TrainOptions::default()
    };
    if let Some(c) = args.c {
        anyhow::ensure!(c > 0.0 && c.is_finite(), "--c must be a positive number");
        options.c = c;
    }
    anyhow::ensure!(
        args.max_misroute > 0.0 && args.max_misroute < 1.0,
        "--max-misroute is a share of dispatched tickets, between 0 and 1 (0.02 = 2%), not {}",
        args.max_misroute
    );
    anyhow::ensure!(
        args.folds != 1,
        "--folds 1 cannot hold anything out: use 0 (no calibration) or at least 2"
    );
    anyhow::ensure!(
        args.level >= 1,
        "--level counts from 1 (the root categories)"
    );
    anyhow::ensure!(args.min_examples >= 1, "--min-examples must be at least 1");
    // The router classifies against the shipped taxonomy: refuse labels it lacks before the
    // long part, and stamp the version so another taxonomy refuses the model.
    let taxonomy = hotline_classify::Taxonomy::shipped();
    let (labelled, source, fallback) = match &args.data {
        Some(data) => {
            let file =
                std::fs::File::open(data).with_context(|| format!("opening {}", data.display()))?;
            let also: Vec<&str> = args.also_text.iter().map(String::as_str).collect();
            let labelled = hotline_classify::read_grouped(std::io::BufReader::new(file), &also)
                .with_context(|| format!("reading {}", data.display()))?;
            let mut labels: Vec<&str> =
                labelled.examples.iter().map(|e| e.label.as_str()).collect();
            labels.sort_unstable();
            labels.dedup();
            for label in labels {
                taxonomy
                    .resolve(label)
                    .with_context(|| format!("{}: label {label:?}", data.display()))?;
            }
            (labelled, data.display().to_string(), Vec::new())
        }
        None => {
            let (labelled, fallback) = history_examples(args, &taxonomy, &options).await?;
            (labelled, "the store".to_owned(), fallback)
        }
    };
    let (model, report) = if args.folds == 0 {
        let model = hotline_classify::train_examples(&labelled.examples, &options)
            .with_context(|| format!("training on {source}"))?;
        (model, None)
    } else {
        let calibrate = CalibrateOptions {
            folds: args.folds,
            max_misroute: Some(args.max_misroute),
            ..CalibrateOptions::default()
        };
        let (model, report) = hotline_classify::calibration::train_calibrated(
            &labelled.examples,
            &labelled.groups,
            &options,
            &calibrate,
        )
        .with_context(|| format!("training on {source} (--folds 0 trains without calibration)"))?;
        (model, Some(report))
    };
    let model = model
        .with_taxonomy_version(taxonomy.version())
        .with_rules_fallback(fallback);
    // Written beside the target and renamed over it: a router reading the live file never
    // sees half a model.
    let partial = args.out.with_extension("partial");
    model
        .save(&partial)
        .and_then(|()| {
            std::fs::rename(&partial, &args.out).map_err(|e| hotline_classify::ClassifyError::Io {
                context: format!("renaming {} to {}", partial.display(), args.out.display()),
                source: e,
            })
        })
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "trained on {} examples, {} labels, {} features -> {} (version {})",
        model.trained_on(),
        model.labels().len(),
        model.feature_count(),
        args.out.display(),
        model.version()
    );
    if let Some(report) = report {
        let c = &report.calibration;
        println!(
            "cross-validation ({} folds, {} examples): macro-F1 {:.4}; ECE {:.4} uncalibrated, {:.4} calibrated (softmax scale {:.2})",
            c.folds, c.examples, report.macro_f1, report.before.ece, report.after.ece, c.scale
        );
        if let Some(selective) = &c.selective {
            println!("dispatch: {} (out of fold)", selective.describe());
        }
    }
    Ok(())
}

/// The labelled history of the store: closed tickets' final categories at `--level`, the
/// categories with too few examples (left to the rules), and, with `--live`, the shadow
/// comparison that must pass before anything is written.
async fn history_examples(
    args: &TrainArgs,
    taxonomy: &hotline_classify::Taxonomy,
    options: &TrainOptions,
) -> anyhow::Result<(hotline_classify::Labelled, Vec<String>)> {
    use futures::{StreamExt, TryStreamExt};
    use hotline_classify::history::{self, HistoryLabel};

    let mut argv = vec!["--data-dir".to_owned(), args.data_dir.display().to_string()];
    if let Some(url) = &args.database_url {
        argv.extend(["--database-url".to_owned(), url.clone()]);
    }
    let serve = crate::config::ServeArgs::parse_from(argv)?;
    let store = crate::server::open_store(&serve).await?;
    let mut examples: Vec<(hotline_classify::Example, chrono::DateTime<chrono::Utc>)> = Vec::new();
    let mut skipped: std::collections::BTreeMap<&'static str, usize> = Default::default();
    let mut corrected = 0_usize;
    let mut before_id = None;
    loop {
        let page = store
            .search(&hotline_store::SearchQuery {
                stage: Some(hotline_core::Stage::Closed),
                before_id,
                limit: 500,
                ..Default::default()
            })
            .await?;
        let Some(last) = page.last() else { break };
        before_id = Some(last.id);
        let logs: Vec<_> = futures::stream::iter(page.iter().map(|t| {
            let store = store.clone();
            let id = t.id;
            async move { store.events(id).await }
        }))
        .buffered(16)
        .try_collect()
        .await?;
        for (ticket, events) in page.iter().zip(logs) {
            match history::label_of(&events) {
                HistoryLabel::Label {
                    category,
                    corrected: by_hand,
                } => {
                    let Some(label) = history::at_level(taxonomy, &category, args.level) else {
                        *skipped.entry("category not in the taxonomy").or_insert(0) += 1;
                        continue;
                    };
                    corrected += usize::from(by_hand);
                    examples.push((
                        hotline_classify::Example {
                            text: ticket.text.clone(),
                            label: label.to_string(),
                        },
                        ticket.created_at,
                    ));
                }
                HistoryLabel::Skip(reason) => *skipped.entry(reason.describe()).or_insert(0) += 1,
            }
        }
    }
    let skipped_text = skipped
        .iter()
        .map(|(why, n)| format!("{n} {why}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "history: {} labelled closed tickets ({corrected} corrected by staff); skipped: {}",
        examples.len(),
        if skipped_text.is_empty() {
            "none"
        } else {
            &skipped_text
        }
    );
    let plain: Vec<hotline_classify::Example> = examples.iter().map(|(e, _)| e.clone()).collect();
    let (counts, few) = history::too_few(&plain, args.min_examples);
    let learnable = counts.len() - few.len();
    let per_class = || {
        counts
            .iter()
            .map(|(label, n)| format!("{label} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    anyhow::ensure!(
        learnable >= 2,
        "too few labelled tickets to train: {} categories have at least --min-examples {} (per category: {}); a model needs two",
        learnable,
        args.min_examples,
        if counts.is_empty() { "none".to_owned() } else { per_class() }
    );
    if !few.is_empty() {
        println!(
            "too few to learn (under {}), the keyword rules answer for: {}",
            args.min_examples,
            few.iter()
                .map(|l| format!("{l} ({})", counts[l]))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    examples.retain(|(e, _)| !few.contains(&e.label));

    if let Some(live_path) = &args.live {
        let live = Model::load(live_path)?;
        let newest = examples
            .iter()
            .map(|(_, at)| *at)
            .max()
            .expect("at least two labels");
        let since = newest - chrono::Duration::weeks(i64::from(args.shadow_weeks));
        let (recent, older): (Vec<_>, Vec<_>) = examples.iter().partition(|(_, at)| *at > since);
        let older: Vec<hotline_classify::Example> =
            older.into_iter().map(|(e, _)| e.clone()).collect();
        let recent: Vec<hotline_classify::Example> =
            recent.into_iter().map(|(e, _)| e.clone()).collect();
        let (older_counts, _) = history::too_few(&older, 1);
        anyhow::ensure!(
            older_counts.len() >= 2 && !recent.is_empty(),
            "the shadow comparison needs tickets from before and within the latest {} weeks: {} before, {} within; shorten --shadow-weeks or train without --live",
            args.shadow_weeks,
            older.len(),
            recent.len()
        );
        let candidate = hotline_classify::train_examples(&older, options)?;
        let shadow = history::shadow_compare(&candidate, &live, &recent, taxonomy, args.level)?;
        println!(
            "shadow: on the latest {} weeks ({} tickets), macro-F1 {:.4} new vs {:.4} live ({})",
            args.shadow_weeks,
            shadow.examples,
            shadow.candidate_macro_f1,
            shadow.live_macro_f1,
            live.version()
        );
        anyhow::ensure!(
            shadow.not_worse(),
            "the new model is worse than the live one ({}) on the latest {} weeks: macro-F1 {:.4} < {:.4}; nothing written",
            live.version(),
            args.shadow_weeks,
            shadow.candidate_macro_f1,
            shadow.live_macro_f1
        );
    }
    let labelled = hotline_classify::Labelled {
        groups: (0..examples.len()).collect(),
        examples: examples.into_iter().map(|(e, _)| e).collect(),
    };
    Ok((labelled, few))
}

pub fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    let model = Model::load(&args.model)?;
    // The router checks the model against its taxonomy on start: so does the evaluation.
    Classifier::shipped().with_model(model.clone())?;
    let examples = std::fs::File::open(&args.data)
        .map_err(anyhow::Error::from)
        .and_then(|f| Ok(hotline_classify::read_examples(std::io::BufReader::new(f))?))
        .with_context(|| format!("evaluating on {}", args.data.display()))?;
    let report = hotline_classify::evaluate_examples(&model, &examples);
    println!("{report}");
    let scored: Vec<Scored> = examples
        .iter()
        .map(|e| {
            let (label, probability) = model.predict_top(&e.text);
            Scored {
                confidence: probability,
                correct: label == e.label,
            }
        })
        .collect();
    let table = calibration::reliability(&scored, 10);
    println!();
    println!(
        "reliability (top-category probability; model {}, {}):",
        model.version(),
        if model.calibration().is_some() {
            "calibrated"
        } else {
            "not calibrated: train with --folds 5"
        }
    );
    println!("  probability   messages  mean prob  share right");
    for bin in table.bins.iter().filter(|b| b.count > 0) {
        println!(
            "  {:.1}-{:.1}    {:>9}  {:>9.3}  {:>11.3}",
            bin.lower, bin.upper, bin.count, bin.confidence, bin.accuracy
        );
    }
    println!("ECE: {:.4}", table.ece);
    println!();
    println!("precision by coverage (the most confident first):");
    println!("  coverage  precision  lowest probability");
    for point in calibration::coverage_curve(&scored) {
        println!(
            "  {:>8.1}%  {:>8.1}%  {:>18.3}",
            point.coverage * 100.0,
            point.precision * 100.0,
            point.threshold
        );
    }
    println!();
    match model.threshold() {
        Some(threshold) => {
            let (coverage, precision) = calibration::selective_at(&scored, threshold);
            println!(
                "selective: threshold={threshold:.4} coverage={coverage:.4} precision={precision:.4}"
            );
        }
        None => println!(
            "selective: threshold=none (the model has no dispatch threshold: train with --max-misroute)"
        ),
    }
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
            "threshold": c.threshold,
            "model_version": classifier.model().map(Model::version),
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

/// `hotline backup`: a consistent online copy of the embedded default's database, safe while
/// routers serve and write (`hotline_store::backup`).
pub async fn backup(args: &crate::config::BackupArgs) -> anyhow::Result<()> {
    let copied = hotline_store::backup::backup(&args.data_dir, &args.to)
        .await
        .with_context(|| {
            format!(
                "backing up {} to {}",
                args.data_dir.display(),
                args.to.display()
            )
        })?;
    println!(
        "backed up {} to {}: {} tickets, {} events, schema version {}, {} bytes",
        args.data_dir
            .join(hotline_store::backup::DATABASE_FILE)
            .display(),
        copied.path.display(),
        copied.tickets,
        copied.events,
        copied.schema_version,
        copied.bytes
    );
    Ok(())
}

/// `hotline restore`: checks a backup and puts it in place; the next `serve` migrates it if it
/// is older than this binary and rebuilds the working set and the knowledge index from it.
pub async fn restore(args: &crate::config::RestoreArgs) -> anyhow::Result<()> {
    let copied = hotline_store::backup::restore(&args.from, &args.data_dir, args.force)
        .await
        .with_context(|| {
            format!(
                "restoring {} into {}",
                args.from.display(),
                args.data_dir.display()
            )
        })?;
    println!(
        "restored {} into {}: {} tickets, {} events, schema version {}; start the router on it \
         to rebuild the queues and the knowledge index",
        args.from.display(),
        copied.path.display(),
        copied.tickets,
        copied.events,
        copied.schema_version
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
