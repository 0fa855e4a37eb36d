//! The ticket (工单): what the citizen asked, where it is in the lifecycle, who holds it and by when.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::InvalidInput;
use crate::ids::{
    CategoryCode, DivisionCode, IncidentId, KioskId, RequestId, StaffId, StationId, TicketId,
};
use crate::kinds::{
    Channel, EmergencyService, Flag, Nature, ReturnReason, Satisfaction, Stage, Urgency,
};

/// Longest request text accepted, in characters. A long call summary is ~1,500; 4,000 leaves room
/// for a pasted web form while keeping one ticket row small.
pub const TEXT_MAX_CHARS: usize = 4_000;
/// Longest free-text note (reply, basis, advice...), in characters.
pub const NOTE_MAX_CHARS: usize = 4_000;
/// Longest address text, in characters.
pub const ADDRESS_MAX_CHARS: usize = 500;
/// Longest caller name, in characters.
pub const NAME_MAX_CHARS: usize = 64;

/// Who called. Both parts are optional: anonymous requests are legal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub name: String,
    pub phone: String,
    /// 保密: the caller asked that the handling station not see who they are; the centre
    /// relays. Always offered for 举报 (reports).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confidential: bool,
}

/// WGS-84 coordinates of the place the request concerns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    pub lat: f64,
    pub lng: f64,
}

impl GeoPoint {
    pub fn parse(lat: f64, lng: f64) -> Result<Self, InvalidInput> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(InvalidInput::new(
                "location.lat",
                "latitude must be between -90 and 90",
            ));
        }
        if !lng.is_finite() || !(-180.0..=180.0).contains(&lng) {
            return Err(InvalidInput::new(
                "location.lng",
                "longitude must be between -180 and 180",
            ));
        }
        Ok(Self { lat, lng })
    }
}

/// A request as it arrives, before it is a ticket. Build it with [`NewTicket::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTicket {
    pub request_id: Option<RequestId>,
    pub channel: Channel,
    pub caller: Caller,
    pub text: String,
    pub address: String,
    pub location: Option<GeoPoint>,
    pub kiosk: Option<KioskId>,
    pub category: Option<CategoryCode>,
    pub nature: Nature,
    pub urgency: Urgency,
    pub division: Option<DivisionCode>,
}

impl NewTicket {
    /// Checks the free-text fields; ids and vocabularies are already typed.
    pub fn validate(mut self) -> Result<Self, InvalidInput> {
        self.text = required_text("text", &self.text, TEXT_MAX_CHARS)?;
        self.address = optional_text("address", &self.address, ADDRESS_MAX_CHARS)?;
        self.caller.name = optional_text("caller.name", &self.caller.name, NAME_MAX_CHARS)?;
        self.caller.phone = parse_phone(&self.caller.phone)?;
        Ok(self)
    }

    /// A digest (SHA-256, hex) of what was asked, to tell a true retry (same request id, same
    /// content) from a client reusing a request id for a different request.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for part in [
            self.channel.code(),
            &self.caller.name,
            &self.caller.phone,
            &self.text,
            &self.address,
        ] {
            hasher.update(part.as_bytes());
            // A separator that cannot occur in validated text keeps ("ab","c") != ("a","bc").
            hasher.update([0x1f]);
        }
        if let Some(point) = self.location {
            hasher.update(format!("{:.6},{:.6}", point.lat, point.lng).as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// Trims `raw` and requires it to be non-empty and at most `max` characters.
pub fn required_text(field: &'static str, raw: &str, max: usize) -> Result<String, InvalidInput> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(InvalidInput::new(field, "must not be empty"));
    }
    optional_text(field, value, max)
}

/// Trims `raw` and requires it to be at most `max` characters (empty is fine).
pub fn optional_text(field: &'static str, raw: &str, max: usize) -> Result<String, InvalidInput> {
    let value = raw.trim();
    let chars = value.chars().count();
    if chars > max {
        return Err(InvalidInput::new(
            field,
            format!("is {chars} characters; the limit is {max}"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(InvalidInput::new(field, "contains control characters"));
    }
    Ok(value.to_owned())
}

pub fn parse_phone(raw: &str) -> Result<String, InvalidInput> {
    let value = raw.trim();
    let ok = value.len() <= 20
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
    if !ok {
        return Err(InvalidInput::new(
            "caller.phone",
            format!("{raw:?} is not a phone number (digits, + - ( ) and spaces, at most 20)"),
        ));
    }
    Ok(value.to_owned())
}

/// The clocks that run on a ticket. `None` until the stage that starts the clock is reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    /// 签收时限: the station must sign for the ticket by then.
    pub sign_for: Option<DateTime<Utc>>,
    /// 首次联系时限: the station must contact the caller by then (from sign-for).
    #[serde(default)]
    pub first_contact: Option<DateTime<Utc>>,
    /// 办结时限: the station must reply by then (moves with approved extensions).
    pub resolution: Option<DateTime<Utc>>,
    /// 回访时限: the centre must call the citizen back by then.
    pub callback: Option<DateTime<Utc>>,
    /// When each clock started (for the yellow-light lead, a share of the clock's span).
    #[serde(default)]
    pub started: ClockStarts,
}

/// When each deadline's clock started. Set by the lifecycle from the event time, so replaying
/// the log gives the same values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockStarts {
    pub sign_for: Option<DateTime<Utc>>,
    #[serde(default)]
    pub first_contact: Option<DateTime<Utc>>,
    pub resolution: Option<DateTime<Utc>>,
    pub callback: Option<DateTime<Utc>>,
}

/// A pause of the resolution clock: since when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockPause {
    pub since: DateTime<Utc>,
    pub reason: String,
}

/// A co-handling unit (协办单位): reports back to the lead station, with its own deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoHandler {
    pub station: StationId,
    pub due: Option<DateTime<Utc>>,
    pub report: Option<String>,
}

