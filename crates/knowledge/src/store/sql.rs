//! The SQL of the knowledge tables, written once and compiled for SQLite and PostgreSQL (both
//! accept `$n` placeholders).

use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use hotline_core::{CategoryCode, DivisionCode, StaffId, StationId};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{PgPool, Row, SqlitePool};

use super::{Change, KnowledgeStore, Live, LiveArticle, NewArticle};
use crate::domain::{
    Action, Article, ArticleId, Content, Feedback, FeedbackKind, HistoryEntry, Source, Status,
    Version,
};
use crate::KnowledgeError;

// The same migration directories as the ticket store: whichever opens the database first
// creates every table, and the other finds them applied.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// The knowledge tables in the embedded SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteKnowledge {
    pool: SqlitePool,
}

impl SqliteKnowledge {
    /// Opens (creating if needed) `hotline.sqlite` in `dir`, the file `hotline serve` uses.
    pub async fn open_dir(dir: &Path) -> Result<Self, KnowledgeError> {
        std::fs::create_dir_all(dir).map_err(|source| KnowledgeError::Io {
            what: format!("creating data directory {}", dir.display()),
            source,
        })?;
        Self::open(SqliteConnectOptions::new().filename(dir.join("hotline.sqlite"))).await
    }

    pub async fn open_url(url: &str) -> Result<Self, KnowledgeError> {
        Self::open(SqliteConnectOptions::from_str(url)?).await
    }

    async fn open(options: SqliteConnectOptions) -> Result<Self, KnowledgeError> {
        // The ticket store's settings, from the ticket store (one file, one set of settings).
        let pool = hotline_store::sqlite::connect(options, 2).await?;
        SQLITE_MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| KnowledgeError::Database(e.into()))?;
        Ok(Self { pool })
    }
}

/// The knowledge tables in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgKnowledge {
    pool: PgPool,
}

impl PgKnowledge {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, KnowledgeError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect(url)
            .await?;
        PG_MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| KnowledgeError::Database(e.into()))?;
        Ok(Self { pool })
    }

    /// Shares a pool the caller already has (the router's), migrations already run.
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_ms(value: i64) -> Result<DateTime<Utc>, KnowledgeError> {
    Utc.timestamp_millis_opt(value)
        .single()
        .ok_or_else(|| KnowledgeError::Corrupt(format!("instant {value} out of range")))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> KnowledgeError {
    KnowledgeError::Corrupt(format!("{what}: {e}"))
}

fn date(what: &str, raw: &str) -> Result<NaiveDate, KnowledgeError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|e| corrupt(what, e))
}

