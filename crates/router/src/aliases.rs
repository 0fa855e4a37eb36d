//! Address aliases learned from corrections (issue 16), as the router runs them: when staff
//! correct a ticket's territory to a community, the part of its address no division name
//! explained is proposed as an alias of that community; once enough corrections agree
//! (`--alias-min-agreeing`) it is offered to a supervisor of the community's territory, who
//! confirms or rejects it. A confirmed alias is put into the resolver's address book at once,
//! and loaded from the store again at every start.
//!
//! Replicas: a confirmation reaches the other replicas' resolvers at their next start (see the
//! README); the proposals themselves are in the shared store.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hotline_core::{DivisionCode, Ticket};
use hotline_directory::{Directory, Level};
use hotline_identity::{Principal, Role, Scope, Territory};
use hotline_routing::RoutingEngine;
use hotline_store::{AliasProposal, AliasStatus, AliasStore, AliasVote, Decided};
use hotline_territory::address_book::alias_key;

use crate::error::RouterError;

/// A proposal as offered to a supervisor: with the other communities proposed for the same
/// alias, so a disagreement among staff is seen before deciding.
#[derive(Debug, Clone, PartialEq)]
pub struct Offered {
    pub proposal: AliasProposal,
    pub rivals: Vec<AliasProposal>,
}

/// The learned-alias room: the store, the engine whose resolver uses the aliases, the rule.
#[derive(Clone)]
pub struct AliasRoom {
    store: Arc<dyn AliasStore>,
    engine: Arc<RoutingEngine>,
    directory: Arc<Directory>,
    min_agreeing: u32,
}

impl AliasRoom {
    /// Puts every confirmed alias of the store into the engine's resolver.
    pub async fn open(
        store: Arc<dyn AliasStore>,
        engine: Arc<RoutingEngine>,
        min_agreeing: u32,
    ) -> Result<Self, RouterError> {
        let directory = engine.directory().clone();
        let room = Self {
            store,
            engine,
            directory,
            min_agreeing: min_agreeing.max(1),
        };
        let confirmed = room
            .store
            .alias_proposals(AliasStatus::Confirmed, 0)
            .await?;
        for alias in &confirmed {
            room.book().learn(&alias.spoken, alias.division.clone());
        }
        tracing::info!(
            confirmed = confirmed.len(),
            min_agreeing = room.min_agreeing,
            "learned address aliases loaded"
        );
        Ok(room)
    }

    pub fn min_agreeing(&self) -> u32 {
        self.min_agreeing
    }

    fn book(&self) -> &hotline_territory::AddressBook {
        self.engine.resolver().address_book()
    }

    /// Records a territory correction of `before` (the ticket as it was) to `corrected`, if it
    /// teaches anything: the correction names a community other than the ticket's, the
    /// address has a part no division name explains, and that part does not already lead
    /// there. Returns the proposal as it now stands.
    pub async fn record_correction(
        &self,
        before: &Ticket,
        address: &str,
        corrected: &DivisionCode,
        staff: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<AliasProposal>, RouterError> {
        let is_community = self
            .directory
            .division(corrected)
            .is_some_and(|d| d.level == Level::Community);
        if !is_community || before.division.as_ref() == Some(corrected) {
            return Ok(None);
        }
        let Some(spoken) = self.engine.resolver().unexplained_span(address) else {
            return Ok(None);
        };
        if self
            .engine
            .resolver()
            .resolve_text(&spoken)
            .division
            .as_ref()
            == Some(corrected)
        {
            return Ok(None);
        }
        let alias = alias_key(&spoken);
        let proposal = self
            .store
            .propose_alias(&AliasVote {
                alias: &alias,
                spoken: &spoken,
                division: corrected,
                ticket: before.id,
                staff,
                at,
            })
            .await?;
        metrics::counter!("hotline_alias_corrections_total").increment(1);
        tracing::info!(
            ticket = %before.id,
            alias = %proposal.spoken,
            division = %corrected,
            agreeing = proposal.agreeing,
            "territory correction proposes an address alias"
        );
        Ok(Some(proposal))
    }

    /// Proposals in `status` that `who` may decide: for `Proposed`, those with enough
    /// agreeing corrections; inside the supervisor's territory.
    pub async fn list(
        &self,
        who: &Principal,
        status: AliasStatus,
    ) -> Result<Vec<Offered>, RouterError> {
        let min = if status == AliasStatus::Proposed {
            self.min_agreeing
        } else {
            0
        };
        let mut offered = Vec::new();
        for proposal in self.store.alias_proposals(status, min).await? {
            if !holds(who, &proposal.division) {
                continue;
            }
            let rivals = self
                .store
                .alias_rivals(&proposal.alias)
                .await?
                .into_iter()
                .filter(|r| r.division != proposal.division)
                .collect();
            offered.push(Offered { proposal, rivals });
        }
        Ok(offered)
    }

    /// A supervisor's decision on the proposal of `spoken` (or its normalised key) for
    /// `division`. A confirmed alias is used by the resolver at once.
    pub async fn decide(
        &self,
        who: &Principal,
        spoken: &str,
        division: &DivisionCode,
        confirm: bool,
        at: DateTime<Utc>,
    ) -> Result<AliasProposal, RouterError> {
        if !holds(who, division) {
            return Err(RouterError::Forbidden(format!(
                "{division} is outside the territory of {} ({})",
                who.login,
                who.scope.describe()
            )));
        }
        let alias = alias_key(spoken);
        if confirm {
            if let Some((other, line)) = self
                .book()
                .imported_target(spoken)
                .filter(|(other, _)| other != division)
            {
                return Err(RouterError::Precondition(format!(
                    "the address book ({} line {line}) maps {spoken} to {other}: correct the book, or reject this proposal",
                    self.book().origin()
                )));
            }
        }
        let to = if confirm {
            AliasStatus::Confirmed
        } else {
            AliasStatus::Rejected
        };
        let proposal = match self
            .store
            .decide_alias(&alias, division, to, who.login.as_str(), at)
            .await?
        {
            Decided::Done(proposal) => proposal,
            Decided::NotFound => {
                return Err(RouterError::NotFound(format!(
                    "no alias {spoken} is proposed for {division}; list the proposals with ListAliasProposals"
                )))
            }
            Decided::NotPending(proposal) => {
                return Err(RouterError::Precondition(format!(
                    "the alias {} for {division} was already {} by {}",
                    proposal.spoken,
                    proposal.status.code(),
                    proposal.decided_by.as_deref().unwrap_or("someone")
                )))
            }
            Decided::Taken(other) => {
                return Err(RouterError::Precondition(format!(
                    "the alias {} is already confirmed for {}: reject this proposal instead",
                    other.spoken, other.division
                )))
            }
        };
        if proposal.status == AliasStatus::Confirmed {
            self.book()
                .learn(&proposal.spoken, proposal.division.clone());
        }
        metrics::counter!("hotline_alias_decisions_total", "decision" => to.code()).increment(1);
        tracing::info!(
            alias = %proposal.spoken,
            division = %proposal.division,
            decision = to.code(),
            by = %who.login,
            "address alias decided"
        );
        Ok(proposal)
    }
}

/// Whether `division` lies in a supervisor's territory.
fn holds(who: &Principal, division: &DivisionCode) -> bool {
    match (&who.role, &who.scope) {
        (Role::Supervisor, Scope::Territory { territory }) => match territory {
            Territory::City => true,
            Territory::Division(code) => division.as_str().starts_with(code.as_str()),
        },
        _ => false,
    }
}