/// A pending return request (退单申请), waiting for the centre's arbitration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRequest {
    pub reason: ReturnReason,
    pub basis: String,
    /// The stage to go back to if the centre refuses the return.
    pub from_stage: Stage,
}

/// A pending extension request (延期申请).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionRequest {
    pub working_days: u32,
    pub reason: String,
}

/// The station's reply (办结答复): an internal handling record and the text the citizen sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub internal_record: String,
    pub public_reply: String,
}

/// What the citizen said when called back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    pub satisfaction: Satisfaction,
    /// Whether the centre judged a dissatisfied answer reasonable (only a reasonable one means redo).
    pub reasonable: bool,
    pub note: String,
}

/// A knowledge-base article as a ticket records it: which one, and which version of it was read
/// to the caller (versions change; the ticket keeps the one used).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleRef {
    pub id: String,
    pub version: u32,
}

/// 直办: what the operator answered on the line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectAnswer {
    pub answer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article: Option<ArticleRef>,
}

/// How a closed ticket ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Handled by a station, reviewed and called back.
    Resolved,
    /// 直办: the operator answered from the knowledge base.
    AnsweredDirectly {
        answer: String,
        /// The article read to the caller, if the answer came from one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        article: Option<ArticleRef>,
    },
    /// 转110/119/120/122: handed to an emergency service.
    HandedOff {
        service: EmergencyService,
        note: String,
    },
    /// 不予受理: out of scope, with the advice given.
    NotAccepted { advice: String },
    /// 重复: a duplicate of a live ticket.
    Duplicate { of: TicketId },
}

/// A ticket and everything the lifecycle needs to decide the next step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    /// The number of events applied; the next event's sequence number is `version + 1`.
    pub version: u64,
    pub request_id: Option<RequestId>,
    pub channel: Channel,
    pub caller: Caller,
    pub text: String,
    pub address: String,
    pub location: Option<GeoPoint>,
    pub kiosk: Option<KioskId>,
    pub category: Option<CategoryCode>,
    pub nature: Nature,
    pub urgency: Urgency,
    pub division: Option<DivisionCode>,
    /// The station that holds the ticket now.
    pub station: Option<StationId>,
    /// The first receiver (首接单位) when a ticket was sub-dispatched: it stays responsible.
    pub lead_station: Option<StationId>,
    pub stage: Stage,
    pub flags: BTreeSet<Flag>,
    pub deadlines: Deadlines,
    pub co_handlers: Vec<CoHandler>,
    pub return_request: Option<ReturnRequest>,
    pub extension_request: Option<ExtensionRequest>,
    pub reply: Option<Reply>,
    pub callback: Option<Callback>,
    pub outcome: Option<Outcome>,
    pub signed_by: Option<StaffId>,
    pub return_count: u32,
    pub redo_count: u32,
    pub extension_count: u32,
    pub urge_count: u32,
    /// When the station first contacted the caller (the first-contact clock stops).
    #[serde(default)]
    pub contacted_at: Option<DateTime<Utc>>,
    /// Set while the resolution clock is paused, waiting on the caller (等待群众补充材料).
    #[serde(default)]
    pub paused: Option<ClockPause>,
    /// The latest routing decision and why (absent for tickets routed by hand).
    #[serde(default)]
    pub route: Option<Box<crate::route::Explanation>>,
    /// The account that recorded the request (the operator who took the call, or the
    /// integrator that submitted it): it may read the caller's contact, and an integrator sees
    /// only its own tickets.
    #[serde(default)]
    pub submitted_by: Option<StaffId>,
    /// 直办: the answer given on the line (and the article it came from). Kept while the centre
    /// calls the caller back, so closing it ends as a direct answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_answer: Option<DirectAnswer>,
    /// 并案: the incident this ticket leads or belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Ticket {
    /// A freshly accepted ticket (version 0; the `Submit` event makes it version 1).
    pub(crate) fn accepted(id: TicketId, new: NewTicket, at: DateTime<Utc>) -> Self {
        Self {
            id,
            version: 0,
            request_id: new.request_id,
            channel: new.channel,
            caller: new.caller,
            text: new.text,
            address: new.address,
            location: new.location,
            kiosk: new.kiosk,
            category: new.category,
            nature: new.nature,
            urgency: new.urgency,
            division: new.division,
            station: None,
            lead_station: None,
            stage: Stage::Accepted,
            flags: BTreeSet::new(),
            deadlines: Deadlines::default(),
            co_handlers: Vec::new(),
            return_request: None,
            extension_request: None,
            reply: None,
            callback: None,
            outcome: None,
            signed_by: None,
            return_count: 0,
            redo_count: 0,
            extension_count: 0,
            urge_count: 0,
            contacted_at: None,
            paused: None,
            route: None,
            submitted_by: None,
            direct_answer: None,
            incident: None,
            created_at: at,
            updated_at: at,
        }
    }

    /// Whether the ticket should sit on a station's queue (to be claimed and signed for).
    pub fn queued_station(&self) -> Option<&StationId> {
        match self.stage {
            Stage::AwaitingSignFor => self.station.as_ref(),
            _ => None,
        }
    }
}
