//! Access: which roles may call which RPC, on which tickets, and what of the caller they see.
//!
//! Who acts comes from the credential the authentication layer ([`crate::grpc::auth`]) checked:
//! a [`Principal`]. This module holds the rules; the engine ([`crate::tickets::Hotline`])
//! applies the ticket rules, so every adapter (gRPC today, the web desk and Open311 through it)
//! gets the same answer.
//!
//! # Decisions
//! - A ticket outside the reader's scope is NOT_FOUND on reads: saying that it exists would
//!   leak that someone called about something (a 举报 about a neighbour). A change to it is
//!   PERMISSION_DENIED: whoever names a ticket to change it already holds its id.
//! - Administrators manage accounts and keys; they do not work tickets (separation of duties).
//! - An RPC the role may not call at all is PERMISSION_DENIED, naming the roles that may.

use hotline_core::lifecycle::Role as ActingRole;
use hotline_core::{Actor, DivisionCode, StaffId, StationId, Ticket};
use hotline_directory::Directory;
use hotline_identity::{Principal, Role, Scope, Territory};
use hotline_store::SearchQuery;

use crate::error::RouterError;

use Role::{
    Administrator as Adm, Integrator as Int, Operator as Op, StationStaff as Sta, Supervisor as Sup,
};

/// Which roles may call each RPC (`Service/Method`). The RPCs of [`is_public`] are not listed;
/// an RPC missing here is refused.
pub const RPC_ROLES: &[(&str, &[Role])] = &[
    ("Intake/SubmitTicket", &[Op, Sup, Int]),
    ("Intake/GetTicket", &[Op, Sta, Sup, Int]),
    ("Intake/SearchTickets", &[Op, Sta, Sup, Int]),
    ("Intake/AnswerDirectly", &[Op, Sup]),
    ("Intake/HandOffEmergency", &[Op, Sup]),
    ("Intake/NotAccept", &[Op, Sup]),
    ("Intake/LinkDuplicate", &[Op, Sup]),
    ("Intake/PreviewRoute", &[Op, Sup, Int]),
    ("Station/WatchQueue", &[Sta, Sup]),
    ("Station/ClaimTicket", &[Sta]),
    ("Station/SignFor", &[Sta]),
    ("Station/RequestReturn", &[Sta]),
    ("Station/RequestExtension", &[Sta]),
    ("Station/SubDispatch", &[Sta]),
    ("Station/ReportAsCoHandler", &[Sta]),
    ("Station/Reply", &[Sta]),
    ("Station/ContactCaller", &[Sta]),
    ("Station/PauseClock", &[Sta]),
    ("Station/ResumeClock", &[Sta]),
    // 派单, triage, 回访 and re-categorising are done by operators as well as supervisors.
    ("Supervision/Dispatch", &[Op, Sup]),
    ("Supervision/SendToTriage", &[Op, Sup]),
    ("Supervision/ArbitrateReturn", &[Sup]),
    ("Supervision/DecideExtension", &[Sup]),
    ("Supervision/AddCoHandler", &[Sup]),
    ("Supervision/ReviewReply", &[Sup]),
    ("Supervision/RecordCallback", &[Op, Sup]),
    ("Supervision/Close", &[Sup]),
    ("Supervision/RaiseFlag", &[Sup]),
    ("Supervision/Reclassify", &[Op, Sup]),
    // 并案: operators see incidents and link calls; supervisors answer, close and split
    // (crate::incidents), each within their territory.
    ("Incidents/GetIncident", &[Op, Sup]),
    ("Incidents/ListIncidents", &[Op, Sup]),
    ("Incidents/JoinIncident", &[Op, Sup]),
    ("Incidents/PostNotice", &[Sup]),
    ("Incidents/ReplyToIncident", &[Sup]),
    ("Incidents/CloseIncident", &[Sup]),
    ("Incidents/SplitTicket", &[Sup]),
    // Learned address aliases: supervisors decide within their territory (crate::aliases).
    ("Supervision/ListAliasProposals", &[Sup]),
    ("Supervision/DecideAlias", &[Sup]),
    (
        "Directory/GetDivision",
        &[Op, Sta, Sup, Adm, Int, Role::KnowledgeEditor],
    ),
    (
        "Directory/ListDivisions",
        &[Op, Sta, Sup, Adm, Int, Role::KnowledgeEditor],
    ),
    (
        "Directory/GetStation",
        &[Op, Sta, Sup, Adm, Int, Role::KnowledgeEditor],
    ),
    (
        "Directory/ListStations",
        &[Op, Sta, Sup, Adm, Int, Role::KnowledgeEditor],
    ),
    (
        "Directory/ListCategories",
        &[Op, Sta, Sup, Adm, Int, Role::KnowledgeEditor],
    ),
    (
        "Auth/WhoAmI",
        &[Op, Sta, Sup, Adm, Int, Role::KnowledgeEditor],
    ),
    // Supervision figures: each sees their own scope (station, territory, or the centre's).
    ("Kpis/GetKpis", &[Op, Sta, Sup]),
    ("Kpis/ListAtRisk", &[Op, Sta, Sup]),
    ("Kpis/WatchEvents", &[Op, Sta, Sup, Int]),
    ("Kpis/ListAlerts", &[Op, Sta, Sup]),
    ("Kpis/WatchAlerts", &[Op, Sta, Sup]),
    // The knowledge base: everyone who works calls reads; editors write within their
    // territory, supervisors of the territory approve and withdraw (crate::knowledge).
    (
        "Knowledge/SearchArticles",
        &[Op, Sta, Sup, Role::KnowledgeEditor],
    ),
    (
        "Knowledge/GetArticle",
        &[Op, Sta, Sup, Role::KnowledgeEditor],
    ),
    ("Knowledge/CreateArticle", &[Role::KnowledgeEditor]),
    ("Knowledge/UpdateArticle", &[Role::KnowledgeEditor]),
    ("Knowledge/SubmitArticle", &[Sup, Role::KnowledgeEditor]),
    ("Knowledge/ApproveArticle", &[Sup]),
    ("Knowledge/RejectArticle", &[Sup]),
    ("Knowledge/WithdrawArticle", &[Sup, Role::KnowledgeEditor]),
    ("Knowledge/ListArticles", &[Op, Sup, Role::KnowledgeEditor]),
    ("Knowledge/ListDueForReview", &[Sup, Role::KnowledgeEditor]),
    ("Knowledge/ReportMisfit", &[Op, Sup]),
    ("Knowledge/DraftFromReply", &[Sup]),
    ("Admin/AddStaff", &[Adm]),
    ("Admin/ListStaff", &[Adm]),
    ("Admin/SetStaffEnabled", &[Adm]),
    ("Admin/SetStaffPassword", &[Adm]),
    ("Admin/IssueApiKey", &[Adm]),
    ("Admin/RevokeApiKey", &[Adm]),
    ("Admin/ListContactAccess", &[Adm, Sup]),
    ("Admin/GetCalendarStatus", &[Adm, Sup]),
    ("Admin/ReloadCalendar", &[Adm]),
];

