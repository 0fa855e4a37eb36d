//! The four levels of the division tree the hotline dispatches along.

use std::fmt;

use hotline_core::InvalidInput;
use serde::{Deserialize, Serialize};

/// A level of the division tree. Ordered from the top: `City < District < Street < Community`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 地级市, e.g. 苏州市 (4-digit code).
    City,
    /// 区 or 县级市, e.g. 姑苏区, 昆山市 (6-digit code).
    District,
    /// 街道 or 镇 (and the statistical units at that level), e.g. 双塔街道 (9-digit code).
    Street,
    /// 社区 or 村, e.g. 金麟社区 (12-digit code).
    Community,
}

impl Level {
    pub const ALL: [Level; 4] = [
        Level::City,
        Level::District,
        Level::Street,
        Level::Community,
    ];

    /// The stable code used in the CSV, the API and logs.
    pub fn code(self) -> &'static str {
        match self {
            Level::City => "city",
            Level::District => "district",
            Level::Street => "street",
            Level::Community => "community",
        }
    }

    /// The name staff use.
    pub fn name_zh(self) -> &'static str {
        match self {
            Level::City => "市",
            Level::District => "区县",
            Level::Street => "街道乡镇",
            Level::Community => "社区村",
        }
    }

    /// How many digits a division code of this level has.
    pub fn code_len(self) -> usize {
        match self {
            Level::City => 4,
            Level::District => 6,
            Level::Street => 9,
            Level::Community => 12,
        }
    }

    /// The level above, `None` for the city.
    pub fn parent(self) -> Option<Level> {
        match self {
            Level::City => None,
            Level::District => Some(Level::City),
            Level::Street => Some(Level::District),
            Level::Community => Some(Level::Street),
        }
    }

    /// Parses a code (`community`) or a Chinese name (`社区村`).
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, InvalidInput> {
        let value = raw.trim();
        Self::ALL
            .into_iter()
            .find(|l| l.code() == value || l.name_zh() == value)
            .ok_or_else(|| {
                InvalidInput::new(
                    field,
                    format!("{raw:?} is not a level (city, district, street or community)"),
                )
            })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_codes_and_chinese_names_and_order_top_down() {
        assert_eq!(Level::parse("l", "street").unwrap(), Level::Street);
        assert_eq!(Level::parse("l", "社区村").unwrap(), Level::Community);
        assert!(Level::parse("level", "province").is_err());
        assert!(Level::City < Level::District && Level::Street < Level::Community);
        assert_eq!(Level::Community.parent(), Some(Level::Street));
    }
}
