//! The 12345 domain, with no I/O.
//!
//! # Layout
//! - [`ids`]: newtypes for ticket, station, division, staff, request, category and kiosk ids.
//! - [`kinds`]: closed vocabularies (channel, nature, urgency, stage, flags, reasons).
//! - [`ticket`]: the ticket, the request it starts from, and input limits.
//! - [`lifecycle`]: the pure state machine: actions, actors, events, [`lifecycle::apply`].
//! - [`route`]: the stored explanation of a routing decision.
//! - [`clock`]: injected time.
//! - [`error`]: the crate's errors.

pub mod clock;
pub mod error;
pub mod ids;
pub mod kinds;
pub mod lifecycle;
pub mod route;
pub mod ticket;

pub use clock::{Clock, ManualClock, SteppedClock, SystemClock};
pub use lifecycle::{advance, apply, open, replay, Action, Actor, DueDates, Event, Role};
pub use ticket::{
    ArticleRef, Caller, ClockStarts, Deadlines, DirectAnswer, GeoPoint, NewTicket, Outcome, Ticket,
};

pub use error::{InvalidInput, LifecycleError};
pub use ids::{
    CategoryCode, DivisionCode, IncidentId, KioskId, RequestId, StaffId, StationId, TicketId,
};
pub use kinds::{
    Channel, EmergencyService, Flag, Nature, ReturnReason, Satisfaction, Stage, Urgency,
};