/// RPCs reachable without a credential (full gRPC paths or path prefixes): health,
/// reflection, and `Auth/Login`, `Auth/Refresh`, `Auth/Logout`, whose password or refresh token
/// is the credential.
pub fn is_public(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
        || path.starts_with("/grpc.reflection.")
        || path == "/hotline.v1.Auth/Login"
        || path == "/hotline.v1.Auth/Refresh"
        // The refresh token it ends is its credential.
        || path == "/hotline.v1.Auth/Logout"
}

/// `/hotline.v1.Intake/SubmitTicket` -> `Intake/SubmitTicket`.
pub fn rpc_of(path: &str) -> Option<&str> {
    path.strip_prefix("/hotline.v1.")
}

/// Whether `who` may call `rpc` (`Service/Method`) at all.
pub fn may_call(who: &Principal, rpc: &str) -> Result<(), RouterError> {
    let Some((_, roles)) = RPC_ROLES.iter().find(|(name, _)| *name == rpc) else {
        return Err(RouterError::Forbidden(format!(
            "{rpc} is not an RPC of this router"
        )));
    };
    if !roles.contains(&who.role) {
        let may: Vec<&str> = roles.iter().map(|r| r.code()).collect();
        return Err(RouterError::Forbidden(format!(
            "{} ({}) may not call {rpc}; it is for: {}",
            who.login,
            who.role.code(),
            may.join(", ")
        )));
    }
    // An integrator's grant names the intake RPCs it may call; the directory and WhoAmI are
    // open to it like to everyone.
    match rpc.strip_prefix("Intake/") {
        Some(method) => who
            .may_call(method)
            .map_err(|e| RouterError::Forbidden(e.to_string())),
        None => Ok(()),
    }
}

/// The actor recorded in the event log for what `who` does.
pub fn actor(who: &Principal) -> Result<Actor, RouterError> {
    let staff = StaffId::parse("login", who.login.as_str()).ok();
    let (role, station) = match (&who.role, &who.scope) {
        (Role::Operator, _) => (ActingRole::Operator, None),
        (Role::StationStaff, Scope::Station { station }) => {
            (ActingRole::Station, Some(station.clone()))
        }
        (Role::Supervisor, _) => (ActingRole::Supervisor, None),
        (Role::Integrator, _) => (ActingRole::Integrator, None),
        (role, _) => {
            return Err(RouterError::Forbidden(format!(
                "{} ({}) does not work tickets",
                who.login,
                role.code()
            )))
        }
    };
    Ok(Actor {
        role,
        staff,
        station,
    })
}

