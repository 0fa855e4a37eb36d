//! Address aliases learned from corrections: proposals with their agreeing count, each
//! ticket's vote, and the supervisor's decision, on both backends (same SQL but for the
//! placeholders).
//!
//! A proposal is keyed by the normalised alias and the community; the router normalises (the
//! territory crate's `alias_key`) and decides what is offered to whom. The store keeps counts
//! exact under concurrent corrections: a vote is inserted once per ticket, and only a vote
//! inserted raises the count, in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use hotline_core::{DivisionCode, TicketId};

use crate::{PgStore, SqliteStore, StoreError};

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AliasStatus {
    /// Collecting agreeing corrections; offered to a supervisor from the configured count.
    Proposed,
    /// Used by the resolver.
    Confirmed,
    /// Not an alias; further corrections still count but it is not offered again.
    Rejected,
}

impl AliasStatus {
    pub fn code(self) -> &'static str {
        match self {
            AliasStatus::Proposed => "proposed",
            AliasStatus::Confirmed => "confirmed",
            AliasStatus::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "proposed" => AliasStatus::Proposed,
            "confirmed" => AliasStatus::Confirmed,
            "rejected" => AliasStatus::Rejected,
            _ => return None,
        })
    }
}

/// An alias proposed for a community.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasProposal {
    /// The normalised key.
    pub alias: String,
    /// As a caller first wrote it.
    pub spoken: String,
    pub division: DivisionCode,
    /// Tickets whose correction agreed.
    pub agreeing: u32,
    pub status: AliasStatus,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// One correction agreeing with a proposal.
#[derive(Debug, Clone)]
pub struct AliasVote<'a> {
    pub alias: &'a str,
    pub spoken: &'a str,
    pub division: &'a DivisionCode,
    pub ticket: TicketId,
    pub staff: &'a str,
    pub at: DateTime<Utc>,
}

/// The outcome of a decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Decided {
    Done(AliasProposal),
    /// No such proposal.
    NotFound,
    /// It was decided already (the proposal as it stands).
    NotPending(AliasProposal),
    /// The alias is already confirmed for another community (that proposal).
    Taken(AliasProposal),
}

#[async_trait]
pub trait AliasStore: Send + Sync + 'static {
    /// Records that `vote.ticket`'s territory was corrected to `vote.division` and its address
    /// said `vote.spoken`: creates the proposal or adds the ticket's agreement (once per
    /// ticket). Returns the proposal as it now stands.
    async fn propose_alias(&self, vote: &AliasVote<'_>) -> Result<AliasProposal, StoreError>;

    /// Proposals in `status` with at least `min_agreeing` agreeing corrections, most agreeing
    /// first, then the latest.
    async fn alias_proposals(
        &self,
        status: AliasStatus,
        min_agreeing: u32,
    ) -> Result<Vec<AliasProposal>, StoreError>;

    /// Every proposal of one alias (for every community), most agreeing first.
    async fn alias_rivals(&self, alias: &str) -> Result<Vec<AliasProposal>, StoreError>;

    /// Confirms or rejects a proposed alias (`to` is `Confirmed` or `Rejected`); a confirmation
    /// is refused while the alias is confirmed for another community.
    async fn decide_alias(
        &self,
        alias: &str,
        division: &DivisionCode,
        to: AliasStatus,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Decided, StoreError>;
}

const COLUMNS: &str =
    "alias, division_code, spoken, agreeing, status, first_at, last_at, decided_by, decided_at";

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn instant(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("instant {ms} ms is out of range")))
}

/// A proposal row, in `COLUMNS` order.
type ProposalRow = (
    String,
    String,
    String,
    i64,
    String,
    i64,
    i64,
    Option<String>,
    Option<i64>,
);

fn decode(row: ProposalRow) -> Result<AliasProposal, StoreError> {
    let (alias, division, spoken, agreeing, status, first_at, last_at, decided_by, decided_at) =
        row;
    Ok(AliasProposal {
        alias,
        spoken,
        division: DivisionCode::parse("division_code", &division)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        agreeing: u32::try_from(agreeing).unwrap_or(u32::MAX),
        status: AliasStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("alias status {status:?}")))?,
        first_at: instant(first_at)?,
        last_at: instant(last_at)?,
        decided_by,
        decided_at: decided_at.map(instant).transpose()?,
    })
}

