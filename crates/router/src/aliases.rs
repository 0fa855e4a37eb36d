//! Address aliases learned from corrections (issue 16), as the router runs them: when staff
//! correct a ticket's territory to a community, the part of its address no division name
//! explained is proposed as an alias of that community; once enough corrections agree
//! (`--alias-min-agreeing`) it is offered to a supervisor of the community's territory, who
//! confirms or rejects it. A confirmed alias is put into the resolver's address book at once,
//! and loaded from the store again at every start.
//!
//! Replicas: the proposals are in the shared store; a confirmation on one replica is used by
//! the others once they next read the confirmed aliases ([`AliasRoom::follow`], every
//! [`REFRESH_EVERY`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hotline_core::{DivisionCode, Ticket};
use hotline_directory::{Directory, Level};
use hotline_identity::{Principal, Role, Scope, Territory};
use hotline_routing::RoutingEngine;
use hotline_store::{AliasProposal, AliasStatus, AliasStore, AliasVote, Decided};
use hotline_territory::address_book::alias_key;

use crate::error::RouterError;

/// How often a replica reads the aliases confirmed on the others.
pub const REFRESH_EVERY: Duration = Duration::from_secs(15);

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
        let confirmed = room.refresh().await?;
        tracing::info!(
            confirmed,
            min_agreeing = room.min_agreeing,
            "learned address aliases loaded"
        );
        Ok(room)
    }

    /// Puts the store's confirmed aliases into the resolver (those confirmed on another
    /// replica since); returns how many are confirmed.
    pub async fn refresh(&self) -> Result<usize, RouterError> {
        let confirmed = self
            .store
            .alias_proposals(AliasStatus::Confirmed, 0)
            .await?;
        for alias in &confirmed {
            if self.book().learned_target(&alias.spoken).as_ref() != Some(&alias.division) {
                self.book().learn(&alias.spoken, alias.division.clone());
            }
        }
        Ok(confirmed.len())
    }

    /// [`AliasRoom::refresh`] every `every` until `stop` turns true.
    pub async fn follow(self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tick.tick() => {}
            }
            if let Err(err) = self.refresh().await {
                crate::logging::warn_summarised("learned address aliases", &err);
            }
        }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;
    use hotline_classify::Classifier;
    use hotline_core::lifecycle::{open, Actor};
    use hotline_core::{Caller, Channel, Nature, NewTicket, TicketId, Urgency};
    use hotline_identity::{AccountId, CredentialKind, LoginName};
    use hotline_routing::{Catalogue, Settings};
    use hotline_store::testing::{fresh_sqlite, TempDir};
    use hotline_territory::{AddressBook, Resolver};

    use super::*;

    const JINSHI: &str = "320508020024";

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap()
    }

    fn code(raw: &str) -> DivisionCode {
        DivisionCode::parse("c", raw).unwrap()
    }

    /// An engine whose resolver has a one-line book (南园新村 -> 翠园社区).
    fn engine() -> Arc<RoutingEngine> {
        let directory = Arc::new(Directory::suzhou());
        let book = AddressBook::parse(
            "book.csv",
            "kind,name,range,parity,community,aliases\nname,南园新村,,,320508021021,\n",
            &directory,
        )
        .unwrap();
        let resolver = Resolver::new(directory.clone()).with_address_book(book);
        Arc::new(
            RoutingEngine::new(
                Classifier::shipped(),
                resolver,
                Catalogue::shipped(),
                directory,
                Settings::default(),
            )
            .unwrap(),
        )
    }

    async fn room(min_agreeing: u32) -> (AliasRoom, TempDir) {
        let (store, dir) = fresh_sqlite().await.unwrap();
        let room = AliasRoom::open(Arc::new(store), engine(), min_agreeing)
            .await
            .unwrap();
        (room, dir)
    }

    /// A ticket from `address` that the router placed in 姑苏区.
    fn ticket(address: &str) -> Ticket {
        let new = NewTicket {
            request_id: None,
            channel: Channel::Hotline,
            caller: Caller {
                name: "王女士".into(),
                phone: "13900000000".into(),
                ..Default::default()
            },
            text: "楼道灯坏了".into(),
            address: address.into(),
            location: None,
            kiosk: None,
            category: None,
            nature: Nature::Help,
            urgency: Urgency::Normal,
            division: Some(code("320508")),
        }
        .validate()
        .unwrap();
        open(TicketId::new(), new, Actor::system(), at()).0
    }

    fn supervisor(territory: Territory) -> Principal {
        Principal {
            account: AccountId::new(),
            login: LoginName::parse("login", "sup-1").unwrap(),
            display_name: "督办".into(),
            role: Role::Supervisor,
            scope: Scope::Territory { territory },
            via: CredentialKind::AccessToken,
        }
    }

    #[tokio::test]
    async fn only_a_correction_to_another_community_with_an_unexplained_span_proposes() {
        let (room, _dir) = room(1).await;
        let address = "姑苏区锦绣大厦3号楼";
        // To a street: nothing to learn about a community.
        let street = room
            .record_correction(&ticket(address), address, &code("320508020"), "op", at())
            .await
            .unwrap();
        assert_eq!(street, None);
        // Nothing but division names in the address.
        let names = room
            .record_correction(
                &ticket("姑苏区沧浪街道"),
                "姑苏区沧浪街道",
                &code(JINSHI),
                "op",
                at(),
            )
            .await
            .unwrap();
        assert_eq!(names, None);
        // The book already says so: nothing new.
        let known = room
            .record_correction(
                &ticket("南园新村5幢"),
                "南园新村5幢",
                &code("320508021021"),
                "op",
                at(),
            )
            .await
            .unwrap();
        assert_eq!(known, None);
        // The ticket was already there.
        let mut there = ticket(address);
        there.division = Some(code(JINSHI));
        let same = room
            .record_correction(&there, address, &code(JINSHI), "op", at())
            .await
            .unwrap();
        assert_eq!(same, None);

        let proposed = room
            .record_correction(&ticket(address), address, &code(JINSHI), "op", at())
            .await
            .unwrap()
            .expect("a proposal");
        assert_eq!(
            (proposed.spoken.as_str(), proposed.agreeing),
            ("锦绣大厦", 1)
        );
        let listed = room
            .list(&supervisor(Territory::City), AliasStatus::Proposed)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
    }

    #[tokio::test]
    async fn a_confirmation_the_book_contradicts_is_refused_and_a_valid_one_is_used_at_once() {
        let (room, _dir) = room(1).await;
        let city = supervisor(Territory::City);
        // Staff corrected 南园新村 tickets to 金狮社区, but the book says 翠园社区.
        let store = room.store.clone();
        store
            .propose_alias(&AliasVote {
                alias: &alias_key("南园新村"),
                spoken: "南园新村",
                division: &code(JINSHI),
                ticket: TicketId::new(),
                staff: "op",
                at: at(),
            })
            .await
            .unwrap();
        let err = room
            .decide(&city, "南园新村", &code(JINSHI), true, at())
            .await
            .unwrap_err();
        assert!(matches!(err, RouterError::Precondition(_)), "{err:?}");
        assert!(err.to_string().contains("book.csv line 2"), "{err}");
        // Rejecting it is fine.
        let rejected = room
            .decide(&city, "南园新村", &code(JINSHI), false, at())
            .await
            .unwrap();
        assert_eq!(rejected.status, AliasStatus::Rejected);

        let address = "姑苏区锦绣大厦3号楼";
        room.record_correction(&ticket(address), address, &code(JINSHI), "op", at())
            .await
            .unwrap();
        let resolver = room.engine.resolver();
        assert_eq!(resolver.resolve_text("锦绣大厦7幢").division, None);
        let gusu = supervisor(Territory::Division(code("320508")));
        room.decide(&gusu, "锦绣大厦", &code(JINSHI), true, at())
            .await
            .unwrap();
        assert_eq!(
            resolver.resolve_text("锦绣大厦7幢").division,
            Some(code(JINSHI))
        );
    }

    #[tokio::test]
    async fn a_replica_uses_an_alias_confirmed_on_another_once_it_refreshes() {
        let (store, _dir) = fresh_sqlite().await.unwrap();
        let store: Arc<dyn AliasStore> = Arc::new(store);
        let first = AliasRoom::open(store.clone(), engine(), 1).await.unwrap();
        let second = AliasRoom::open(store, engine(), 1).await.unwrap();
        let address = "姑苏区锦绣大厦3号楼";
        first
            .record_correction(&ticket(address), address, &code(JINSHI), "op", at())
            .await
            .unwrap();
        first
            .decide(
                &supervisor(Territory::City),
                "锦绣大厦",
                &code(JINSHI),
                true,
                at(),
            )
            .await
            .unwrap();
        let on_second = |text| second.engine.resolver().resolve_text(text).division;
        assert_eq!(on_second("锦绣大厦"), None);
        assert_eq!(second.refresh().await.unwrap(), 1);
        assert_eq!(on_second("锦绣大厦"), Some(code(JINSHI)));
    }

    #[tokio::test]
    async fn confirmed_aliases_are_loaded_when_the_room_opens() {
        let (store, _dir) = fresh_sqlite().await.unwrap();
        let store: Arc<dyn AliasStore> = Arc::new(store);
        store
            .propose_alias(&AliasVote {
                alias: &alias_key("锦绣大厦"),
                spoken: "锦绣大厦",
                division: &code(JINSHI),
                ticket: TicketId::new(),
                staff: "op",
                at: at(),
            })
            .await
            .unwrap();
        store
            .decide_alias(
                &alias_key("锦绣大厦"),
                &code(JINSHI),
                AliasStatus::Confirmed,
                "sup",
                at(),
            )
            .await
            .unwrap();
        let room = AliasRoom::open(store, engine(), 3).await.unwrap();
        assert_eq!(
            room.engine.resolver().resolve_text("锦绣大厦").division,
            Some(code(JINSHI))
        );
        assert_eq!(room.min_agreeing(), 3);
    }
}
