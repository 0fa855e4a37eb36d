//! Newtypes for every identifier that crosses a boundary (gRPC, store, queue).
//!
//! Each is validated once, when parsed, so code further in can trust it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::InvalidInput;

/// A ticket (工单) id. UUIDv7, so ids sort by creation time and index well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketId(Uuid);

impl TicketId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
    /// Only the hyphenated form the API writes (36 characters): the braced, URN and bare-hex
    /// spellings the `uuid` crate also reads would make one ticket answer to several ids.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        let trimmed = raw.trim();
        (trimmed.len() == 36)
            .then(|| Uuid::try_parse(trimmed).ok())
            .flatten()
            .map(Self)
            .ok_or_else(|| {
                InvalidInput::new(
                    field,
                    format!(
                        "{} is not a ticket id (a UUID, e.g. 0190f7a0-0000-7000-8000-000000000000)",
                        quoted_prefix(raw)
                    ),
                )
            })
    }
}

/// `raw` quoted for an error message, cut short when it is long: the answer to a 10,000
/// character id need not carry it back.
fn quoted_prefix(raw: &str) -> String {
    const SHOWN: usize = 40;
    let n = raw.chars().count();
    if n <= SHOWN {
        format!("{raw:?}")
    } else {
        let head: String = raw.chars().take(SHOWN).collect();
        format!("{head:?}... ({n} characters)")
    }
}

impl Default for TicketId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An incident (并案事件): tickets about one matter, handled through one lead ticket. Its id
/// is the lead ticket's id, so two replicas that recognise the same matter at once open the
/// same incident rather than two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncidentId(TicketId);

impl IncidentId {
    /// The incident led by `lead`.
    pub fn led_by(lead: TicketId) -> Self {
        Self(lead)
    }
    /// The lead ticket.
    pub fn lead(&self) -> TicketId {
        self.0
    }
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        TicketId::parse(field, raw).map(Self).map_err(|_| {
            InvalidInput::new(
                field,
                format!(
                    "{} is not an incident id (its lead ticket's id, a UUID)",
                    quoted_prefix(raw)
                ),
            )
        })
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A statistical division code (统计用区划代码): 4 digits for a prefecture city (3205),
/// 6 for a district or county-level city, 9 for a street/town, 12 for a community/village.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DivisionCode(String);

impl DivisionCode {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        let code = raw.trim();
        let digits = code.bytes().all(|b| b.is_ascii_digit());
        if !digits || ![2, 4, 6, 9, 12].contains(&code.len()) {
            return Err(InvalidInput::new(
                field,
                format!("{raw:?} is not a division code (2, 4, 6, 9 or 12 digits)"),
            ));
        }
        Ok(Self(code.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DivisionCode {
    type Error = InvalidInput;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse("division_code", &value)
    }
}

impl From<DivisionCode> for String {
    fn from(value: DivisionCode) -> Self {
        value.0
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DivisionCode {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse("division_code", s)
    }
}

/// Macro for the string ids that share one shape: trimmed, non-empty, bounded, printable ASCII
/// (plus `-`, `_`, `.`, `:`), so they are safe as Redis keys and log fields.
macro_rules! token_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;
            pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
                let value = raw.trim();
                if value.is_empty() {
                    return Err(InvalidInput::new(field, concat!("a ", $what, " is required")));
                }
                if value.len() > $max {
                    return Err(InvalidInput::new(
                        field,
                        format!(concat!("a ", $what, " is at most {} characters"), $max),
                    ));
                }
                if !value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) {
                    return Err(InvalidInput::new(
                        field,
                        format!(concat!("{:?} is not a valid ", $what, " (letters, digits, - _ . : only)"), raw),
                    ));
                }
                Ok(Self(value.to_owned()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidInput;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(stringify!($name), &value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

token_id!(
    /// A station (receiving unit) id: `<division code>-<station type>`, e.g. `320505001001-css`.
    StationId,
    "station id",
    64
);
token_id!(
    /// A member of staff (operator, station staff, supervisor), as the caller's identity system names them.
    StaffId,
    "staff id",
    64
);
token_id!(
    /// A client-chosen idempotency key: a retried submit with the same key gets the same ticket.
    RequestId,
    "request id",
    128
);
token_id!(
    /// A category code in the taxonomy (e.g. `CJ.WY` for 城乡建设/物业管理).
    CategoryCode,
    "category code",
    64
);
token_id!(
    /// A kiosk (信息亭) id, registered in the directory with the community it stands in.
    KioskId,
    "kiosk id",
    64
);

impl StationId {
    /// The id of a station of `kind` at `division`, e.g. `320505001001-css`.
    pub fn of(division: &DivisionCode, kind: &str) -> Self {
        Self(format!("{}-{}", division.as_str(), kind))
    }

    /// The division part of the id, when it has one.
    pub fn division(&self) -> Option<DivisionCode> {
        let (code, _) = self.0.split_once('-')?;
        DivisionCode::parse("station_id", code).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_ids_are_read_only_in_the_form_the_api_writes() {
        let id = TicketId::new();
        assert_eq!(TicketId::parse("t", &id.to_string()).unwrap(), id);
        assert_eq!(
            TicketId::parse("t", &id.to_string().to_uppercase()).unwrap(),
            id
        );
        let uuid = id.as_uuid();
        for other in [
            uuid.simple().to_string(),
            uuid.braced().to_string(),
            uuid.urn().to_string(),
        ] {
            let err = TicketId::parse("ticket_id", &other).unwrap_err();
            assert_eq!(err.field, "ticket_id", "{other}");
        }
        let long = TicketId::parse("ticket_id", &"0".repeat(10_000)).unwrap_err();
        assert!(long.message.contains("10000 characters"), "{long}");
        assert!(long.message.len() < 200, "{long}");
    }

    #[test]
    fn division_codes_of_every_level_parse() {
        for code in ["32", "3205", "320505", "320505001", "320505001001"] {
            assert_eq!(DivisionCode::parse("d", code).unwrap().as_str(), code);
        }
    }

    #[test]
    fn division_codes_with_letters_or_odd_lengths_are_refused() {
        for code in ["", "32a5", "32050", "3205050010011", "苏州"] {
            let err = DivisionCode::parse("division_code", code).unwrap_err();
            assert_eq!(err.field, "division_code");
        }
    }

    #[test]
    fn station_ids_refuse_spaces_and_empty() {
        assert!(StationId::parse("s", "  ").is_err());
        assert!(StationId::parse("s", "a b").is_err());
        assert!(StationId::parse("s", &"x".repeat(65)).is_err());
        let id = StationId::parse("s", " 320505001001-css ").unwrap();
        assert_eq!(id.as_str(), "320505001001-css");
        assert_eq!(id.division().unwrap().as_str(), "320505001001");
    }

    #[test]
    fn ticket_ids_round_trip_and_reject_garbage() {
        let id = TicketId::new();
        assert_eq!(TicketId::parse("t", &id.to_string()).unwrap(), id);
        assert!(TicketId::parse("ticket_id", "nope").is_err());
    }
}
