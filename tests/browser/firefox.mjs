// The web desk's smoke path in Firefox (Debian's firefox-esr), driven by puppeteer-core over
// WebDriver BiDi, against the same `hotline serve --demo` as desk.mjs. Run by
// tests/browser/run.sh:
//   node firefox.mjs http://127.0.0.1:PORT SCREENSHOT_DIR
// Every wait is for a selector or a condition, never for a fixed time.
import puppeteer from "puppeteer-core";

const base = process.argv[2];
const shots = process.argv[3];
let failures = 0;
const check = (ok, what) => {
  if (ok) console.log(`ok   firefox: ${what}`);
  else { console.log(`FAIL firefox: ${what}`); failures += 1; }
};

const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: "/usr/bin/firefox-esr",
  protocol: "webDriverBiDi",
  headless: true,
});
async function session(who) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.goto(`${base}/desk/login`);
  await page.type("#login", who);
  await page.type("#password", "hotline-demo");
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  return page;
}

try {
  const op = await session("demo-operator");
  const css = await session("demo-css");
  await css.goto(`${base}/desk/queue`);
  await css.waitForSelector("#queue table, #queue-empty");
  await css.waitForFunction(() => document.body.dataset.leader === "1");
  check(true, "the queue page holds the one event stream (Web Locks)");

  // The operator types in the window in front (the station's opened last).
  await op.bringToFront();
  await op.goto(`${base}/desk/intake`);
  await op.keyboard.down("Alt");
  await op.keyboard.press("p");
  await op.keyboard.up("Alt");
  check(await op.evaluate(() => document.activeElement.id === "phone"), "Alt+P goes to the phone field");
  await op.keyboard.type("13800001111");
  await op.click("#text");
  await op.keyboard.type("5号楼东侧绿化带里的喷淋水管爆裂，一直在喷水，物业报修电话打不通");
  await op.click("#address");
  await op.keyboard.type("沧浪亭");
  await op.waitForSelector("#address-options [role=option]", { visible: true });
  await op.keyboard.press("ArrowDown");
  await op.keyboard.press("Enter");
  check((await op.$eval("#address", (el) => el.value)) === "姑苏区双塔街道沧浪亭社区", "address suggestions by keyboard");
  await op.waitForFunction(() => (document.querySelector("#preview") || {}).textContent?.includes("320508021019-css"));
  check(true, "the live preview shows the station");
  await op.screenshot({ path: `${shots}/firefox-intake.png`, fullPage: true });
  await op.keyboard.down("Control");
  await Promise.all([op.waitForNavigation(), op.keyboard.press("Enter")]);
  await op.keyboard.up("Control");
  const number = (await op.$eval("#ticket-number", (el) => el.textContent)).trim();
  check(/^[0-9a-f-]{36}$/.test(number), `Ctrl+Enter submits; the number is shown (${number})`);

  check((await op.$eval("#accepted-stage", (el) => el.textContent)).includes("320508021019-css"), "routed to the community station");
  await css.waitForSelector(`tr[data-ticket="${number}"]`, { timeout: 10000 });
  check(true, "the new ticket arrives in the open queue without a reload");
  await css.screenshot({ path: `${shots}/firefox-queue.png`, fullPage: true });
} catch (error) {
  console.log(`FAIL firefox: ${error.stack || error}`);
  failures += 1;
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
