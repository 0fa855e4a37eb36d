//! gRPC adapters: each converts the request, calls [`crate::tickets::Hotline`], converts back.
//! No business rule lives here.

pub mod convert;
pub mod directory;
pub mod intake;
pub mod station;
pub mod status;
pub mod supervision;

use hotline_core::Action;
use hotline_proto::v1 as pb;
use tonic::{Response, Status};

use crate::tickets::Hotline;
use convert::{actor_in, expected_version, ticket_id, ticket_response};
use status::invalid;

/// The shared shape of every "do X to ticket T" call.
pub(crate) async fn act(
    hotline: &Hotline,
    raw_ticket_id: &str,
    raw_expected: u64,
    actor: Option<pb::Actor>,
    action: impl FnOnce() -> Result<Action, hotline_core::InvalidInput>,
) -> Result<Response<pb::TicketResponse>, Status> {
    let id = ticket_id("ticket_id", raw_ticket_id).map_err(invalid)?;
    let actor = actor_in(actor).map_err(invalid)?;
    let action = action().map_err(invalid)?;
    let ticket = hotline
        .act(id, expected_version(raw_expected), actor, action)
        .await?;
    Ok(Response::new(ticket_response(&ticket)))
}
