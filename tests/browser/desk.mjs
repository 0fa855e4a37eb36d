// The web desk in a real headless Chromium (Debian's), driven by playwright-core, against a
// real `hotline serve --demo` on the embedded default. Run by tests/browser/run.sh:
//   node desk.mjs http://127.0.0.1:PORT SCREENSHOT_DIR
import { chromium } from "playwright-core";

const base = process.argv[2];
const shots = process.argv[3];
const PASSWORD = "hotline-demo";
let failures = 0;
const check = (ok, what) => {
  if (ok) console.log(`ok   ${what}`);
  else { console.log(`FAIL ${what}`); failures += 1; }
};

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const dialogs = [];
async function session(login) {
  const context = await browser.newContext({ locale: "zh-CN" });
  const page = await context.newPage();
  page.on("dialog", async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  await page.goto(`${base}/desk/login`);
  await page.fill("#login", login);
  await page.fill("#password", PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  return { context, page };
}

async function takeCall(page, text, address) {
  await page.goto(`${base}/desk/intake`);
  await page.fill("#phone", "13912345678");
  await page.fill("#name", "王女士");
  await page.fill("#address", address);
  // A restored draft is cleared first: this is a new call.
  await page.fill("#text", "");
  await page.click("#text");
  await page.keyboard.type(text);
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
  await op.page.screenshot({ path: `${shots}/operator-intake.png`, fullPage: true });
  await Promise.all([op.page.waitForNavigation(), op.page.keyboard.press("Control+Enter")]);
  const number = (await op.page.textContent("#ticket-number")).trim();
  check(/^[0-9a-f-]{36}$/.test(number), `Ctrl+Enter submits; the ticket number is shown large (${number})`);
  await op.page.screenshot({ path: `${shots}/operator-accepted.png`, fullPage: true });

  // -- an emergency shows as a banner while the operator types
  await takeCall(op.page, "楼道里着火了，有很大的浓烟", "姑苏区双塔街道沧浪亭社区");
  await op.page.waitForSelector("#preview .banner.emergency", { timeout: 10000 });
  check(true, "an emergency cue shows as a banner");
  await op.page.screenshot({ path: `${shots}/operator-emergency.png`, fullPage: true });

  // -- a duplicate of the first call is flagged in the preview
  await takeCall(op.page, "我家楼上漏水，找物业报修没人来修", "姑苏区双塔街道沧浪亭社区");
  await op.page.waitForSelector("#preview .banner.info", { timeout: 10000 });
  check((await op.page.textContent("#preview")).includes(number), "a live duplicate is shown with its ticket");

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

  // -- station staff: the queue is live; claim-free sign-for from the queue
  const css = await session("demo-css");
  await css.page.goto(`${base}/desk/queue`);
  await css.page.waitForSelector(`tr[data-ticket="${number}"]`, { timeout: 10000 });
  check(true, "the station's queue lists the routed ticket");
  // A new arrival appears without a reload.
  await takeCall(op.page, "<script>alert(1)</script><img src=x onerror=alert(2)> 3幢电梯坏了一周，物业报修", "姑苏区双塔街道沧浪亭社区");
  await Promise.all([op.page.waitForNavigation(), op.page.keyboard.press("Control+Enter")]);
  const second = (await op.page.textContent("#ticket-number")).trim();
  await css.page.waitForSelector(`tr[data-ticket="${second}"]`, { timeout: 15000 });
  check(true, "a new arrival appears in the open queue without a reload");
  await css.page.screenshot({ path: `${shots}/station-queue.png`, fullPage: true });
  // Citizen text with markup is shown as text, and nothing runs.
  await css.page.goto(`${base}/desk/tickets/${second}`);
  const shown = await css.page.textContent("#text");
  check(shown.includes("<script>alert(1)</script>") && dialogs.length === 0, "HTML in citizen text is text; no script ran");
  check((await css.page.textContent("#caller")).includes("13912345678"), "the responsible station sees the caller's phone");
  await Promise.all([css.page.waitForNavigation(), css.page.click("button[type=submit]:has-text('签收')")]);
  check((await css.page.textContent("#stage")).includes("办理中"), "the station signs for it");
  await css.page.screenshot({ path: `${shots}/station-ticket.png`, fullPage: true });

  // -- the station replies; the supervisor reviews, records the callback and closes
  await css.page.fill("#record", "已联系物业更换电梯主板");
  await css.page.fill("#public", "电梯已修复，感谢您的反映");
  await Promise.all([css.page.waitForNavigation(), css.page.click("#reply-form button[type=submit]")]);
  check((await css.page.textContent("#stage")).includes("待审核"), "the station replies");
  const boss = await session("demo-supervisor");
  await boss.page.goto(`${base}/desk/work/pending_review`);
  // From November, while next year's holiday notice is not loaded, supervisors are told.
  const month = new Date().getMonth() + 1;
  if (month >= 11) {
    const warning = await boss.page.textContent("#calendar-warning");
    check(warning.includes(String(new Date().getFullYear() + 1)), "the supervisor desk warns that next year's notice is missing");
  }
  await boss.page.waitForSelector(`tr[data-ticket="${second}"]`);
  await boss.page.screenshot({ path: `${shots}/supervisor-review.png`, fullPage: true });
  await boss.page.goto(`${base}/desk/tickets/${second}`);
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("button[value=approve]")]);
  check((await boss.page.textContent("#stage")).includes("待回访"), "the supervisor approves the reply");
  await boss.page.selectOption("#satisfaction", "satisfied");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("button:has-text('记录回访')")]);
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("button:has-text('结案')")]);
  check((await boss.page.textContent("#stage")).includes("已结案"), "the supervisor records the callback and closes");
  await boss.page.screenshot({ path: `${shots}/supervisor-closed.png`, fullPage: true });

  // -- centre triage: an unsure call lands there, and one click dispatches it
  await takeCall(op.page, "你好我想问一下这个事情怎么办", "姑苏区双塔街道沧浪亭社区");
  await Promise.all([op.page.waitForNavigation(), op.page.keyboard.press("Control+Enter")]);
  const unsure = (await op.page.textContent("#ticket-number")).trim();
  await boss.page.goto(`${base}/desk/work/pending_dispatch`);
  await boss.page.waitForSelector(`tr[data-ticket="${unsure}"]`);
  await boss.page.screenshot({ path: `${shots}/supervisor-triage.png`, fullPage: true });
  await boss.page.goto(`${base}/desk/tickets/${unsure}`);
  await boss.page.fill("#station", "320508021019-css");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("button:has-text('派单')")]);
  check((await boss.page.textContent("#stage")).includes("待签收"), "triage dispatches with one click");

  // -- a return: the station asks, the supervisor accepts it back to triage
  await takeCall(op.page, "小区里的电动车充电桩坏了，物业报修", "姑苏区双塔街道沧浪亭社区");
  await Promise.all([op.page.waitForNavigation(), op.page.keyboard.press("Control+Enter")]);
  const misrouted = (await op.page.textContent("#ticket-number")).trim();
  await css.page.goto(`${base}/desk/tickets/${misrouted}`);
  await css.page.fill("input[name=basis]", "充电桩属供电公司管理");
  await Promise.all([css.page.waitForNavigation(), css.page.click("button:has-text('申请退单')")]);
  check((await css.page.textContent("#stage")).includes("退单待审"), "the station asks to return a ticket");
  await boss.page.goto(`${base}/desk/work/return_requested`);
  await boss.page.waitForSelector(`tr[data-ticket="${misrouted}"]`);
  await boss.page.goto(`${base}/desk/tickets/${misrouted}`);
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("button:has-text('同意退单')")]);
  check((await boss.page.textContent("#stage")).includes("待派单"), "the supervisor accepts the return: back to triage");
  await Promise.all([boss.page.waitForNavigation(), boss.page.click("button:has-text('发出')")]);
  check((await boss.page.textContent("main")).includes("已发出"), "the supervisor raises a flag");

  // -- 直办: a question the operator answers at once, closing the ticket
  await takeCall(op.page, "你好我想问一下这个事情怎么办理", "姑苏区双塔街道沧浪亭社区");
  await Promise.all([op.page.waitForNavigation(), op.page.keyboard.press("Control+Enter")]);
  const question = (await op.page.textContent("#ticket-number")).trim();
  await op.page.goto(`${base}/desk/tickets/${question}`);
  await op.page.fill("#answer-form textarea", "请携带身份证到社区服务站办理");
  await Promise.all([op.page.waitForNavigation(), op.page.click("#answer-form button[type=submit]")]);
  check((await op.page.textContent("#stage")).includes("已结案"), "直办 answers and closes at intake");

  // -- another station may not see it at all
  const office = await session("demo-office");
  await office.page.goto(`${base}/desk/tickets/${number}`);
  check((await office.page.textContent("main")).includes("NOT_FOUND"), "another station's ticket is not shown");
  await office.page.screenshot({ path: `${shots}/out-of-scope.png`, fullPage: true });

  // -- a supervisor sees the caller masked
  const sup = await session("demo-supervisor");
  await sup.page.goto(`${base}/desk/tickets/${number}`);
  check((await sup.page.textContent("#caller")).includes("139****5678"), "a supervisor sees the phone masked");
} catch (error) {
  console.log(`FAIL ${error.stack || error}`);
  failures += 1;
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