/// The division a ticket belongs to for territory rules: its own, else its station's.
fn ticket_division<'a>(ticket: &'a Ticket, directory: &'a Directory) -> Option<&'a DivisionCode> {
    ticket.division.as_ref().or_else(|| {
        let station = ticket.station.as_ref()?;
        directory.station(station).map(|s| &s.division)
    })
}

fn territory_holds(territory: &Territory, division: Option<&DivisionCode>) -> bool {
    match territory {
        Territory::City => true,
        Territory::Division(code) => {
            division.is_some_and(|d| d.as_str().starts_with(code.as_str()))
        }
    }
}

fn station_involved(ticket: &Ticket, station: &StationId) -> bool {
    ticket.station.as_ref() == Some(station)
        || ticket.lead_station.as_ref() == Some(station)
        || ticket.co_handlers.iter().any(|c| &c.station == station)
}

/// Whether `who` may see `ticket` at all.
pub fn sees(who: &Principal, ticket: &Ticket, directory: &Directory) -> bool {
    match (&who.role, &who.scope) {
        (Role::Operator, _) => true,
        (Role::StationStaff, Scope::Station { station }) => station_involved(ticket, station),
        (Role::Supervisor, Scope::Territory { territory }) => {
            territory_holds(territory, ticket_division(ticket, directory))
        }
        (Role::Integrator, _) => {
            ticket.submitted_by.as_ref().map(StaffId::as_str) == Some(who.login.as_str())
        }
        _ => false,
    }
}

/// A read of a ticket outside the reader's scope: NOT_FOUND, worded as for a missing ticket.
pub fn unseen(ticket: &Ticket) -> RouterError {
    RouterError::NotFound(format!("ticket {} does not exist", ticket.id))
}

/// A change to a ticket outside the actor's scope.
pub fn out_of_scope(who: &Principal, ticket: &Ticket) -> RouterError {
    RouterError::Forbidden(format!(
        "ticket {} is outside the scope of {} ({})",
        ticket.id,
        who.login,
        who.scope.describe()
    ))
}

/// Narrows a search to what `who` may see; refuses a filter that asks for more.
pub fn narrow(who: &Principal, query: &mut SearchQuery) -> Result<(), RouterError> {
    match (&who.role, &who.scope) {
        (Role::Operator, _)
        | (
            Role::Supervisor,
            Scope::Territory {
                territory: Territory::City,
            },
        ) => Ok(()),
        (Role::StationStaff, Scope::Station { station }) => {
            if let Some(asked) = query.station.as_ref().filter(|s| *s != station) {
                return Err(RouterError::Forbidden(format!(
                    "station staff of {station} may not search station {asked}'s tickets"
                )));
            }
            query.station = Some(station.clone());
            Ok(())
        }
        (
            Role::Supervisor,
            Scope::Territory {
                territory: Territory::Division(code),
            },
        ) => match &query.division {
            Some(asked) if !asked.as_str().starts_with(code.as_str()) => {
                Err(RouterError::Forbidden(format!(
                    "a supervisor of {code} may not search {asked}, which is outside it"
                )))
            }
            Some(_) => Ok(()),
            None => {
                query.division = Some(code.clone());
                Ok(())
            }
        },
        (Role::Integrator, _) => {
            query.submitted_by = Some(StaffId::parse("login", who.login.as_str())?);
            Ok(())
        }
        (role, _) => Err(RouterError::Forbidden(format!(
            "{} ({}) does not read tickets",
            who.login,
            role.code()
        ))),
    }
}

/// What of the caller a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactView {
    /// Name and phone as given: the operator who took the call, the station now responsible.
    Full,
    /// The phone masked (`139****5678`), the name shown.
    Masked,
    /// Neither name nor phone: a station, when the caller asked for confidentiality (保密).
    Hidden,
}

/// The caller's contact as `who` may see it on `ticket` (Beijing 接诉即办条例 Art. 8 and 35,
/// 个人信息保护法 Art. 51): in full only for the operator who took the call and the station now
/// responsible, which must call back; never to a station when the caller asked for 保密.
pub fn contact_view(who: &Principal, ticket: &Ticket) -> ContactView {
    let took_the_call = who.role == Role::Operator
        && ticket.submitted_by.as_ref().map(StaffId::as_str) == Some(who.login.as_str());
    let responsible = match &who.scope {
        Scope::Station { station } if who.role == Role::StationStaff => {
            ticket.station.as_ref() == Some(station)
        }
        _ => false,
    };
    if took_the_call {
        ContactView::Full
    } else if who.role == Role::StationStaff && ticket.caller.confidential {
        ContactView::Hidden
    } else if responsible {
        ContactView::Full
    } else {
        ContactView::Masked
    }
}
