//! The database schema's version: which migrations this binary knows, which the database has,
//! and the rule that a binary never runs on a schema newer than it knows (a replica left on
//! an older release during an upgrade would write rows the new schema does not expect).

use sqlx::migrate::Migrator;

use crate::StoreError;

/// Where a database stands against this binary's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Every migration this binary carries: (version, description), in order.
    pub known: Vec<(i64, String)>,
    /// The versions the database has applied.
    pub applied: Vec<i64>,
}

impl SchemaStatus {
    pub(crate) fn of(migrator: &Migrator, applied: Vec<i64>) -> Self {
        Self {
            known: migrator
                .iter()
                .filter(|m| !m.migration_type.is_down_migration())
                .map(|m| (m.version, m.description.to_string()))
                .collect(),
            applied,
        }
    }

    /// The schema version: the newest migration applied (0 for an empty database).
    pub fn version(&self) -> i64 {
        self.applied.iter().copied().max().unwrap_or(0)
    }

    /// The newest migration this binary knows.
    pub fn newest_known(&self) -> i64 {
        self.known.iter().map(|(v, _)| *v).max().unwrap_or(0)
    }

    /// Migrations this binary would apply.
    pub fn pending(&self) -> Vec<(i64, String)> {
        self.known
            .iter()
            .filter(|(v, _)| !self.applied.contains(v))
            .cloned()
            .collect()
    }

    /// Refuses a database that has migrations this binary does not know.
    pub fn check_not_newer(&self) -> Result<(), StoreError> {
        let unknown: Vec<i64> = self
            .applied
            .iter()
            .copied()
            .filter(|v| !self.known.iter().any(|(k, _)| k == v))
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(StoreError::SchemaNewer {
                schema: self.version(),
                known: self.newest_known(),
            })
        }
    }
}
