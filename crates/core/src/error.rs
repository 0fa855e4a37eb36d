//! The domain's errors. One enum for the crate; the router maps it to gRPC status in one place.

use thiserror::Error;

use crate::kinds::Stage;

/// A field of a request that failed validation. `field` names it the way the API does.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct InvalidInput {
    pub field: &'static str,
    pub message: String,
}

impl InvalidInput {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Why the lifecycle refused an action.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LifecycleError {
    /// The action is not one of the transitions allowed from the ticket's current stage.
    #[error("cannot {action} a ticket that is {stage} ({stage_zh})", stage_zh = stage.name_zh())]
    IllegalTransition { stage: Stage, action: &'static str },
    /// The action is allowed in this stage, but a rule of the lifecycle stops it now.
    #[error("{0}")]
    Precondition(String),
    /// The actor may not do this to this ticket (another station's ticket, a centre action).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
}
