//! The figures recomputed from the whole event log, without the follower: what the aggregates
//! must equal at every moment the follower has caught up.

use std::collections::{BTreeMap, HashMap};

use hotline_sla::WorkingCalendar;

use crate::definitions::Counts;
use crate::facts::derive;
use crate::store::{accumulate, KpiStore, RowKey};
use crate::KpiError;

/// Every aggregate row as a full recomputation over all tickets' logs gives it.
pub async fn aggregate_all(
    store: &dyn KpiStore,
    calendar: &WorkingCalendar,
) -> Result<BTreeMap<RowKey, Counts>, KpiError> {
    let mut rows: HashMap<RowKey, Counts> = HashMap::new();
    let mut after = None;
    loop {
        let page = store.logs_page(after.clone(), 1_000).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (_, events) in &page {
            accumulate(&mut rows, &derive(events, calendar), 1);
        }
    }
    Ok(rows.into_iter().filter(|(_, c)| !c.is_zero()).collect())
}
