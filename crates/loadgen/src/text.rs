//! Realistic citizen requests: Chinese text of 200-400 characters assembled from fragments the
//! way a 12345 operator writes them up (who, where, what, since when, what was tried, what is
//! asked), so that no two tickets are alike and the text is not trivially compressible.

/// A small, fast, deterministic generator (SplitMix64); the load needs variety, not security.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "朱", "沈", "顾", "陆",
];
const TITLES: &[&str] = &["先生", "女士"];

const DISTRICTS: &[&str] = &[
    "姑苏区",
    "吴中区",
    "相城区",
    "虎丘区",
    "吴江区",
    "工业园区",
    "高新区",
];
const PLACES: &[&str] = &[
    "金鸡湖大道与星湖街交叉口附近",
    "干将西路养育巷口公交站台旁",
    "东环路某小区3幢2单元楼下",
    "石路步行街北侧背街小巷内",
    "独墅湖高教区文星广场西门",
    "平江路历史街区南段河道边",
    "桐泾北路菜场东侧人行道上",
    "狮山路与长江路路口东南角",
    "松陵镇中山南路一处老旧小区",
    "渭塘镇某工业园区厂房后面",
    "木渎古镇景区停车场出入口",
    "观前街商业区一家餐饮店后门",
];
const PROBLEMS: &[&str] = &[
    "有一处窨井盖破损下陷，边上只放了一块砖头作提示，夜间骑电动车经过非常危险",
    "路灯已经连续十多天不亮，整段路晚上漆黑一片，老人和孩子出行都很担心",
    "一家夜宵店每天营业到凌晨两三点，油烟直排并且顾客喧哗，严重影响周边居民休息",
    "自来水近一周出现发黄浑浊现象，放水几分钟后仍有异味，家中老人不敢饮用",
    "小区门口长期有车辆违章占用消防通道，物业多次劝离无果，存在很大安全隐患",
    "工地夜间超时施工，打桩机和渣土车的噪音一直持续到深夜十一点以后",
    "人行道上的共享单车堆放杂乱，占据了盲道，视障人士和推婴儿车的居民无法通行",
    "楼道内有住户私拉电线给电动车充电，电线从窗户垂下，雨天时有火花",
    "河道里漂浮大量垃圾和死鱼，天气转热后臭味明显，附近居民无法开窗",
    "小区内一棵大树枝干断裂悬在半空，下面就是儿童游乐区，随时可能砸到人",
    "公交站台的电子站牌损坏多日，显示内容错乱，乘客无法了解车辆到站时间",
    "社区卫生服务中心的预约电话长期无人接听，老人配药只能一大早去现场排队",
];
const SINCE: &[&str] = &[
    "这个情况从上个月中旬就开始了，",
    "已经持续了大约两周时间，",
    "自春节以后就一直存在，",
    "最近三四天明显加重，",
    "去年夏天也出现过同样的问题，",
    "据邻居说已经反映过好几次，",
];
const TRIED: &[&str] = &[
    "来电人表示曾向社区居委会反映，工作人员答复会上报处理，但至今没有任何进展。",
    "来电人已联系过物业公司，物业称不属于其管理范围，让其自行找相关部门。",
    "来电人之前在寒山闻钟论坛发帖，有网友跟帖但没有得到官方回复。",
    "来电人拨打过相关单位的服务电话，对方让其等待通知，之后便没有了消息。",
    "附近商户也曾自行设置警示标志，但很快被人移走，问题仍未解决。",
    "来电人担心时间拖久了会出事故，因此通过本平台再次反映。",
];
const ASKS: &[&str] = &[
    "希望相关部门尽快派人到现场核实并处理，处理结果请电话告知。",
    "要求有关单位加强日常巡查和监管，从根本上解决这一问题。",
    "请求相关部门依法查处，并给周边居民一个明确的答复。",
    "希望能在一周内安排维修，同时在现场设置明显的警示标识。",
    "请转交属地街道和主管部门协调处理，来电人愿意配合现场核查。",
];
const EXTRA: &[&str] = &[
    "来电人补充说，附近有一所小学，每天上下学时段人流量很大。",
    "据来电人描述，周边还有不少租户，很多人并不清楚应该向哪个部门反映。",
    "来电人情绪较为激动，表示如果再不处理将向上级部门投诉。",
    "来电人提供了现场照片，已在网站留言中上传，可供承办单位参考。",
    "该位置靠近地铁站出口，早晚高峰时段影响的人数较多。",
    "来电人称家中有行动不便的老人，对此问题尤为关注。",
    "来电人表示理解相关部门工作繁忙，但希望能给出明确的处理时限。",
    "周边多名居民有同样诉求，来电人代表大家进行反映。",
];

/// One ticket's caller and text: a name, a mobile number, an address and 200-400 characters.
#[derive(Debug, Clone)]
pub struct Request {
    pub caller_name: String,
    pub phone: String,
    pub address: String,
    pub text: String,
}

const MIN_CHARS: usize = 200;
const MAX_CHARS: usize = 400;

pub fn request(rng: &mut Rng) -> Request {
    let name = format!("{}{}", rng.pick(SURNAMES), rng.pick(TITLES));
    let phone = format!("1{}{:09}", 3 + rng.below(7), rng.next_u64() % 1_000_000_000);
    let address = format!("苏州市{}{}", rng.pick(DISTRICTS), rng.pick(PLACES));
    let target = MIN_CHARS + rng.below(MAX_CHARS - MIN_CHARS + 1);

    let mut text = format!(
        "{name}来电反映：{address}{}。{}{}{}",
        rng.pick(PROBLEMS),
        rng.pick(SINCE),
        "给日常生活带来很大不便。",
        rng.pick(TRIED),
    );
    // Pad with further details (each at most once) until the target length is reached.
    let mut extras: Vec<&str> = EXTRA.to_vec();
    while text.chars().count() + 40 < target && !extras.is_empty() {
        let i = rng.below(extras.len());
        text.push_str(extras.swap_remove(i));
    }
    text.push_str(rng.pick(ASKS));
    // A second, different problem nearby makes the long ones longer still.
    if text.chars().count() < MIN_CHARS {
        text.push_str(&format!("另外，同一位置附近{}。", rng.pick(PROBLEMS)));
    }
    if text.chars().count() > MAX_CHARS {
        text = text.chars().take(MAX_CHARS - 1).collect();
        text.push('。');
    }
    Request {
        caller_name: name,
        phone,
        address,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_200_to_400_chars_and_vary() {
        let mut rng = Rng::new(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let r = request(&mut rng);
            let n = r.text.chars().count();
            assert!((MIN_CHARS..=MAX_CHARS).contains(&n), "{n}: {}", r.text);
            assert!(r.phone.len() == 11 && r.phone.bytes().all(|b| b.is_ascii_digit()));
            seen.insert(r.text);
        }
        assert!(seen.len() > 1900, "only {} distinct texts", seen.len());
    }
}
