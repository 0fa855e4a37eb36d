// Web desk latency on loopback: page renders (the queue list, the intake page, a ticket page)
// and the live preview's round trip, each N times in a row, as one browser would send them.
//   node bench.mjs BASE_URL LOGIN PASSWORD N
const [base, login, password, n] = [process.argv[2], process.argv[3], process.argv[4], Number(process.argv[5] || 300)];

const form = (fields) => new URLSearchParams(fields).toString();
const res = await fetch(`${base}/desk/login`, {
  method: "POST", redirect: "manual",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: form({ login, password }),
});
const cookie = (res.headers.get("set-cookie") || "").split(";")[0];
if (!cookie) { console.error("login failed"); process.exit(1); }
const headers = { cookie };
const page = await (await fetch(`${base}/desk/intake`, { headers })).text();
const csrf = page.split('name="csrf" value="')[1].split('"')[0];

const texts = ["我家楼上漏水，找物业报修没人来修", "小区门口路灯坏了一个星期", "楼下饭店油烟太大", "公交站台的广告牌松了"];
const ticket = await (await fetch(`${base}/desk/intake`, {
  method: "POST", headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
  body: form({ csrf, text: texts[0], address: "姑苏区双塔街道沧浪亭社区", phone: "13912345678" }),
})).text();
const id = ticket.split('id="ticket-number">')[1].split("<")[0];

async function time(what, request) {
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await request(i);
    await r.text();
    if (!r.ok) { console.error(`${what}: HTTP ${r.status}`); process.exit(1); }
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))].toFixed(1);
  return { what, p50: q(0.5), p99: q(0.99) };
}

const results = [
  await time("page_intake", () => fetch(`${base}/desk/intake`, { headers })),
  await time("page_ticket", () => fetch(`${base}/desk/tickets/${id}`, { headers })),
  await time("page_work_list", () => fetch(`${base}/desk/work/pending_dispatch`, { headers })),
  await time("preview", (i) => fetch(`${base}/desk/intake/preview`, {
    method: "POST", headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
    body: form({ csrf, text: texts[i % texts.length] + "，" + i, address: "姑苏区双塔街道沧浪亭社区" }),
  })),
];
for (const r of results) console.log(`${r.what}_p50_ms=${r.p50} ${r.what}_p99_ms=${r.p99}`);