fn number(what: &str, raw: i64) -> Result<u32, KnowledgeError> {
    u32::try_from(raw).map_err(|e| corrupt(what, e))
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, KnowledgeError> {
    serde_json::to_string(value).map_err(|e| corrupt("encoding a list", e))
}

fn taken_or(e: sqlx::Error, key: Option<&str>) -> KnowledgeError {
    match (&e, key) {
        (sqlx::Error::Database(db), Some(key)) if db.is_unique_violation() => {
            KnowledgeError::ExternalKeyTaken(key.to_owned())
        }
        _ => KnowledgeError::Database(e),
    }
}

const ARTICLE_COLUMNS: &str =
    "id, external_key, status, latest_version, live_version, revision, created_at, updated_at";
const VERSION_COLUMNS: &str = "article_id, version, title, alt_questions, answer, internal_note, \
     categories, territories, source_name, source_number, source_link, effective_from, \
     effective_until, owner, review_on, author, created_at";

/// An article row before its versions are attached.
struct ArticleRow {
    id: ArticleId,
    external_key: Option<String>,
    status: Status,
    latest: u32,
    live: Option<u32>,
    revision: u64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ArticleRow {
    fn into_article(
        self,
        latest: Version,
        live: Option<Version>,
    ) -> Result<Article, KnowledgeError> {
        if latest.number != self.latest || live.as_ref().map(|v| v.number) != self.live {
            return Err(corrupt(
                "knowledge_versions",
                format!("article {} lacks a version it names", self.id),
            ));
        }
        Ok(Article {
            id: self.id,
            external_key: self.external_key,
            status: self.status,
            latest,
            live,
            revision: self.revision,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

macro_rules! knowledge_sql {
    ($store:ident, $db:ty, $row:ty) => {
        fn article_from_row(row: &$row) -> Result<ArticleRow, KnowledgeError> {
            Ok(ArticleRow {
                id: ArticleId::parse("knowledge_articles.id", &row.try_get::<String, _>("id")?)
                    .map_err(|e| corrupt("knowledge_articles.id", e.message))?,
                external_key: row.try_get("external_key")?,
                status: Status::parse(
                    "knowledge_articles.status",
                    &row.try_get::<String, _>("status")?,
                )
                .map_err(|e| corrupt("knowledge_articles.status", e.message))?,
                latest: number("latest_version", row.try_get("latest_version")?)?,
                live: row
                    .try_get::<Option<i64>, _>("live_version")?
                    .map(|v| number("live_version", v))
                    .transpose()?,
                revision: u64::try_from(row.try_get::<i64, _>("revision")?)
                    .map_err(|e| corrupt("revision", e))?,
                created_at: from_ms(row.try_get("created_at")?)?,
                updated_at: from_ms(row.try_get("updated_at")?)?,
            })
        }

        fn version_from_row(row: &$row) -> Result<Version, KnowledgeError> {
            let list = |column: &str| -> Result<Vec<String>, KnowledgeError> {
                serde_json::from_str(&row.try_get::<String, _>(column)?)
                    .map_err(|e| corrupt(column, e))
            };
            let article = ArticleId::parse(
                "knowledge_versions.article_id",
                &row.try_get::<String, _>("article_id")?,
            )
            .map_err(|e| corrupt("knowledge_versions.article_id", e.message))?;
            let content = Content {
                title: row.try_get("title")?,
                alt_questions: list("alt_questions")?,
                answer: row.try_get("answer")?,
                internal_note: row.try_get("internal_note")?,
                categories: list("categories")?
                    .iter()
                    .map(|c| CategoryCode::parse("categories", c))
                    .collect::<Result<_, _>>()
                    .map_err(|e| corrupt("knowledge_versions.categories", e.message))?,
                territories: list("territories")?
                    .iter()
                    .map(|c| DivisionCode::parse("territories", c))
                    .collect::<Result<_, _>>()
                    .map_err(|e| corrupt("knowledge_versions.territories", e.message))?,
                source: Source {
                    name: row.try_get("source_name")?,
                    number: row.try_get("source_number")?,
                    link: row.try_get("source_link")?,
                },
                effective_from: date(
                    "effective_from",
                    &row.try_get::<String, _>("effective_from")?,
                )?,
                effective_until: row
                    .try_get::<Option<String>, _>("effective_until")?
                    .map(|d| date("effective_until", &d))
                    .transpose()?,
                owner: StationId::parse("owner", &row.try_get::<String, _>("owner")?)
                    .map_err(|e| corrupt("knowledge_versions.owner", e.message))?,
                review_on: row
                    .try_get::<Option<String>, _>("review_on")?
                    .map(|d| date("review_on", &d))
                    .transpose()?,
            };
            Ok(Version {
                article,
                number: number("version", row.try_get("version")?)?,
                content,
                author: StaffId::parse("author", &row.try_get::<String, _>("author")?)
                    .map_err(|e| corrupt("knowledge_versions.author", e.message))?,
                created_at: from_ms(row.try_get("created_at")?)?,
            })
        }

        async fn insert_version(
            conn: &mut <$db as sqlx::Database>::Connection,
            v: &Version,
        ) -> Result<(), KnowledgeError> {
            let c = &v.content;
            sqlx::query(&format!(
                "INSERT INTO knowledge_versions ({VERSION_COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
            ))
            .bind(v.article.to_string())
            .bind(i64::from(v.number))
            .bind(&c.title)
            .bind(json(&c.alt_questions)?)
            .bind(&c.answer)
            .bind(&c.internal_note)
            .bind(json(&c.categories)?)
            .bind(json(&c.territories)?)
            .bind(&c.source.name)
            .bind(&c.source.number)
            .bind(&c.source.link)
            .bind(c.effective_from.to_string())
            .bind(c.effective_until.map(|d| d.to_string()))
            .bind(c.owner.as_str())
            .bind(c.review_on.map(|d| d.to_string()))
            .bind(v.author.as_str())
            .bind(ms(v.created_at))
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        async fn insert_entries(
            conn: &mut <$db as sqlx::Database>::Connection,
            article: ArticleId,
            entries: &[HistoryEntry],
        ) -> Result<(), KnowledgeError> {
            for entry in entries {
                // The article row was written first in this transaction, so no other writer
                // of this article is between this read and the insert.
                sqlx::query(
                    "INSERT INTO knowledge_history (article_id, seq, action, version, actor, at, note) \
                     SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6 \
                     FROM knowledge_history WHERE article_id = $1",
                )
                .bind(article.to_string())
                .bind(entry.action.code())
                .bind(i64::from(entry.version))
                .bind(entry.actor.as_str())
                .bind(ms(entry.at))
                .bind(&entry.note)
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        async fn create_in(
            conn: &mut <$db as sqlx::Database>::Connection,
            a: &NewArticle,
        ) -> Result<(), KnowledgeError> {
            let at = ms(a.first.created_at);
            sqlx::query(&format!(
                "INSERT INTO knowledge_articles ({ARTICLE_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $6)"
            ))
            .bind(a.id.to_string())
            .bind(a.external_key.as_deref())
            .bind(a.status.code())
            .bind(i64::from(a.first.number))
            .bind(a.live.then_some(i64::from(a.first.number)))
            .bind(at)
            .execute(&mut *conn)
            .await
            .map_err(|e| taken_or(e, a.external_key.as_deref()))?;
            insert_version(conn, &a.first).await?;
            insert_entries(conn, a.id, &a.entries).await
        }

        /// Returns false if the revision was stale.
        async fn apply_in(
            conn: &mut <$db as sqlx::Database>::Connection,
            c: &Change,
        ) -> Result<bool, KnowledgeError> {
            let latest = c.new_version.as_ref().map(|v| i64::from(v.number));
            let (set_live, live) = match c.live {
                Live::Keep => (false, None),
                Live::Set(v) => (true, Some(i64::from(v))),
                Live::Clear => (true, None),
            };
            let expected = i64::try_from(c.expected_revision)
                .map_err(|e| corrupt("expected revision", e))?;
            let updated = sqlx::query(
                "UPDATE knowledge_articles SET status = $1, \
                 latest_version = COALESCE($2, latest_version), \
                 live_version = CASE WHEN $3 THEN $4 ELSE live_version END, \
                 revision = revision + 1, updated_at = $5 \
                 WHERE id = $6 AND revision = $7",
            )
            .bind(c.status.code())
            .bind(latest)
            .bind(set_live)
            .bind(live)
            .bind(ms(c.at))
            .bind(c.article.to_string())
            .bind(expected)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if updated == 0 {
                return Ok(false);
            }
            if let Some(version) = &c.new_version {
                insert_version(conn, version).await?;
            }
            insert_entries(conn, c.article, &c.entries).await?;
            Ok(true)
        }

        impl $store {
            async fn load(&self, row: ArticleRow) -> Result<Article, KnowledgeError> {
                let versions = sqlx::query(&format!(
                    "SELECT {VERSION_COLUMNS} FROM knowledge_versions \
                     WHERE article_id = $1 AND (version = $2 OR version = $3)"
                ))
                .bind(row.id.to_string())
                .bind(i64::from(row.latest))
                .bind(row.live.map(i64::from))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(version_from_row)
                .collect::<Result<Vec<_>, _>>()?;
                let latest = versions.iter().find(|v| v.number == row.latest).cloned();
                let live = row
                    .live
                    .and_then(|n| versions.iter().find(|v| v.number == n).cloned());
                let latest = latest.ok_or_else(|| {
                    corrupt("knowledge_versions", format!("article {} has no latest version", row.id))
                })?;
                row.into_article(latest, live)
            }
        }

        #[async_trait]
        impl KnowledgeStore for $store {
            async fn create(&self, article: &NewArticle) -> Result<(), KnowledgeError> {
                let mut tx = self.pool.begin().await?;
                create_in(&mut tx, article).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn apply(&self, change: &Change) -> Result<bool, KnowledgeError> {
                let mut tx = self.pool.begin().await?;
                if !apply_in(&mut tx, change).await? {
                    return Ok(false);
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn apply_all(
                &self,
                creates: &[NewArticle],
                changes: &[Change],
            ) -> Result<bool, KnowledgeError> {
                let mut tx = self.pool.begin().await?;
                for article in creates {
                    create_in(&mut tx, article).await?;
                }
                for change in changes {
                    if !apply_in(&mut tx, change).await? {
                        // Dropping the transaction rolls back what was done so far.
                        return Ok(false);
                    }
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn get(&self, id: ArticleId) -> Result<Option<Article>, KnowledgeError> {
                let row = sqlx::query(&format!(
                    "SELECT {ARTICLE_COLUMNS} FROM knowledge_articles WHERE id = $1"
                ))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(row) => Ok(Some(self.load(article_from_row(&row)?).await?)),
                    None => Ok(None),
                }
            }

            async fn by_external_key(&self, key: &str) -> Result<Option<Article>, KnowledgeError> {
                let row = sqlx::query(&format!(
                    "SELECT {ARTICLE_COLUMNS} FROM knowledge_articles WHERE external_key = $1"
                ))
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(row) => Ok(Some(self.load(article_from_row(&row)?).await?)),
                    None => Ok(None),
                }
            }

            async fn versions(&self, id: ArticleId) -> Result<Vec<Version>, KnowledgeError> {
                sqlx::query(&format!(
                    "SELECT {VERSION_COLUMNS} FROM knowledge_versions \
                     WHERE article_id = $1 ORDER BY version"
                ))
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(version_from_row)
                .collect()
            }

            async fn history(&self, id: ArticleId) -> Result<Vec<HistoryEntry>, KnowledgeError> {
                sqlx::query(
                    "SELECT action, version, actor, at, note FROM knowledge_history \
                     WHERE article_id = $1 ORDER BY seq",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(HistoryEntry {
                        article: id,
                        action: Action::parse("action", &row.try_get::<String, _>("action")?)
                            .map_err(|e| corrupt("knowledge_history.action", e.message))?,
                        version: number("version", row.try_get("version")?)?,
                        actor: StaffId::parse("actor", &row.try_get::<String, _>("actor")?)
                            .map_err(|e| corrupt("knowledge_history.actor", e.message))?,
                        at: from_ms(row.try_get("at")?)?,
                        note: row.try_get("note")?,
                    })
                })
                .collect()
            }

            async fn list(&self, status: Option<Status>) -> Result<Vec<Article>, KnowledgeError> {
                let rows = sqlx::query(&format!(
                    "SELECT {ARTICLE_COLUMNS} FROM knowledge_articles \
                     WHERE $1 IS NULL OR status = $1 ORDER BY created_at, id"
                ))
                .bind(status.map(Status::code))
                .fetch_all(&self.pool)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    out.push(self.load(article_from_row(row)?).await?);
                }
                Ok(out)
            }

            async fn live_articles(&self) -> Result<Vec<LiveArticle>, KnowledgeError> {
                let columns = VERSION_COLUMNS
                    .split(", ")
                    .map(|c| format!("v.{}", c.trim()))
                    .collect::<Vec<_>>()
                    .join(", ");
                sqlx::query(&format!(
                    "SELECT a.revision AS revision, {columns} FROM knowledge_articles a \
                     JOIN knowledge_versions v \
                       ON v.article_id = a.id AND v.version = a.live_version \
                     ORDER BY a.id"
                ))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(LiveArticle {
                        revision: u64::try_from(row.try_get::<i64, _>("revision")?)
                            .map_err(|e| corrupt("revision", e))?,
                        version: version_from_row(row)?,
                    })
                })
                .collect()
            }

            async fn live_of(&self, ids: &[ArticleId]) -> Result<Vec<LiveArticle>, KnowledgeError> {
                let columns = VERSION_COLUMNS
                    .split(", ")
                    .map(|c| format!("v.{}", c.trim()))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut out = Vec::new();
                for chunk in ids.chunks(500) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                        "SELECT a.revision AS revision, {columns} FROM knowledge_articles a \
                         JOIN knowledge_versions v \
                           ON v.article_id = a.id AND v.version = a.live_version \
                         WHERE a.id IN ("
                    ));
                    let mut list = qb.separated(", ");
                    for id in chunk {
                        list.push_bind(id.to_string());
                    }
                    qb.push(")");
                    for row in qb.build().fetch_all(&self.pool).await? {
                        out.push(LiveArticle {
                            revision: u64::try_from(row.try_get::<i64, _>("revision")?)
                                .map_err(|e| corrupt("revision", e))?,
                            version: version_from_row(&row)?,
                        });
                    }
                }
                Ok(out)
            }

            async fn record_feedback(&self, f: &Feedback) -> Result<bool, KnowledgeError> {
                // The unique index on (article, ticket, kind) makes a repeat a no-op.
                let inserted = sqlx::query(
                    "INSERT INTO knowledge_feedback \
                     (id, article_id, version, kind, ticket, staff, note, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                )
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(f.article.to_string())
                .bind(i64::from(f.version))
                .bind(f.kind.code())
                .bind(f.ticket.as_deref())
                .bind(f.staff.as_ref().map(StaffId::as_str))
                .bind(&f.note)
                .bind(ms(f.at))
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(inserted == 1)
            }

            async fn feedback(&self, id: ArticleId) -> Result<Vec<Feedback>, KnowledgeError> {
                sqlx::query(
                    "SELECT version, kind, ticket, staff, note, at FROM knowledge_feedback \
                     WHERE article_id = $1 ORDER BY at, id",
                )
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(Feedback {
                        article: id,
                        version: number("version", row.try_get("version")?)?,
                        kind: FeedbackKind::parse("kind", &row.try_get::<String, _>("kind")?)
                            .map_err(|e| corrupt("knowledge_feedback.kind", e.message))?,
                        ticket: row.try_get("ticket")?,
                        staff: row
                            .try_get::<Option<String>, _>("staff")?
                            .map(|s| StaffId::parse("staff", &s))
                            .transpose()
                            .map_err(|e| corrupt("knowledge_feedback.staff", e.message))?,
                        note: row.try_get("note")?,
                        at: from_ms(row.try_get("at")?)?,
                    })
                })
                .collect()
            }

            async fn feedback_on_live(
                &self,
            ) -> Result<Vec<(ArticleId, FeedbackKind, u32)>, KnowledgeError> {
                sqlx::query(
                    "SELECT f.article_id AS article_id, f.kind AS kind, COUNT(*) AS marks \
                     FROM knowledge_feedback f \
                     JOIN knowledge_articles a ON a.id = f.article_id \
                     WHERE a.live_version IS NOT NULL AND f.version >= a.live_version \
                     GROUP BY f.article_id, f.kind",
                )
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    let id = ArticleId::parse("article_id", &row.try_get::<String, _>("article_id")?)
                        .map_err(|e| corrupt("knowledge_feedback.article_id", e.message))?;
                    let kind = FeedbackKind::parse("kind", &row.try_get::<String, _>("kind")?)
                        .map_err(|e| corrupt("knowledge_feedback.kind", e.message))?;
                    Ok((id, kind, number("marks", row.try_get("marks")?)?))
                })
                .collect()
            }

            async fn revisions(&self) -> Result<Vec<(ArticleId, u64)>, KnowledgeError> {
                sqlx::query("SELECT id, revision FROM knowledge_articles")
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|row| {
                        let id = ArticleId::parse("id", &row.try_get::<String, _>("id")?)
                            .map_err(|e| corrupt("knowledge_articles.id", e.message))?;
                        let revision = u64::try_from(row.try_get::<i64, _>("revision")?)
                            .map_err(|e| corrupt("revision", e))?;
                        Ok((id, revision))
                    })
                    .collect()
            }
        }
    };
}

mod sqlite_sql {
    use super::*;
    knowledge_sql!(SqliteKnowledge, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
}

mod pg_sql {
    use super::*;
    knowledge_sql!(PgKnowledge, sqlx::Postgres, sqlx::postgres::PgRow);
}
