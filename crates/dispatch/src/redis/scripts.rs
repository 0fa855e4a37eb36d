//! The Lua scripts (`scripts/*.lua`, each with its KEYS/ARGV in a header), compiled into the
//! binary and hashed once per process. Each atomic queue operation is one Lua function in
//! `queue_ops.lua`; `queue_batch.lua` runs several of them on one station in one call (what
//! concurrent callers asked of that station meanwhile), `queue_swap.lua` ends a station's rebuild; each timer operation is one script, and so is each duplicate-index operation. [`load_all`] loads them into a
//! server at connect time; `EVALSHA` falls back to loading again after a server restart.

use std::sync::LazyLock;

use redis::Script;

use super::codec::{lua_prelude, queue_lua_prelude};

pub struct Scripts {
    /// Operations on one station, batched (`queue_ops.lua` + `queue_batch.lua`).
    pub queue_batch: Script,
    /// A station's rebuilt copy swapped in, live leases kept (`queue_ops.lua` +
    /// `queue_swap.lua`).
    pub queue_swap: Script,
    pub list: Script,
    pub timers_schedule: Script,
    pub timers_claim_due: Script,
    pub timers_ack: Script,
    pub timers_ack_many: Script,
    pub timers_release: Script,
    pub timers_of: Script,
    /// The duplicate index (`dup_prelude.lua` + one script per operation).
    pub dup_put: Script,
    pub dup_remove: Script,
    pub dup_filed: Script,
    pub dup_len: Script,
    pub dup_fill: Script,
    pub dup_swap: Script,
    pub dup_sweep: Script,
}

/// The scripts of this process, built (and hashed) on first use.
pub static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| {
    // The timer scripts share the generated letter tables and `members_of`.
    let with_prelude = |body: &str| Script::new(&format!("{}\n{body}", lua_prelude()));
    // The queue scripts share the member layout (the tag width) and the operations.
    let queue = |body: &str| Script::new(&format!("{}{body}", queue_lua_prelude()));
    let ops = include_str!("scripts/queue_ops.lua");
    // The duplicate-index scripts share the layout (`current`, `file`, `unfile`).
    let dup = |body: &str| {
        Script::new(&format!(
            "local KEEP = {}\n{}\n{body}",
            super::duplicates::BUCKET_KEEP,
            include_str!("scripts/dup_prelude.lua")
        ))
    };
    Scripts {
        queue_batch: queue(&format!(
            "{ops}\n{}",
            include_str!("scripts/queue_batch.lua")
        )),
        queue_swap: queue(&format!(
            "{ops}\n{}",
            include_str!("scripts/queue_swap.lua")
        )),
        list: queue(include_str!("scripts/list.lua")),
        timers_schedule: with_prelude(include_str!("scripts/timers_schedule.lua")),
        timers_claim_due: Script::new(include_str!("scripts/timers_claim_due.lua")),
        timers_ack: with_prelude(include_str!("scripts/timers_ack.lua")),
        timers_ack_many: with_prelude(include_str!("scripts/timers_ack_many.lua")),
        timers_release: Script::new(include_str!("scripts/timers_release.lua")),
        timers_of: with_prelude(include_str!("scripts/timers_of.lua")),
        dup_put: dup(include_str!("scripts/dup_put.lua")),
        dup_remove: dup(include_str!("scripts/dup_remove.lua")),
        dup_filed: dup(include_str!("scripts/dup_filed.lua")),
        dup_len: dup(include_str!("scripts/dup_len.lua")),
        dup_fill: dup(include_str!("scripts/dup_fill.lua")),
        dup_swap: dup(include_str!("scripts/dup_swap.lua")),
        dup_sweep: dup(include_str!("scripts/dup_sweep.lua")),
    }
});

/// Loads every script into the server (`SCRIPT LOAD`), so the first calls are plain `EVALSHA`s.
pub async fn load_all(conn: &mut super::Conn) -> redis::RedisResult<()> {
    let s = &*SCRIPTS;
    for script in [
        &s.queue_batch,
        &s.queue_swap,
        &s.list,
        &s.timers_schedule,
        &s.timers_claim_due,
        &s.timers_ack,
        &s.timers_ack_many,
        &s.timers_release,
        &s.timers_of,
        &s.dup_put,
        &s.dup_remove,
        &s.dup_filed,
        &s.dup_len,
        &s.dup_fill,
        &s.dup_swap,
        &s.dup_sweep,
    ] {
        script.load_async(conn).await?;
    }
    Ok(())
}
