//! gRPC adapters: each converts the request, calls [`crate::tickets::Hotline`] as the principal
//! the authentication layer ([`auth`]) proved, converts back. No business rule lives here.

pub mod auth;
pub mod convert;
pub mod directory;
pub mod incidents;
pub mod intake;
pub mod knowledge;
pub mod kpis;
pub mod limits;
pub mod station;
pub mod status;
pub mod supervision;

use hotline_core::{Action, Event, Ticket};
use hotline_identity::Principal;
use hotline_proto::v1 as pb;
use tonic::{Response, Status};

use crate::access::{self, ContactView};
use crate::tickets::Hotline;
use convert::{expected_version, ticket_id, ticket_out};
use status::invalid;

pub use limits::MAX_REQUEST_BYTES;

/// The shared shape of every "do X to ticket T" call.
pub(crate) async fn act(
    hotline: &Hotline,
    who: &Principal,
    raw_ticket_id: &str,
    raw_expected: u64,
    action: impl FnOnce() -> Result<Action, hotline_core::InvalidInput>,
) -> Result<Response<pb::TicketResponse>, Status> {
    let id = ticket_id("ticket_id", raw_ticket_id).map_err(invalid)?;
    let action = action().map_err(invalid)?;
    let ticket = hotline
        .act_as(who, id, expected_version(raw_expected), action)
        .await?;
    Ok(Response::new(pb::TicketResponse {
        ticket: Some(shown(hotline, who, ticket, &[]).await?),
    }))
}

/// A ticket as `who` may read it: the caller's contact masked or hidden by the access rules
/// (a full read is logged by the engine), `caller.masked` telling the client which.
pub(crate) async fn shown(
    hotline: &Hotline,
    who: &Principal,
    ticket: Ticket,
    events: &[Event],
) -> Result<pb::Ticket, Status> {
    let view = access::contact_view(who, &ticket);
    let had_contact = !ticket.caller.name.is_empty() || !ticket.caller.phone.is_empty();
    let ticket = hotline.reveal(who, ticket).await?;
    let mut out = ticket_out(&ticket, events);
    if let Some(caller) = out.caller.as_mut() {
        caller.masked = had_contact && view != ContactView::Full;
    }
    mark_provisional(hotline, &ticket, &mut out);
    Ok(out)
}

/// Marks the deadlines counted over a year whose holiday notice is not loaded (暂定).
fn mark_provisional(hotline: &Hotline, ticket: &Ticket, out: &mut pb::Ticket) {
    if !ticket.stage.is_live() {
        return;
    }
    let calendar = hotline.sla().calendar();
    let Some(deadlines) = out.deadlines.as_mut() else {
        return;
    };
    let d = &ticket.deadlines;
    for (name, due) in [
        ("sign_for", d.sign_for),
        ("first_contact", d.first_contact),
        ("resolution", d.resolution),
        ("callback", d.callback),
    ] {
        if due.is_some_and(|due| calendar.is_provisional_deadline(due)) {
            deadlines.provisional.push(name.to_owned());
        }
    }
    if !deadlines.provisional.is_empty() {
        let years: Vec<String> = calendar
            .provisional_years()
            .iter()
            .map(ToString::to_string)
            .collect();
        deadlines.provisional_note = format!(
            "暂定 provisional: the holiday notice for {} is not loaded yet; counted on the statutory holidays without 调休, and recounted when it is",
            years.join(", ")
        );
    }
}
