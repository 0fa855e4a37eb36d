//! The 12345 domain, with no I/O.
//!
//! # Layout
//! - [`ids`]: newtypes for ticket, station, division, staff, request, category and kiosk ids.
//! - [`kinds`]: closed vocabularies (channel, nature, urgency, stage, flags, reasons).
//! - [`error`]: the crate's errors.

pub mod error;
pub mod ids;
pub mod kinds;

pub use error::{InvalidInput, LifecycleError};
pub use ids::{CategoryCode, DivisionCode, KioskId, RequestId, StaffId, StationId, TicketId};
pub use kinds::{
    Channel, EmergencyService, Flag, Nature, ReturnReason, Satisfaction, Stage, Urgency,
};