/// One implementation for both backends: the SQL differs only in its placeholders, which `$p`
/// writes for the backend (`?1` on SQLite, `$1` on PostgreSQL: both numbered, so one
/// parameter can be used twice).
macro_rules! alias_store {
    ($store:ty, $p:expr) => {
        #[async_trait]
        impl AliasStore for $store {
            async fn propose_alias(
                &self,
                vote: &AliasVote<'_>,
            ) -> Result<AliasProposal, StoreError> {
                let p = $p;
                let at = millis(vote.at);
                let mut tx = self.pool.begin().await?;
                sqlx::query(&format!(
                    "INSERT INTO address_alias_proposals \
                     (alias, division_code, spoken, agreeing, status, first_at, last_at) \
                     VALUES ({}, {}, {}, 0, 'proposed', {}, {}) \
                     ON CONFLICT (alias, division_code) DO NOTHING",
                    p(1), p(2), p(3), p(4), p(4)
                ))
                .bind(vote.alias)
                .bind(vote.division.as_str())
                .bind(vote.spoken)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                let added = sqlx::query(&format!(
                    "INSERT INTO address_alias_votes (alias, division_code, ticket_id, staff, at) \
                     VALUES ({}, {}, {}, {}, {}) \
                     ON CONFLICT (alias, division_code, ticket_id) DO NOTHING",
                    p(1), p(2), p(3), p(4), p(5)
                ))
                .bind(vote.alias)
                .bind(vote.division.as_str())
                .bind(vote.ticket.to_string())
                .bind(vote.staff)
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if added > 0 {
                    // An increment, not a recount: under PostgreSQL's read committed a
                    // waiting UPDATE sees the row as the other writer left it, but a subquery
                    // would still count the votes as of its own start.
                    sqlx::query(&format!(
                        "UPDATE address_alias_proposals \
                         SET last_at = {}, agreeing = agreeing + 1 \
                         WHERE alias = {} AND division_code = {}",
                        p(3), p(1), p(2)
                    ))
                    .bind(vote.alias)
                    .bind(vote.division.as_str())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                let row: ProposalRow = sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM address_alias_proposals \
                     WHERE alias = {} AND division_code = {}",
                    p(1), p(2)
                ))
                .bind(vote.alias)
                .bind(vote.division.as_str())
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                decode(row)
            }

            async fn alias_proposals(
                &self,
                status: AliasStatus,
                min_agreeing: u32,
            ) -> Result<Vec<AliasProposal>, StoreError> {
                let p = $p;
                let rows: Vec<ProposalRow> = sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM address_alias_proposals \
                     WHERE status = {} AND agreeing >= {} \
                     ORDER BY agreeing DESC, last_at DESC, alias, division_code",
                    p(1), p(2)
                ))
                .bind(status.code())
                .bind(i64::from(min_agreeing))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(decode).collect()
            }

            async fn alias_rivals(&self, alias: &str) -> Result<Vec<AliasProposal>, StoreError> {
                let p = $p;
                let rows: Vec<ProposalRow> = sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM address_alias_proposals WHERE alias = {} \
                     ORDER BY agreeing DESC, division_code",
                    p(1)
                ))
                .bind(alias)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(decode).collect()
            }

            async fn decide_alias(
                &self,
                alias: &str,
                division: &DivisionCode,
                to: AliasStatus,
                by: &str,
                at: DateTime<Utc>,
            ) -> Result<Decided, StoreError> {
                debug_assert!(to != AliasStatus::Proposed);
                let p = $p;
                let mut tx = self.pool.begin().await?;
                if to == AliasStatus::Confirmed {
                    let taken: Option<ProposalRow> = sqlx::query_as(&format!(
                        "SELECT {COLUMNS} FROM address_alias_proposals \
                         WHERE alias = {} AND division_code <> {} AND status = 'confirmed'",
                        p(1), p(2)
                    ))
                    .bind(alias)
                    .bind(division.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(row) = taken {
                        return Ok(Decided::Taken(decode(row)?));
                    }
                }
                // Conditional on `proposed`: of two supervisors deciding at once, one wins.
                let changed = sqlx::query(&format!(
                    "UPDATE address_alias_proposals \
                     SET status = {}, decided_by = {}, decided_at = {} \
                     WHERE alias = {} AND division_code = {} AND status = 'proposed'",
                    p(1), p(2), p(3), p(4), p(5)
                ))
                .bind(to.code())
                .bind(by)
                .bind(millis(at))
                .bind(alias)
                .bind(division.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let row: Option<ProposalRow> = sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM address_alias_proposals \
                     WHERE alias = {} AND division_code = {}",
                    p(1), p(2)
                ))
                .bind(alias)
                .bind(division.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(match (row, changed) {
                    (None, _) => Decided::NotFound,
                    (Some(row), 0) => Decided::NotPending(decode(row)?),
                    (Some(row), _) => Decided::Done(decode(row)?),
                })
            }
        }
    };
}

alias_store!(SqliteStore, |n: usize| format!("?{n}"));
alias_store!(PgStore, |n: usize| format!("${n}"));
