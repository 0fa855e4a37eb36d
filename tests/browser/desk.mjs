// The web desk in a real headless Chromium (Debian's), driven by playwright-core, against a
// real `hotline serve --demo` on the embedded default, with one extra SLA rule from run.sh: a
// one-minute sign-for clock for category CJ.AQSC, so a queue light can be seen turn red. Run by
// tests/browser/run.sh:
//   node desk.mjs http://127.0.0.1:PORT SCREENSHOT_DIR
// Every wait is for a selector or a condition, never for a fixed time.
import { chromium } from "playwright-core";

const base = process.argv[2];
const shots = process.argv[3];
const PASSWORD = "hotline-demo";
const PHONE = "13912345678";
let failures = 0;
const check = (ok, what) => {
  if (ok) console.log(`ok   ${what}`);
  else { console.log(`FAIL ${what}`); failures += 1; }
};
const shot = async (page, name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const dialogs = [];
async function login(page, who) {
  await page.goto(`${base}/desk/login`);
  await page.fill("#login", who);
  await page.fill("#password", PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
}
async function session(who) {
  const context = await browser.newContext({ locale: "zh-CN" });
  const page = await context.newPage();
  page.on("dialog", async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  await login(page, who);
  return { context, page };
}

async function takeCall(page, text, address, phone = PHONE) {
  await page.goto(`${base}/desk/intake`);
  await page.fill("#phone", phone);
  await page.fill("#name", "王女士");
  await page.fill("#address", address);
  // A restored draft is cleared first: this is a new call.
  await page.fill("#text", "");
  await page.click("#text");
  await page.keyboard.type(text);
}
async function submitCall(page) {
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Control+Enter")]);
  return (await page.textContent("#ticket-number")).trim();
}
const stageOf = async (page) => (await page.textContent("#stage")).trim();
// Polls like Playwright's expect.poll: asks, and asks again after 100, 250, 500, then every
// 1000 ms, until `ok(answer)` or the timeout. Only for what turns true on the server's own
// schedule, with nothing on the page to wait for (the knowledge index catches up every 2 s).
async function poll(page, ask, ok, timeout = 20000) {
  const intervals = [100, 250, 500, 1000];
  const deadline = Date.now() + timeout;
  for (let i = 0; ; i += 1) {
    const answer = await ask();
    if (ok(answer) || Date.now() > deadline) return answer;
    await page.waitForTimeout(intervals[Math.min(i, intervals.length - 1)]);
  }
}
// Types a call like takeCall, and waits for the preview of the whole text (the last of the
// debounced previews typing sets off), so no earlier preview lands after what follows.
async function typeCall(page, text, address) {
  const whole = `text=${encodeURIComponent(text)}`;
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/desk/intake/preview") && (r.request().postData() || "").includes(whole)),
    takeCall(page, text, address),
  ]);
}
// Asks for the route preview again and answers the articles it suggests, once htmx has
// swapped in the answer to this very request.
async function suggested(page) {
  return page.evaluate(() => new Promise((resolve) => {
    const preview = document.getElementById("preview");
    const form = document.getElementById("call");
    let mine = null;
    // htmx sends at once on the trigger below, so the next request sent is this one.
    form.addEventListener("htmx:beforeSend", (e) => { mine = e.detail.xhr; }, { once: true });
    document.body.addEventListener("htmx:afterSettle", function settled(e) {
      if (e.target !== preview || !mine || e.detail.xhr !== mine) return;
      document.body.removeEventListener("htmx:afterSettle", settled);
      resolve(Array.from(preview.querySelectorAll("#knowledge .suggestion")).map((el) => el.dataset.article));
    });
    htmx.trigger(document.getElementById("call"), "desk:preview");
  }));
}
// A picker is redrawn by htmx after each choice: the next choice waits until it has settled.
async function pick(page, select, value) {
  await page.waitForSelector(select);
  await page.waitForFunction(() => !document.querySelector(".htmx-request, .htmx-added, .htmx-settling, .htmx-swapping"));
  await page.selectOption(select, value);
}

try {
  // -- operator: a call the router routes, with the live preview, submitted with Ctrl+Enter
  const op = await session("demo-operator");
  const response = await op.page.goto(`${base}/desk/intake`);
  const csp = response.headers()["content-security-policy"] || "";
  check(csp.includes("script-src 'self'") && !csp.includes("unsafe-inline"), "a strict Content-Security-Policy");
  await takeCall(op.page, "我家楼上漏水，找物业报修没人来修", "姑苏区双塔街道沧浪亭社区");
  await op.page.waitForSelector("#preview table", { timeout: 10000 });
  const preview = await op.page.textContent("#preview");
  check(preview.includes("320508021019-css") && preview.includes("物业报修"), "the preview shows the category and the station");
  await shot(op.page, "operator-intake");
  const number = await submitCall(op.page);
  check(/^[0-9a-f-]{36}$/.test(number), `Ctrl+Enter submits; the ticket number is shown large (${number})`);
  await shot(op.page, "operator-accepted");

  // -- the whole call by keyboard: shortcuts, the caller pop-up, address suggestions
  await op.page.goto(`${base}/desk/intake`);
  await op.page.fill("#text", "");
  await op.page.keyboard.press("Alt+P");
  check(await op.page.evaluate(() => document.activeElement.id === "phone"), "Alt+P goes to the phone field");
  await op.page.keyboard.type(PHONE);
  // 来电弹屏: the caller's earlier ticket, with its stage and progress.
  await op.page.waitForSelector(`#caller-history li.earlier[data-ticket="${number}"]`, { timeout: 10000 });
  const history = await op.page.textContent("#caller-history");
  check(history.includes("待签收") && history.includes("受理"), "typing the number pops up the caller's earlier tickets with stage and progress");
  await op.page.keyboard.press("Tab");
  await op.page.keyboard.type("王女士");
  await op.page.keyboard.press("Tab");
  await op.page.keyboard.type("小区门口的路灯坏了好几天，晚上很黑");
  await op.page.keyboard.press("Alt+A");
  await op.page.keyboard.type("沧浪亭");
  await op.page.waitForSelector("#address-options [role=option]", { state: "visible", timeout: 10000 });
  await shot(op.page, "operator-caller-and-address");
  await op.page.keyboard.press("ArrowDown");
  await op.page.keyboard.press("Enter");
  check((await op.page.inputValue("#address")) === "姑苏区双塔街道沧浪亭社区", "address suggestions from the Directory: ↓ and Enter take one");
  check(op.page.url().endsWith("/desk/intake"), "a plain Enter does not submit the call");
  await op.page.keyboard.press("Alt+K");
  const sheet = await op.page.$eval("#cheatsheet", (d) => d.open);
  const listed = await op.page.$$eval("#cheatsheet kbd", (ks) => ks.map((k) => k.textContent.trim()));
  const controls = await op.page.$$eval("[data-shortcut]", (cs) => cs.map((c) => c.dataset.shortcut));
  check(sheet && controls.every((k) => listed.includes(k)) && ["Ctrl+Enter", "Alt+P", "Alt+A", "Alt+O", "Alt+K"].every((k) => controls.includes(k)),
    "Alt+K opens the cheat sheet; every shortcut on the page is listed and has a control");
  await shot(op.page, "operator-cheatsheet");
  await op.page.keyboard.press("Alt+K");
  await op.page.waitForSelector("#preview table");
  const lamp = await submitCall(op.page);
  check(/^[0-9a-f-]{36}$/.test(lamp), "a call taken without the mouse is submitted with Ctrl+Enter");

  // -- an emergency shows as a banner; one click hands it off to 119
  await takeCall(op.page, "楼道里着火了，有很大的浓烟", "姑苏区双塔街道沧浪亭社区");
  await op.page.waitForSelector("#preview .banner.emergency", { timeout: 10000 });
  check((await op.page.textContent("#emergency")).includes("119"), "an emergency cue shows as a banner naming the service");
  await shot(op.page, "operator-emergency");
  await Promise.all([op.page.waitForNavigation(), op.page.keyboard.press("Alt+J")]);
  check((await op.page.textContent("#handed-off")).includes("119") && (await op.page.textContent("#accepted-stage")).includes("已结案"),
    "Alt+J (or one click) hands the call off to 119 and closes it");

  // -- a duplicate of the first call: its progress to read out, one click links it
  await takeCall(op.page, "我家楼上漏水，找物业报修没人来修", "姑苏区双塔街道沧浪亭社区");
  await op.page.waitForSelector("#preview #duplicate", { timeout: 10000 });
  const dup = await op.page.textContent("#duplicate");
  check(dup.includes(number) && dup.includes("等待签收"), "a live duplicate is shown with its ticket and progress");
  await shot(op.page, "operator-duplicate");
  await Promise.all([op.page.waitForNavigation(), op.page.click("#duplicate button")]);
  check((await op.page.textContent("#merged")).includes(number) && (await op.page.textContent("#accepted-stage")).includes("已并案"),
    "one click merges the call into the matter's incident, led by the live ticket, and says what to tell the caller");
  await shot(op.page, "operator-linked");

  // -- overrides: category tree, territory drill-down and station, recorded in the route
  await takeCall(op.page, "工地旁边的脚手架看着不太牢固，希望有人来检查一下", "姑苏区");
  await op.page.keyboard.press("Alt+O");
  await pick(op.page, "#category-root", "CJ");
  await pick(op.page, "#category", "CJ.AQSC");
  await pick(op.page, "#district", "320508");
  await pick(op.page, "#street", "320508021");
  await pick(op.page, "#community", "320508021019");
  await op.page.waitForSelector('#station-pick option[value="320508021019-css"]', { state: "attached" });
  await pick(op.page, "#station-pick", "320508021019-css");
  await op.page.waitForFunction(() => (document.querySelector("#preview-station") || {}).textContent?.includes("话务员指定"));
  check((await op.page.textContent("#preview")).includes("CJ.AQSC"), "the preview follows the category, territory and station picked");
  await shot(op.page, "operator-overrides");
  const overridden = await submitCall(op.page);
  await op.page.goto(`${base}/desk/tickets/${overridden}`);
  const route = await op.page.textContent("#route");
  check(route.includes("话务员指定") && route.includes("CJ.AQSC") && (await op.page.textContent("#station-override")).includes("320508021019-css"),
    "the overrides are recorded in the ticket's route explanation");
  await shot(op.page, "ticket-route-override");

  // -- the session ends mid-call: back to login, and the half-typed call is still there
  await takeCall(op.page, "小区门口垃圾三天没人清运", "姑苏区双塔街道沧浪亭社区");
  await op.context.clearCookies();
  await op.page.goto(`${base}/desk/intake`);
  check(op.page.url().includes("/desk/login"), "an ended session goes back to login");
  await op.page.fill("#login", "demo-operator");
  await op.page.fill("#password", PASSWORD);
  await Promise.all([op.page.waitForNavigation(), op.page.click("button[type=submit]")]);
  await op.page.goto(`${base}/desk/intake`);
  check((await op.page.inputValue("#text")).includes("垃圾三天没人清运"), "the half-typed call survives");

  // -- station staff: the live queue, one event stream for all tabs
  const css = await session("demo-css");
  await css.page.goto(`${base}/desk/queue`);
  await css.page.waitForSelector(`tr[data-ticket="${number}"]`, { timeout: 10000 });
  check(true, "the station's queue lists the routed ticket");
  const second = await css.context.newPage();
  await second.goto(`${base}/desk/queue`);
  await second.waitForSelector(`tr[data-ticket="${number}"]`, { timeout: 10000 });
  await css.page.waitForFunction(() => document.body.dataset.leader === "1");
  check((await second.evaluate(() => document.body.dataset.leader)) === undefined, "one tab holds the event stream; the other listens");
  const row = await css.page.$eval(`tr[data-ticket="${overridden}"] .countdown`, (el) => el.className).catch(() => "");
  check(row.includes("light-"), `the queue shows the sign-for countdown with a light (${row})`);
  // A new arrival appears without a reload, in both tabs, well before the 30 s fallback poll.
  await takeCall(op.page, "<script>alert(1)</script><img src=x onerror=\"window.__xss=1\"> 3幢电梯坏了一周，物业报修", "姑苏区双塔街道沧浪亭社区");
  const xss = await submitCall(op.page);
  await css.page.waitForSelector(`tr[data-ticket="${xss}"]`, { timeout: 10000 });
  await second.waitForSelector(`tr[data-ticket="${xss}"]`, { timeout: 10000 });
  check(true, "a new arrival appears in both open tabs through the one event stream");
  await shot(css.page, "station-queue");
  await second.close();
  // Citizen text with markup is shown as text, and nothing runs, wherever it is shown.
  await css.page.goto(`${base}/desk/tickets/${xss}`);
  const shown = await css.page.textContent("#text");
  check(shown.includes("<script>alert(1)</script>") && shown.includes("onerror"), "HTML in citizen text is shown as text");
  await op.page.goto(`${base}/desk/intake`);
  await op.page.fill("#phone", PHONE);
  await op.page.waitForSelector(`#caller-history li.earlier[data-ticket="${xss}"]`, { timeout: 10000 });
  const ran = (await css.page.evaluate(() => window.__xss)) || (await op.page.evaluate(() => window.__xss));
  check(!ran && dialogs.length === 0, "no script in citizen text ran (ticket page, caller pop-up)");
  check((await css.page.textContent("#caller")).includes(PHONE), "the responsible station sees the caller's phone");

  // -- presence: who else has the ticket open
  const boss = await session("demo-supervisor");
  await boss.page.goto(`${base}/desk/tickets/${xss}`);
  await css.page.waitForSelector('#presence .viewer[data-login="demo-supervisor"]', { timeout: 10000 });
  await boss.page.waitForSelector('#presence .viewer[data-login="demo-css"]', { timeout: 10000 });
  check(true, "each sees who else has the ticket open");
  await shot(css.page, "ticket-presence");

  // -- two people act on one ticket at once: the supervisor urges it while the station has it
  //    open; the station's sign-for, sent from the version it saw, loses: a clear message,
  //    and the ticket as it is now
  const seen = Number(await css.page.$eval("#ticket", (el) => el.dataset.version));
  await boss.page.selectOption("select[name=flag]", "urged");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("button:has-text('发出')")]);
  await Promise.all([css.page.waitForNavigation(), css.page.click("#sign")]);
  const fresh = Number(await css.page.$eval("#ticket", (el) => el.dataset.version));
  check((await css.page.textContent("#conflict")).includes("他人") && fresh > seen && (await css.page.textContent("#ticket")).includes("催办"),
    "the loser of two concurrent actions sees a clear message and the fresh ticket");
  await shot(css.page, "ticket-conflict");
  await Promise.all([css.page.waitForNavigation(), css.page.click("#sign")]);
  check((await stageOf(css.page)).includes("办理中"), "the station signs for it");

  // -- pause and resume the resolution clock
  await css.page.fill("#pause-reason", "等待来电人提供物业合同");
  await Promise.all([css.page.waitForNavigation(), css.page.click("#pause-form button")]);
  check((await css.page.textContent("#clocks")).includes("已暂停") && (await css.page.$("#resume-form")) !== null, "the station pauses the clock");
  await shot(css.page, "ticket-paused");
  await Promise.all([css.page.waitForNavigation(), css.page.click("#resume-form button")]);
  check((await css.page.$("#pause-form")) !== null && !(await css.page.textContent("#clocks")).includes("已暂停"), "and resumes it");

  // -- the station replies; the supervisor reviews, records the callback and closes
  await css.page.fill("#record", "已联系物业更换电梯主板");
  await css.page.fill("#public", "电梯已修复，感谢您的反映");
  await Promise.all([css.page.waitForNavigation(), css.page.click("#reply-form button[type=submit]")]);
  check((await stageOf(css.page)).includes("待审核"), "the station replies");
  await boss.page.goto(`${base}/desk/work/pending_review`);
  // From November, while next year's holiday notice is not loaded, supervisors are told.
  const month = new Date().getMonth() + 1;
  if (month >= 11) {
    const warning = await boss.page.textContent("#calendar-warning");
    check(warning.includes(String(new Date().getFullYear() + 1)), "the supervisor desk warns that next year's notice is missing");
  }
  await boss.page.waitForSelector(`tr[data-ticket="${xss}"]`);
  await shot(boss.page, "supervisor-review");
  await boss.page.goto(`${base}/desk/tickets/${xss}`);
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("button[value=approve]")]);
  check((await stageOf(boss.page)).includes("待回访"), "the supervisor approves the reply");
  await boss.page.selectOption("#satisfaction", "satisfied");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("button:has-text('记录回访')")]);
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("button:has-text('结案')")]);
  check((await stageOf(boss.page)).includes("已结案"), "the supervisor records the callback and closes");
  await shot(boss.page, "supervisor-closed");

  // -- centre triage: an unsure call lands there, appears live, and one click dispatches it
  await boss.page.goto(`${base}/desk/work/pending_dispatch`);
  await takeCall(op.page, "你好我想问一下这个事情怎么办", "姑苏区双塔街道沧浪亭社区");
  const unsure = await submitCall(op.page);
  // Live when the router has Kpis.WatchEvents; otherwise the desk polls (every 30 s, or every
  // 5 s once the stream says the router lacks it).
  await boss.page.waitForSelector(`tr[data-ticket="${unsure}"]`, { timeout: 40000 });
  await shot(boss.page, "supervisor-triage");
  await boss.page.goto(`${base}/desk/tickets/${unsure}`);
  await boss.page.fill("#station", "320508021019-css");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("button:has-text('派单 Dispatch')")]);
  check((await stageOf(boss.page)).includes("待签收"), "triage dispatches with one click");

  // -- an unsure category: the top suggestions are one-click choices that re-route the ticket
  await takeCall(op.page, "楼上漏水物业不管，公司还拖欠工资，路灯也坏了", "姑苏区双塔街道沧浪亭社区");
  const torn = await submitCall(op.page);
  await boss.page.goto(`${base}/desk/tickets/${torn}`);
  const choices = await boss.page.$$eval("#suggestions button[data-category]", (bs) => bs.map((b) => b.dataset.category));
  check(choices.length === 3 && choices[0] === "LS.GZFL", `an unsure category offers its top three as one-click choices (${choices})`);
  await shot(boss.page, "supervisor-suggestions");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click('#suggestions button[data-category="LS.GZFL"]')]);
  const routeText = await boss.page.textContent("#route");
  check((await stageOf(boss.page)).includes("待签收") && routeText.includes("LS.GZFL") && !routeText.includes("待派单 triage"),
    "one click on a suggestion re-categorises and dispatches");
  await boss.page.goto(`${base}/desk/tickets/${unsure}`);

  // -- a co-handler: the supervisor adds the street office, which reports back
  await boss.page.fill("#cohandler-station", "320508021-office");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("#add-cohandler-form button")]);
  check((await boss.page.textContent("#done")).includes("协办"), "the supervisor adds a co-handler");
  const office = await session("demo-office");
  await office.page.goto(`${base}/desk/tickets/${unsure}`);
  await office.page.fill("#cohandler-report", "街道已协调物业配合");
  await Promise.all([office.page.waitForNavigation(), office.page.click("#cohandler-form button")]);
  check((await office.page.textContent("#done")).includes("已反馈"), "the co-handler reports to the lead station");

  // -- sub-dispatch: a street office passes a ticket down to a community station
  await takeCall(op.page, "双塔街道办事处门口的公告栏被风刮倒了，物业报修", "姑苏区双塔街道");
  await op.page.keyboard.press("Alt+O");
  await pick(op.page, "#district", "320508");
  await pick(op.page, "#street", "320508021");
  await op.page.waitForSelector('#station-pick option[value="320508021-office"]', { state: "attached" });
  await pick(op.page, "#station-pick", "320508021-office");
  await op.page.waitForFunction(() => (document.querySelector("#preview-station") || {}).textContent?.includes("320508021-office"));
  const street = await submitCall(op.page);
  await office.page.goto(`${base}/desk/tickets/${street}`);
  await Promise.all([office.page.waitForNavigation(), office.page.click("#sign")]);
  await office.page.selectOption("#sub-station", "320508021019-css");
  await shot(office.page, "ticket-subdispatch");
  await Promise.all([office.page.waitForNavigation(), office.page.click("#subdispatch-form button")]);
  check((await stageOf(office.page)).includes("待签收"), "the office sub-dispatches to a community station");
  await css.page.goto(`${base}/desk/queue`);
  await css.page.waitForSelector(`tr[data-ticket="${street}"]`, { timeout: 10000 });
  check(true, "the sub-dispatched ticket is in the community station's queue");

  // -- a return: the station asks, the supervisor accepts it back to triage
  await takeCall(op.page, "小区里的电动车充电桩坏了，物业报修", "姑苏区双塔街道沧浪亭社区");
  const misrouted = await submitCall(op.page);
  await css.page.goto(`${base}/desk/tickets/${misrouted}`);
  await css.page.fill("input[name=basis]", "充电桩属供电公司管理");
  await Promise.all([css.page.waitForNavigation(), css.page.click("button:has-text('申请退单')")]);
  check((await stageOf(css.page)).includes("退单待审"), "the station asks to return a ticket");
  await boss.page.goto(`${base}/desk/work/return_requested`);
  await boss.page.waitForSelector(`tr[data-ticket="${misrouted}"]`);
  await boss.page.goto(`${base}/desk/tickets/${misrouted}`);
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("button:has-text('同意退单')")]);
  check((await stageOf(boss.page)).includes("待派单"), "the supervisor accepts the return: back to triage");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("button:has-text('发出')")]);
  check((await boss.page.textContent("main")).includes("已发出"), "the supervisor raises a flag");

  // -- 直办: a question the operator answers at once, closing the ticket
  await takeCall(op.page, "你好我想问一下这个事情怎么办理", "姑苏区双塔街道沧浪亭社区");
  const question = await submitCall(op.page);
  await op.page.goto(`${base}/desk/tickets/${question}`);
  await op.page.fill("#answer-form textarea", "请携带身份证到社区服务站办理");
  await Promise.all([op.page.waitForNavigation(), op.page.click("#answer-form button[type=submit]")]);
  // A configured share of direct answers is called back (待回访); the rest close at once.
  const answered = await stageOf(op.page);
  check(answered.includes("已结案") || answered.includes("待回访"), `直办 answers at intake (${answered})`);

  // -- another station may not see it at all
  await office.page.goto(`${base}/desk/tickets/${number}`);
  check((await office.page.textContent("main")).includes("NOT_FOUND"), "another station's ticket is not shown");
  await shot(office.page, "out-of-scope");

  // -- a supervisor sees the caller masked
  await boss.page.goto(`${base}/desk/tickets/${number}`);
  check((await boss.page.textContent("#caller")).includes("139****5678"), "a supervisor sees the phone masked");

  // -- the one-minute sign-for clock (CJ.AQSC, from run.sh's rule): the light turns red in the
  //    open queue without a reload
  await css.page.goto(`${base}/desk/queue`);
  const light = `tr[data-ticket="${overridden}"] .countdown[data-clock="sign_for"]`;
  await css.page.waitForSelector(`${light}.light-red`, { timeout: 90000 });
  check((await css.page.textContent(light)).includes("超时"), "an overdue sign-for shows a red light and how late it is");
  await shot(css.page, "station-queue-red");

  // -- the supervisors' SLA board: figures per street, the live overdue list, exports
  await boss.page.goto(`${base}/desk/board?group=street`);
  const board = await boss.page.textContent("main");
  check(board.includes("及时签收率") && board.includes("双塔街道"), "the SLA board shows the KPIs per street");
  await boss.page.waitForSelector(`#at-risk tr.red a[href="/desk/tickets/${overridden}"]`, { timeout: 30000 });
  check(true, "the overdue ticket is on the board's live overdue list, red");
  await shot(boss.page, "supervisor-board");
  const csv = await boss.page.request.get(`${base}/desk/board/kpis.csv?group=station`);
  const csvText = await csv.text();
  check(csv.headers()["content-type"].startsWith("text/csv") && csvText.includes("320508021019-css") && csvText.includes("及时签收率"),
    "the board exports CSV with a row per station");
  const xlsx = await boss.page.request.get(`${base}/desk/board/kpis.xlsx?group=district`);
  const bytes = await xlsx.body();
  check(xlsx.headers()["content-type"].includes("spreadsheetml") && bytes[0] === 0x50 && bytes[1] === 0x4b,
    "the board exports an Excel workbook");
  await boss.page.goto(`${base}/desk/board/bulletin`);
  check((await boss.page.$("figure.chart svg")) !== null && (await boss.page.textContent("main")).includes("通报"),
    "the 通报 page has its charts");
  await shot(boss.page, "supervisor-bulletin");
  // A period reversed: the router's reason, shown.
  await boss.page.goto(`${base}/desk/board?from=2026-03-02&to=2026-03-01`);
  check((await boss.page.textContent("main")).includes("INVALID_ARGUMENT"), "a reversed period is refused with the reason");

  // -- the knowledge base: the editor writes an article (with script in it), the supervisor
  //    publishes it, the operator answers a call from it; withdrawn, it is suggested no more
  const editor = await session("demo-editor");
  await editor.page.goto(`${base}/desk/knowledge/new`);
  const codes = await editor.page.$$eval("#category-codes option", (os) => os.map((o) => ({ code: o.value, name: o.textContent })));
  const category = (codes.find((c) => c.name.includes("物业")) || codes[0] || {}).code;
  check(Boolean(category), `the new-article form offers the taxonomy's categories (${category})`);
  const SCRIPT = "<script>alert(1)</script>";
  await editor.page.fill("#title", "物业费收费标准");
  await editor.page.fill("#alt-questions", "物业费怎么收\n物业费标准是多少");
  await editor.page.fill("#answer", `住宅物业费按物业服务合同约定的标准收取，${SCRIPT}有异议可向所在街道物业办咨询。`);
  await editor.page.fill("#categories", category);
  await editor.page.fill("#territories", "3205");
  await editor.page.fill("#source-name", "苏州市住宅物业服务收费管理办法");
  await editor.page.fill("#source-number", "苏价规〔2024〕1号");
  await editor.page.fill("#owner", "320508021-office");
  await Promise.all([editor.page.waitForNavigation(), editor.page.click("#save-article")]);
  const articleId = await editor.page.$eval("#article", (el) => el.dataset.article).catch(() => "");
  check(Boolean(articleId) && (await editor.page.textContent("#article-status")).includes("草稿"), `the editor creates a draft article (${articleId})`);
  check((await editor.page.textContent("#article-answer")).includes(SCRIPT), "script in an article is shown as text on its page");
  await editor.page.goto(`${base}/desk/knowledge?list=draft`);
  check((await editor.page.$(`#article-list tr[data-article="${articleId}"]`)) !== null, "the draft is in the editor's list of drafts");
  await editor.page.goto(`${base}/desk/knowledge/${articleId}`);
  await Promise.all([editor.page.waitForNavigation(), editor.page.click("#submit-article button")]);
  check((await editor.page.textContent("#article-status")).includes("待审核"), "the editor submits it for review");
  await shot(editor.page, "knowledge-editor-article");
  await boss.page.goto(`${base}/desk/knowledge`);
  await boss.page.waitForSelector(`#article-list tr[data-article="${articleId}"]`);
  check(true, "it is in the supervisor's review queue");
  await shot(boss.page, "knowledge-review-queue");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click(`#article-list tr[data-article="${articleId}"] a`)]);
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("#approve-article button")]);
  const version = Number(await boss.page.$eval("#article", (el) => el.dataset.version));
  check((await boss.page.textContent("#article-status")).includes("已发布") && (await boss.page.textContent("#live-version")).includes(`v${version}`),
    `the supervisor approves it: v${version} is live`);
  check((await boss.page.textContent("#article-history")).includes("发布"), "the article's history records each step");

  // The operator types a matching call: the article is suggested once the index has it.
  const CALL = "请问小区物业费收费标准是怎么规定的";
  await typeCall(op.page, CALL, "姑苏区双塔街道沧浪亭社区");
  const card = `#knowledge .suggestion[data-article="${articleId}"]`;
  const found = await poll(op.page, () => suggested(op.page), (ids) => ids.includes(articleId));
  check(found.includes(articleId), "the published article is suggested in the preview");
  check((await op.page.$(`${card} .snippet b`)) !== null, "its snippet highlights the words that matched");
  await op.page.click(`${card} details.answer summary`);
  check((await op.page.innerText(`${card} .answer-text`)).includes(SCRIPT) && (await op.page.$("#preview script")) === null,
    "the answer to read out shows the script as text");
  await shot(op.page, "operator-knowledge-suggestion");
  const first = await op.page.$eval("#knowledge .suggestion", (el) => el.dataset.article);
  await Promise.all([op.page.waitForNavigation(),
    first === articleId ? op.page.keyboard.press("Alt+Z") : op.page.click(`${card} button.direct`)]);
  const from = await op.page.textContent("#answered-from").catch(() => "");
  const accepted = await op.page.textContent("#accepted-stage");
  check(from.includes(articleId) && from.includes(`v${version}`), `直办 with the article: the accepted page names it and its version (${from.trim()})`);
  check(accepted.includes("已结案") || (accepted.includes("待回访") && (await op.page.$("#callback-due")) !== null),
    `the direct answer is closed, or called back (${accepted.trim()})`);
  await shot(op.page, "operator-knowledge-answered");
  const direct = (await op.page.textContent("#ticket-number")).trim();
  await op.page.goto(`${base}/desk/tickets/${direct}`);
  check((await op.page.textContent("#ticket-answered-from")).includes(`v${version}`), "the ticket shows the article version it was answered from");

  // The next call: "did not fit", then the article is withdrawn while it is on screen.
  await typeCall(op.page, CALL, "姑苏区双塔街道沧浪亭社区");
  await poll(op.page, () => suggested(op.page), (ids) => ids.includes(articleId));
  await op.page.click(`${card} form.misfit button`);
  await op.page.waitForSelector(`${card} .misfit-done`);
  check((await op.page.textContent(`${card} .misfit-done`)).includes("已反馈"), "不适用: the operator's feedback is recorded, in place");
  await boss.page.goto(`${base}/desk/knowledge/${articleId}`);
  await boss.page.fill("#withdraw-article input[name=reason]", "收费政策已调整");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("#withdraw-article button")]);
  check((await boss.page.textContent("#article-status")).includes("已撤回"), "the supervisor withdraws it");
  await Promise.all([op.page.waitForNavigation(), op.page.click(`${card} button.direct`)]);
  check((await op.page.textContent("main")).includes("FAILED_PRECONDITION"), "直办 from a withdrawn article is refused with the router's reason");
  await shot(op.page, "operator-knowledge-withdrawn");
  await Promise.all([op.page.waitForNavigation(), op.page.click("a[href='/desk/intake']:has-text('返回')")]);
  check((await op.page.inputValue("#text")) === CALL, "the call's draft is kept");
  const after = await poll(op.page, () => suggested(op.page), (ids) => !ids.includes(articleId));
  check(!after.includes(articleId), "the withdrawn article is no longer suggested");
  check(dialogs.length === 0, "no dialog fired from an article's script");

  // A station's public reply becomes a draft article in one click.
  await boss.page.goto(`${base}/desk/tickets/${xss}`);
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("#draft-article-form button")]);
  check(boss.page.url().includes("/desk/knowledge/") && (await boss.page.textContent("#article-status")).includes("草稿") &&
    (await boss.page.textContent("#article-answer")).includes("电梯已修复"), "a supervisor drafts an article from a station's reply");
  await shot(boss.page, "knowledge-draft-from-reply");

  // The board: 知识库命中率 beside 直办率, and the articles due for review.
  await boss.page.goto(`${base}/desk/board`);
  check((await boss.page.$("#knowledge-hits")) !== null && (await boss.page.$("#direct-answers")) !== null && (await boss.page.$("#articles-due")) !== null,
    "the board shows the knowledge hits beside the direct answers, and the articles due for review");
  const withHits = await (await boss.page.request.get(`${base}/desk/board/kpis.csv?group=station`)).text();
  check(withHits.includes("知识库命中率"), "the CSV report has the knowledge hits");

  // A finished simulation (run.sh writes one with `hotline simulate`): the list, the run's
  // figures and final line, its charts.
  await boss.page.goto(`${base}/desk/simulations`);
  check((await boss.page.textContent("#runs")).includes("tiny-seed1"), "the desk lists the finished simulation runs");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("#runs a")]);
  check((await boss.page.textContent("#final-line")).startsWith("simulated tickets=3 "), "a run's page shows its final line");
  check((await boss.page.textContent("#districts")).includes("姑苏区"), "a run's page shows its figures per district");
  await boss.page.waitForFunction(() => [...document.querySelectorAll("img.chart")].every(i => i.complete));
  check(await boss.page.$$eval("img.chart", imgs => imgs.length === 3 && imgs.every(i => i.naturalWidth > 0)),
    "the run's three charts load in the page");
  const outside = await boss.page.request.get(`${base}/desk/simulations/..%2F..%2Fetc/run.json`);
  check(outside.status() === 404, "a run name cannot reach outside the simulations directory");
  await shot(boss.page, "simulation-run");

  // 地址别名: run.sh corrected a ticket's territory (姑苏区锦绣大厦 -> 金狮社区) with the
  // command-line desk, and the router runs with --alias-min-agreeing 1, so it is offered now.
  await boss.page.goto(`${base}/desk/aliases`);
  const proposed = '#proposals tr[data-alias="锦绣大厦"]';
  check((await boss.page.$(proposed)) !== null, "a supervisor sees the alias a territory correction proposed");
  check((await boss.page.textContent(proposed)).includes("金狮社区"), "the proposal names the community staff corrected the ticket to");
  await shot(boss.page, "aliases-proposed");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click(`${proposed} button[value=confirm]`)]);
  check((await boss.page.textContent("#done")).includes("锦绣大厦"), "confirming says which alias now places calls");
  check((await boss.page.textContent("#confirmed")).includes("锦绣大厦") && (await boss.page.$(proposed)) === null,
    "the confirmed alias leaves the list to decide and is listed as confirmed");
  await shot(boss.page, "aliases-confirmed");
  // The next call from there is placed by it at once, and the preview says how.
  await typeCall(op.page, "锦绣大厦楼顶漏水，雨天家里滴水", "锦绣大厦7幢");
  const placed = await op.page.textContent("#preview");
  check(placed.includes("金狮社区"), `a new call is placed by the confirmed alias (${placed.replace(/\s+/g, " ").slice(0, 160)})`);

  // -- 并案: the call linked above opened an incident led by the first call. The supervisor
  //    posts a notice; the next caller hears it at intake; one reply answers every merged call.
  await boss.page.goto(`${base}/desk/incidents/${number}`);
  check((await boss.page.textContent("#ticket-count")).trim() === "2", "the incident holds the lead and the linked call");
  await boss.page.fill("#notice-form textarea", "楼上水管已关闭，物业今天下午上门维修");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("#notice-form button")]);
  check((await boss.page.textContent("#latest-notice")).includes("物业今天下午上门维修"), "the supervisor posts a public notice");
  await typeCall(op.page, "楼上漏水，找物业报修一直没人来修", "姑苏区双塔街道沧浪亭社区");
  await op.page.waitForSelector("#preview #incident", { timeout: 10000 });
  check((await op.page.textContent("#incident-notice")).includes("物业今天下午上门维修"), "the operator sees the incident's latest notice on intake");
  await shot(op.page, "incident-intake");
  await Promise.all([op.page.waitForNavigation(), op.page.click('#incident button[formaction="/desk/intake/join"]')]);
  check((await op.page.textContent("#progress")).includes("物业今天下午上门维修"), "linking the call says the notice to read to the caller");
  await boss.page.goto(`${base}/desk/incidents/${number}`);
  await boss.page.fill("#reply-form textarea", "水管已修复，感谢您的反映。");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("#reply-form button")]);
  check((await boss.page.textContent("#done")).includes("Replied"), "one reply answers every merged call");
  const waiting = await boss.page.$$eval("#incident-tickets tbody tr", (rows) => rows.filter((r) => r.textContent.includes("待回访")).length);
  check(waiting === 2, `each merged call now waits for its own callback (${waiting})`);
  await shot(boss.page, "incident-replied");
  await boss.page.goto(`${base}/desk/incidents`);
  check((await boss.page.$(`#incidents tr[data-incident="${number}"]`)) !== null, "the incidents list shows it");

  // -- hotspot banner: run.sh submitted ten calls about 停水 in 龙西社区 within seconds (the
  // router counts in 5 s buckets there), so a surge is on for the supervisor and the operator.
  const surgeBanner = '#hotspot-alerts .hotspot[data-alert-id^="community:320506001013:CJ:"]';
  await boss.page.goto(`${base}/desk/work/pending_dispatch`);
  await boss.page.waitForSelector(surgeBanner, { timeout: 30000 });
  const surge = (await boss.page.textContent(surgeBanner)).replace(/\s+/g, " ").trim();
  check(surge.includes("龙西社区") && surge.includes("城乡建设") && /10 件/.test(surge) && surge.includes("自 since"),
    `the supervisor's page shows the surge: place, category, count, since when (${surge})`);
  check((await boss.page.$$('#hotspot-alerts .hotspot[data-alert-id*=":320506"]')).length === 3,
    "one banner line per level: the community, its street and its district");
  await shot(boss.page, "hotspot-banner");
  await op.page.goto(`${base}/desk/intake`);
  await op.page.waitForSelector(surgeBanner, { timeout: 30000 });
  check((await op.page.textContent(surgeBanner)).includes("龙西社区"), "the operator's intake page shows the surge too");
  // The surge's ten calls are one incident (并案), linked from the banner.
  const incidentLink = await boss.page.$(`${surgeBanner} a[href^="/desk/incidents/"]`);
  check(incidentLink !== null, "the surge's banner line links the incident its calls are merged into");
  if (incidentLink) {
    await Promise.all([boss.page.waitForNavigation(), incidentLink.click()]);
    const merged = await boss.page.$$("#incident-tickets tr[data-ticket]");
    check(merged.length === 10, `the incident holds the surge's ten calls (${merged.length})`);
    await shot(boss.page, "surge-incident");
  }
} catch (error) {
  console.log(`FAIL ${error.stack || error}`);
  failures += 1;
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
