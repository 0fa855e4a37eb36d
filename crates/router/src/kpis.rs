//! Wiring of the supervision figures (`hotline-kpi`): the KPI tables on the system of record,
//! the engine's clocks and SLA policy as the KPI crate's [`Clocks`], and the scope a principal
//! may ask figures for. The figures themselves are the KPI crate's.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hotline_core::{Clock, DivisionCode, StationId, Ticket};
use hotline_identity::{Principal, Scope as PrincipalScope, Territory};
use hotline_kpi::query::{Clocks, RunningClock};
use hotline_kpi::{KpiConfig, KpiStore, Kpis, PgKpis, Scope, SqliteKpis};
use hotline_sla::WorkingCalendar;

use crate::config::{ServeArgs, Storage};
use crate::deadlines::Sla;
use crate::error::RouterError;
use crate::escalation;
use crate::tickets::Hotline;

/// The engine's time, calendar and SLA policy, as the KPI crate sees them.
pub struct EngineClocks {
    pub sla: Sla,
    pub clock: Arc<dyn Clock>,
}

impl Clocks for EngineClocks {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
    fn calendar(&self) -> Arc<WorkingCalendar> {
        self.sla.calendar()
    }
    fn running(&self, ticket: &Ticket) -> Vec<RunningClock> {
        escalation::running_with_warnings(ticket, &self.sla)
            .into_iter()
            .map(|(clock, due, warning)| RunningClock {
                clock: clock.code(),
                due,
                warning,
            })
            .collect()
    }
}

/// Opens the KPI tables where the tickets are (the follower reads the event log and writes the
/// aggregates in one transaction, so they share a database).
pub async fn open(args: &ServeArgs, sla: Sla, clock: Arc<dyn Clock>) -> anyhow::Result<Kpis> {
    let storage = args.storage().map_err(anyhow::Error::msg)?;
    let store: Arc<dyn KpiStore> = match &storage {
        Storage::SqliteDir(dir) => Arc::new(SqliteKpis::open_dir(dir).await?),
        Storage::SqliteUrl(url) => Arc::new(SqliteKpis::open_url(url).await?),
        Storage::Postgres(url) => Arc::new(PgKpis::connect(url, 2).await?),
    };
    let config = match &args.kpi_config {
        Some(path) => KpiConfig::load(path)?,
        None => KpiConfig::default(),
    };
    Ok(Kpis::new(
        store,
        Arc::new(EngineClocks { sla, clock }),
        config,
    ))
}

/// The scope `who` asks for, checked: a station or division they may see (NOT_FOUND when it is
/// not in the directory, PERMISSION_DENIED when it is outside their scope); neither: their whole
/// scope.
pub fn scope_for(
    hotline: &Hotline,
    who: &Principal,
    station: Option<StationId>,
    division: Option<DivisionCode>,
) -> Result<Scope, RouterError> {
    let directory = hotline.directory();
    let denied = |what: String| {
        RouterError::Forbidden(format!(
            "{} ({}) may not see the figures of {what}",
            who.login,
            who.scope.describe()
        ))
    };
    if let Some(station) = station {
        let found = directory.station(&station).ok_or_else(|| {
            RouterError::NotFound(format!("station {station} is not in the directory"))
        })?;
        let allowed = match &who.scope {
            PrincipalScope::Centre => true,
            PrincipalScope::Station { station: mine } => *mine == station,
            PrincipalScope::Territory {
                territory: Territory::City,
            } => true,
            PrincipalScope::Territory {
                territory: Territory::Division(code),
            } => found.division.as_str().starts_with(code.as_str()),
            _ => false,
        };
        return if allowed {
            Ok(Scope::Station(station.as_str().to_owned()))
        } else {
            Err(denied(format!("station {station}")))
        };
    }
    if let Some(division) = division {
        if directory.division(&division).is_none() {
            return Err(RouterError::NotFound(format!(
                "division {division} is not in the directory"
            )));
        }
        let allowed = match &who.scope {
            PrincipalScope::Centre => true,
            PrincipalScope::Territory {
                territory: Territory::City,
            } => true,
            PrincipalScope::Territory {
                territory: Territory::Division(code),
            } => division.as_str().starts_with(code.as_str()),
            _ => false,
        };
        return if allowed {
            Ok(Scope::Division(division.as_str().to_owned()))
        } else {
            Err(denied(format!("division {division}")))
        };
    }
    match &who.scope {
        PrincipalScope::Centre
        | PrincipalScope::Territory {
            territory: Territory::City,
        } => Ok(Scope::All),
        PrincipalScope::Territory {
            territory: Territory::Division(code),
        } => Ok(Scope::Division(code.as_str().to_owned())),
        PrincipalScope::Station { station } => Ok(Scope::Station(station.as_str().to_owned())),
        _ => Err(denied("any scope".into())),
    }
}

/// Whether a ticket (its holding station and territory) is inside `scope`.
pub fn in_scope(scope: &Scope, station: Option<&str>, division: Option<&str>) -> bool {
    match scope {
        Scope::All => true,
        Scope::Station(id) => station == Some(id.as_str()),
        Scope::Division(code) => match station {
            Some(s) => s.starts_with(code.as_str()),
            None => division.is_some_and(|d| d.starts_with(code.as_str())),
        },
    }
}
