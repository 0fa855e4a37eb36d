//! Names of places outside the city, so that `北京市朝阳区` is answered "outside the city"
//! rather than "no place name". Provinces (full and short names) and the larger prefecture
//! cities; the directory's own province and city are left out when the index is built.

/// (province code, full name, short name).
const PROVINCES: &[(&str, &str, &str)] = &[
    ("11", "北京市", "北京"),
    ("12", "天津市", "天津"),
    ("13", "河北省", "河北"),
    ("14", "山西省", "山西"),
    ("15", "内蒙古自治区", "内蒙古"),
    ("21", "辽宁省", "辽宁"),
    ("22", "吉林省", "吉林"),
    ("23", "黑龙江省", "黑龙江"),
    ("31", "上海市", "上海"),
    ("32", "江苏省", "江苏"),
    ("33", "浙江省", "浙江"),
    ("34", "安徽省", "安徽"),
    ("35", "福建省", "福建"),
    ("36", "江西省", "江西"),
    ("37", "山东省", "山东"),
    ("41", "河南省", "河南"),
    ("42", "湖北省", "湖北"),
    ("43", "湖南省", "湖南"),
    ("44", "广东省", "广东"),
    ("45", "广西壮族自治区", "广西"),
    ("46", "海南省", "海南"),
    ("50", "重庆市", "重庆"),
    ("51", "四川省", "四川"),
    ("52", "贵州省", "贵州"),
    ("53", "云南省", "云南"),
    ("54", "西藏自治区", "西藏"),
    ("61", "陕西省", "陕西"),
    ("62", "甘肃省", "甘肃"),
    ("63", "青海省", "青海"),
    ("64", "宁夏回族自治区", "宁夏"),
    ("65", "新疆维吾尔自治区", "新疆"),
    ("71", "台湾省", "台湾"),
    ("81", "香港特别行政区", "香港"),
    ("82", "澳门特别行政区", "澳门"),
];

/// Prefecture-level cities (stems; `市` is added too).
const CITIES: &[&str] = &[
    "南京",
    "无锡",
    "徐州",
    "常州",
    "苏州",
    "南通",
    "连云港",
    "淮安",
    "盐城",
    "扬州",
    "镇江",
    "泰州",
    "宿迁",
    "杭州",
    "宁波",
    "温州",
    "嘉兴",
    "湖州",
    "绍兴",
    "金华",
    "合肥",
    "芜湖",
    "广州",
    "深圳",
    "东莞",
    "佛山",
    "武汉",
    "成都",
    "西安",
    "郑州",
    "长沙",
    "济南",
    "青岛",
    "沈阳",
    "大连",
    "哈尔滨",
    "长春",
    "石家庄",
    "太原",
    "呼和浩特",
    "南昌",
    "福州",
    "厦门",
    "昆明",
    "贵阳",
    "南宁",
    "海口",
    "兰州",
    "西宁",
    "银川",
    "乌鲁木齐",
    "拉萨",
];

/// Names of places outside a city named `city_name` with code `city_code`.
pub(crate) fn outside_names(city_code: &str, city_name: &str) -> Vec<String> {
    let province = city_code.get(..2).unwrap_or("");
    let mut names = Vec::new();
    for (code, full, short) in PROVINCES {
        if *code != province {
            names.push((*full).to_owned());
            names.push((*short).to_owned());
        }
    }
    for stem in CITIES {
        if !city_name.starts_with(stem) {
            names.push((*stem).to_owned());
            names.push(format!("{stem}市"));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_city_and_its_province_are_not_outside() {
        let names = outside_names("3205", "苏州市");
        assert!(names.iter().any(|n| n == "北京市"));
        assert!(names.iter().any(|n| n == "无锡"));
        assert!(!names
            .iter()
            .any(|n| n == "苏州" || n == "苏州市" || n == "江苏省"));
    }
}
