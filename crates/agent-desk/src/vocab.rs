//! The API's vocabularies on the command line: clap value enums for the flags, and codes plus
//! Chinese labels for what comes back. Codes are the proto enum names without their prefix, in
//! snake_case (`STAGE_AWAITING_SIGN_FOR` -> `awaiting_sign_for`), as in the event log.

use clap::ValueEnum;
use hotline_proto::v1 as pb;

/// Maps a response enum (an `i32` on the wire) to its code and Chinese label.
macro_rules! names {
    ($code:ident, $label:ident, $ty:ty, $prefix:literal, { $($variant:ident => $zh:literal),* $(,)? }) => {
        /// The snake_case code; `None` for the unspecified value, the number for one this client
        /// does not know (a newer server).
        pub fn $code(raw: i32) -> Option<String> {
            match <$ty>::try_from(raw) {
                Ok(<$ty>::Unspecified) => None,
                Ok(value) => {
                    let name = value.as_str_name();
                    Some(name.strip_prefix($prefix).unwrap_or(name).to_ascii_lowercase())
                }
                Err(_) => Some(raw.to_string()),
            }
        }

        /// `中文 (code)` for people; `-` when unspecified.
        pub fn $label(raw: i32) -> String {
            let zh = match <$ty>::try_from(raw) {
                $(Ok(<$ty>::$variant) => $zh,)*
                _ => "",
            };
            match ($code(raw), zh) {
                (None, _) => "-".to_owned(),
                (Some(code), "") => code,
                (Some(code), zh) => format!("{zh} ({code})"),
            }
        }
    };
}

names!(stage_code, stage_label, pb::Stage, "STAGE_", {
    Accepted => "已受理",
    PendingDispatch => "待派单",
    AwaitingSignFor => "待签收",
    InProgress => "办理中",
    ReturnRequested => "退单待审",
    PendingReview => "待审核",
    AwaitingCallback => "待回访",
    Closed => "已结案",
    Merged => "已并案",
});

names!(channel_code, channel_label, pb::Channel, "CHANNEL_", {
    Hotline => "热线",
    Web => "网站",
    Kiosk => "信息亭",
    DigitalTv => "数字电视",
    App => "移动应用",
    DeviceAlarm => "设备报警",
});

names!(nature_code, nature_label, pb::Nature, "NATURE_", {
    Consult => "咨询",
    Help => "求助",
    Complaint => "投诉",
    Report => "举报",
    Suggestion => "建议",
    Praise => "表扬",
});

names!(urgency_code, urgency_label, pb::Urgency, "URGENCY_", {
    Normal => "一般",
    Urgent => "紧急",
    Critical => "特急",
});

names!(flag_code, flag_label, pb::Flag, "FLAG_", {
    Warning => "黄灯预警",
    Overdue => "红灯超期",
    Urged => "催办",
    Supervised => "督办",
    Published => "通报",
    ContactWarning => "联系预警",
    ContactOverdue => "联系超时",
});

names!(reason_code, reason_label, pb::ReturnReason, "RETURN_REASON_", {
    WrongTerritory => "属地不符",
    NotOurFunction => "职能不符",
    UnclearOwnership => "权属不清",
});

names!(satisfaction_code, satisfaction_label, pb::Satisfaction, "SATISFACTION_", {
    Satisfied => "满意",
    Basic => "基本满意",
    Dissatisfied => "不满意",
});

names!(service_code, service_label, pb::EmergencyService, "EMERGENCY_SERVICE_", {
    Police110 => "110 报警",
    Fire119 => "119 火警",
    Ambulance120 => "120 急救",
    Traffic122 => "122 交通事故",
});

names!(role_code, role_label, pb::Role, "ROLE_", {
    Operator => "话务员",
    Station => "承办单位",
    Supervisor => "督办",
    Integrator => "对接平台",
});

// ---------------------------------------------------------------- flag values

/// Who is acting (`--role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum RoleArg {
    /// 话务员 at the centre.
    #[default]
    Operator,
    /// Staff of a receiving station (give --station).
    Station,
    /// Centre / command-centre supervisor.
    Supervisor,
    /// Another platform.
    Integrator,
}

