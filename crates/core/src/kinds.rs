//! The closed vocabularies of a ticket: channel, nature, urgency, stage, supervision flags,
//! return reasons, satisfaction and outcomes. Each has a stable snake_case code used in the
//! store, the API and logs, and the Chinese name staff know it by.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::InvalidInput;

/// Declares a closed vocabulary with its stable code and Chinese name.
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = ($code:literal, $zh:literal)),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code (store, API, logs).
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The name staff use.
            pub fn name_zh(self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }

            /// Parses a code or a Chinese name.
            pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
                let value = raw.trim();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.code() == value || v.name_zh() == value)
                    .ok_or_else(|| {
                        let known: Vec<&str> = Self::ALL.iter().map(|v| v.code()).collect();
                        InvalidInput::new(
                            field,
                            format!(concat!("{:?} is not a known ", $what, " (one of: {})"), raw, known.join(", ")),
                        )
                    })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

vocabulary!(
    /// Where the request came from.
    Channel, "channel" {
        Hotline = ("hotline", "热线"),
        Web = ("web", "网站"),
        Kiosk = ("kiosk", "信息亭"),
        DigitalTv = ("digital_tv", "数字电视"),
        App = ("app", "移动应用"),
        DeviceAlarm = ("device_alarm", "设备报警"),
    }
);

vocabulary!(
    /// The nature of the request (诉求性质), separate from its subject category.
    Nature, "nature" {
        Consult = ("consult", "咨询"),
        Help = ("help", "求助"),
        Complaint = ("complaint", "投诉"),
        Report = ("report", "举报"),
        Suggestion = ("suggestion", "建议"),
        Praise = ("praise", "表扬"),
    }
);

vocabulary!(
    /// How urgent the request is (紧急程度). Ordered: `Normal < Urgent < Critical`.
    #[derive(Default)]
    Urgency, "urgency" {
        #[default]
        Normal = ("normal", "一般"),
        Urgent = ("urgent", "紧急"),
        Critical = ("critical", "特急"),
    }
);

vocabulary!(
    /// Where the ticket is in the lifecycle (工单状态).
    Stage, "stage" {
        /// 登记/受理: recorded by the operator, not yet routed.
        Accepted = ("accepted", "已受理"),
        /// 待派单: waiting in centre triage for a dispatch decision.
        PendingDispatch = ("pending_dispatch", "待派单"),
        /// 已并案: linked to an incident and handled through its lead ticket (no station holds
        /// it and no clock runs) until the incident's one reply moves it to the callback.
        Merged = ("merged", "已并案"),
        /// 待签收: on a station's queue, not yet signed for.
        AwaitingSignFor = ("awaiting_sign_for", "待签收"),
        /// 办理中: signed for and being handled.
        InProgress = ("in_progress", "办理中"),
        /// 退单申请: the station asked to return it; the centre arbitrates.
        ReturnRequested = ("return_requested", "退单待审"),
        /// 待审核: replied; the centre reviews the reply.
        PendingReview = ("pending_review", "待审核"),
        /// 待回访: reply accepted; waiting for the callback to the citizen.
        AwaitingCallback = ("awaiting_callback", "待回访"),
        /// 已结案: closed, with an outcome.
        Closed = ("closed", "已结案"),
    }
);

vocabulary!(
    /// Supervision flags (督办标识), orthogonal to the stage: a ticket can be in progress, red and supervised.
    Flag, "supervision flag" {
        /// 黄灯: a deadline is near.
        Warning = ("warning", "黄灯预警"),
        /// 红灯: a deadline has passed.
        Overdue = ("overdue", "红灯超期"),
        /// 催办: the centre urged the station.
        Urged = ("urged", "催办"),
        /// 督办: supervised at street/district level, priority raised.
        Supervised = ("supervised", "督办"),
        /// 通报: published in the centre's bulletin.
        Published = ("published", "通报"),
        /// The first-contact deadline is near (联系预警).
        ContactWarning = ("contact_warning", "联系预警"),
        /// The caller was not contacted in time (联系超时).
        ContactOverdue = ("contact_overdue", "联系超时"),
    }
);

vocabulary!(
    /// Why a station returns a ticket (退单理由). A return must carry one.
    ReturnReason, "return reason" {
        WrongTerritory = ("wrong_territory", "属地不符"),
        NotOurFunction = ("not_our_function", "职能不符"),
        UnclearOwnership = ("unclear_ownership", "权属不清"),
    }
);

vocabulary!(
    /// What the citizen said at the callback (回访满意度).
    Satisfaction, "satisfaction" {
        Satisfied = ("satisfied", "满意"),
        Basic = ("basic", "基本满意"),
        Dissatisfied = ("dissatisfied", "不满意"),
        /// 无法联系: the caller could not be reached (excluded from 回访满意率).
        Unreachable = ("unreachable", "无法联系"),
        /// 拒绝回访: the caller declined to answer (excluded from 回访满意率).
        Refused = ("refused", "拒绝回访"),
    }
);

impl Satisfaction {
    /// Whether the callback reached a caller who answered: only those count in 回访满意率.
    pub fn is_reached(self) -> bool {
        !matches!(self, Satisfaction::Unreachable | Satisfaction::Refused)
    }
}

vocabulary!(
    /// The emergency service a request is handed to (转警/转急救).
    EmergencyService, "emergency service" {
        Police = ("police_110", "110"),
        Fire = ("fire_119", "119"),
        Ambulance = ("ambulance_120", "120"),
        TrafficPolice = ("traffic_122", "122"),
    }
);

impl Stage {
    /// A live ticket is one that still needs work (duplicates may link only to live tickets).
    pub fn is_live(self) -> bool {
        self != Stage::Closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_parse_codes_and_chinese_names() {
        assert_eq!(Nature::parse("nature", "投诉").unwrap(), Nature::Complaint);
        assert_eq!(
            Nature::parse("nature", "complaint").unwrap(),
            Nature::Complaint
        );
        assert_eq!(Urgency::parse("u", "特急").unwrap(), Urgency::Critical);
        let err = Channel::parse("channel", "fax").unwrap_err();
        assert_eq!(err.field, "channel");
        assert!(err.message.contains("hotline"), "{}", err.message);
    }

    #[test]
    fn urgency_orders_normal_below_critical() {
        assert!(Urgency::Normal < Urgency::Urgent && Urgency::Urgent < Urgency::Critical);
    }

    #[test]
    fn every_code_is_unique_within_its_vocabulary() {
        let codes: std::collections::HashSet<_> = Stage::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes.len(), Stage::ALL.len());
    }
}
