// The router down or restarting, seen from `agent-desk web` running on its own: the desk shows
// a banner, keeps the half-typed call, and works again when the router is back, without a
// reload. run.sh passes the desk's URL and the commands that stop and start the router.
import { chromium } from "playwright-core";
import { execSync } from "node:child_process";

const [base, shots, stopRouter, startRouter] = process.argv.slice(2);
let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} router down: ${what}`);
  if (!ok) failures += 1;
};

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const page = await browser.newPage();
  await page.goto(`${base}/desk/login`);
  await page.fill("#login", "demo-operator");
  await page.fill("#password", "hotline-demo");
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  await page.goto(`${base}/desk/intake`);
  await page.fill("#text", "小区停电了，整栋楼都没有电");
  await page.fill("#address", "姑苏区双塔街道沧浪亭社区");

  execSync(stopRouter);
  await page.waitForSelector("#router-down:not([hidden])", { timeout: 30000 });
  check(true, "a banner says the router is unavailable");
  check((await page.inputValue("#text")).includes("整栋楼都没有电"), "the half-typed call is still in the form");
  await page.screenshot({ path: `${shots}/router-down.png`, fullPage: true });

  // Submitting while it is down fails visibly and loses nothing.
  await page.focus("#text");
  await page.keyboard.press("Control+Enter");
  await page.waitForSelector("#router-error", { timeout: 15000 });
  check((await page.textContent("#router-error")).includes("UNAVAILABLE"), "a submit while it is down says why");
  await page.screenshot({ path: `${shots}/router-down-submit.png`, fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click("a:has-text('返回来电')")]);
  await page.waitForFunction(() => document.querySelector("#text")?.value.includes("整栋楼都没有电"), null, { timeout: 10000 });
  check(true, "back at the call, what was typed is still there");

  execSync(startRouter);
  await page.waitForSelector("#router-down[hidden]", { state: "attached", timeout: 60000 });
  check(true, "the banner goes when the router is back (no reload)");
  await page.focus("#text");
  await page.keyboard.press("Control+Enter");
  await page.waitForSelector("#ticket-number", { timeout: 30000 });
  const number = (await page.textContent("#ticket-number")).trim();
  check(/^[0-9a-f-]{36}$/.test(number), `the kept call is submitted once the router is back (${number})`);
} catch (error) {
  console.log(`FAIL router down: ${error.stack || error}`);
  failures += 1;
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