impl RoleArg {
    pub fn to_pb(self) -> pb::Role {
        match self {
            Self::Operator => pb::Role::Operator,
            Self::Station => pb::Role::Station,
            Self::Supervisor => pb::Role::Supervisor,
            Self::Integrator => pb::Role::Integrator,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ChannelArg {
    /// 热线 12345
    #[default]
    Hotline,
    /// 网站
    Web,
    /// 信息亭
    Kiosk,
    /// 数字电视
    #[value(alias = "digital_tv")]
    DigitalTv,
    /// 移动应用
    App,
    /// 设备报警
    #[value(alias = "device_alarm")]
    DeviceAlarm,
}

impl ChannelArg {
    pub fn to_pb(self) -> pb::Channel {
        match self {
            Self::Hotline => pb::Channel::Hotline,
            Self::Web => pb::Channel::Web,
            Self::Kiosk => pb::Channel::Kiosk,
            Self::DigitalTv => pb::Channel::DigitalTv,
            Self::App => pb::Channel::App,
            Self::DeviceAlarm => pb::Channel::DeviceAlarm,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NatureArg {
    /// 咨询
    Consult,
    /// 求助
    Help,
    /// 投诉
    Complaint,
    /// 举报
    Report,
    /// 建议
    Suggestion,
    /// 表扬
    Praise,
}

impl NatureArg {
    pub fn to_pb(self) -> pb::Nature {
        match self {
            Self::Consult => pb::Nature::Consult,
            Self::Help => pb::Nature::Help,
            Self::Complaint => pb::Nature::Complaint,
            Self::Report => pb::Nature::Report,
            Self::Suggestion => pb::Nature::Suggestion,
            Self::Praise => pb::Nature::Praise,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UrgencyArg {
    /// 一般
    Normal,
    /// 紧急
    Urgent,
    /// 特急
    Critical,
}

impl UrgencyArg {
    pub fn to_pb(self) -> pb::Urgency {
        match self {
            Self::Normal => pb::Urgency::Normal,
            Self::Urgent => pb::Urgency::Urgent,
            Self::Critical => pb::Urgency::Critical,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StageArg {
    /// 已受理
    Accepted,
    /// 待派单
    #[value(alias = "pending_dispatch")]
    PendingDispatch,
    /// 待签收
    #[value(alias = "awaiting_sign_for")]
    AwaitingSignFor,
    /// 办理中
    #[value(alias = "in_progress")]
    InProgress,
    /// 退单待审
    #[value(alias = "return_requested")]
    ReturnRequested,
    /// 待审核
    #[value(alias = "pending_review")]
    PendingReview,
    /// 待回访
    #[value(alias = "awaiting_callback")]
    AwaitingCallback,
    /// 已结案
    Closed,
    /// 已并案 (in an incident)
    Merged,
}

impl StageArg {
    pub fn to_pb(self) -> pb::Stage {
        match self {
            Self::Accepted => pb::Stage::Accepted,
            Self::PendingDispatch => pb::Stage::PendingDispatch,
            Self::AwaitingSignFor => pb::Stage::AwaitingSignFor,
            Self::InProgress => pb::Stage::InProgress,
            Self::ReturnRequested => pb::Stage::ReturnRequested,
            Self::PendingReview => pb::Stage::PendingReview,
            Self::AwaitingCallback => pb::Stage::AwaitingCallback,
            Self::Closed => pb::Stage::Closed,
            Self::Merged => pb::Stage::Merged,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceArg {
    /// 110 police
    #[value(name = "110")]
    Police,
    /// 119 fire
    #[value(name = "119")]
    Fire,
    /// 120 ambulance
    #[value(name = "120")]
    Ambulance,
    /// 122 traffic police
    #[value(name = "122")]
    Traffic,
}

impl ServiceArg {
    pub fn to_pb(self) -> pb::EmergencyService {
        match self {
            Self::Police => pb::EmergencyService::Police110,
            Self::Fire => pb::EmergencyService::Fire119,
            Self::Ambulance => pb::EmergencyService::Ambulance120,
            Self::Traffic => pb::EmergencyService::Traffic122,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReturnReasonArg {
    /// 属地不符
    #[value(alias = "wrong_territory")]
    WrongTerritory,
    /// 职能不符
    #[value(alias = "not_our_function")]
    NotOurFunction,
    /// 权属不清
    #[value(alias = "unclear_ownership")]
    UnclearOwnership,
}

impl ReturnReasonArg {
    pub fn to_pb(self) -> pb::ReturnReason {
        match self {
            Self::WrongTerritory => pb::ReturnReason::WrongTerritory,
            Self::NotOurFunction => pb::ReturnReason::NotOurFunction,
            Self::UnclearOwnership => pb::ReturnReason::UnclearOwnership,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SatisfactionArg {
    /// 满意
    Satisfied,
    /// 基本满意
    Basic,
    /// 不满意
    Dissatisfied,
}

impl SatisfactionArg {
    pub fn to_pb(self) -> pb::Satisfaction {
        match self {
            Self::Satisfied => pb::Satisfaction::Satisfied,
            Self::Basic => pb::Satisfaction::Basic,
            Self::Dissatisfied => pb::Satisfaction::Dissatisfied,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlagArg {
    /// 催办
    Urged,
    /// 督办
    Supervised,
    /// 通报
    Published,
    /// 黄灯预警
    Warning,
    /// 红灯超期
    Overdue,
}

impl FlagArg {
    pub fn to_pb(self) -> pb::Flag {
        match self {
            Self::Urged => pb::Flag::Urged,
            Self::Supervised => pb::Flag::Supervised,
            Self::Published => pb::Flag::Published,
            Self::Warning => pb::Flag::Warning,
            Self::Overdue => pb::Flag::Overdue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_labels_follow_the_proto_names() {
        assert_eq!(
            stage_code(pb::Stage::AwaitingSignFor as i32).as_deref(),
            Some("awaiting_sign_for")
        );
        assert_eq!(
            stage_label(pb::Stage::Closed as i32),
            "已结案 (closed)".to_owned()
        );
        assert_eq!(stage_code(0), None);
        assert_eq!(stage_label(0), "-");
        assert_eq!(stage_code(99).as_deref(), Some("99"));
        assert_eq!(
            service_code(pb::EmergencyService::Police110 as i32).as_deref(),
            Some("police_110")
        );
        assert_eq!(
            channel_code(ChannelArg::DigitalTv.to_pb() as i32).as_deref(),
            Some("digital_tv")
        );
    }

    #[test]
    fn flag_values_accept_kebab_and_snake_case() {
        assert_eq!(
            StageArg::from_str("awaiting-sign-for", false).unwrap(),
            StageArg::AwaitingSignFor
        );
        assert_eq!(
            StageArg::from_str("awaiting_sign_for", false).unwrap(),
            StageArg::AwaitingSignFor
        );
        assert_eq!(
            ServiceArg::from_str("119", false).unwrap(),
            ServiceArg::Fire
        );
        assert_eq!(
            ChannelArg::from_str("device-alarm", false).unwrap(),
            ChannelArg::DeviceAlarm
        );
    }
}
