import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { startCa, type TestCa } from "../helpers/ca.js";
import { makeCsr } from "../helpers/openssl.js";

/** Debian's chromium (setup.sh installs it); playwright-core drives it and downloads no browser. */
const CHROMIUM = "/usr/bin/chromium";
/** Where the overview's screenshot is kept (README, "Dashboard"). */
export const ARTIFACTS = join(process.cwd(), "artifacts", "e2e");

/**
 * Issue 18: the dashboard in a real browser, scripts off (the pages need none): log in with the
 * admin token, the session cookie's flags as the browser keeps them, the overview on a phone's
 * screen (kept as a screenshot), search, revoke with its confirm step, create a token.
 */
describe("dashboard in Chromium", () => {
  let ca: TestCa;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let registrySerial = "";

  before(async () => {
    // A missing browser fails here, with CI=true or without: this test never skips.
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: run test/e2e/setup.sh (apt-get install chromium)`,
    );
    ca = await startCa();
    const token = await ca.createToken({ name: "browser-hosts", dns: ["*.lan"] });
    for (const name of ["registry.lan", "mirror.lan", "build.lan"]) {
      const res = await ca.request("/v1/sign", {
        body: { csr: makeCsr({ san: [`DNS:${name}`] }).csrPem },
        token,
      });
      assert.equal(res.status, 201, res.body.toString());
      if (name === "registry.lan") registrySerial = res.json<{ serial: string }>().serial;
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // root in a container: Chromium's sandbox needs user namespaces it may not have
      args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
    });
    // The CA's TLS certificate chains to this test's own root, which the browser does not know;
    // certificate checks are other tests' subject (registry, trust). Cookies still need https.
    context = await browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false });
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close();
    await ca?.close();
  });

  test("log in with the admin token: a session cookie the browser keeps HttpOnly, Secure, SameSite=Strict, Path=/ui", async () => {
    await page.goto(`${ca.url}/ui/`);
    assert.match(page.url(), /\/ui\/login$/);
    await page.fill('input[name="token"]', "cya_wrong");
    await page.click('button[type="submit"]');
    assert.match((await page.textContent("main")) ?? "", /not the admin token/);
    await page.fill('input[name="token"]', ca.adminToken);
    await page.click('button[type="submit"]');
    assert.equal(new URL(page.url()).pathname, "/ui/");
    const session = (await context.cookies(`${ca.url}/ui/`)).find((c) => c.name === "cy_session");
    assert.ok(session, "the browser holds a session cookie");
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, "Strict");
    assert.equal(session.path, "/ui");
  });

  test("the overview on a phone's screen: counts, the expiry chart, nothing wider than the screen; screenshot kept", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${ca.url}/ui/`);
    // three certificates and the CA's own TLS certificate
    assert.equal((await page.textContent('[data-state="valid"] b'))?.trim(), "4");
    assert.equal(await page.locator("#expiry-chart rect.bar").count(), 90);
    const box = await page.locator("#expiry-chart").boundingBox();
    assert.ok(box && box.width > 300 && box.width <= 390, `the chart fits the screen (${box?.width})`);
    const overflow = Number(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"));
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, "dashboard-overview.png");
    await page.setViewportSize({ width: 1200, height: 900 });
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(existsSync(file));
  });

  test("search by name, open the certificate, revoke it after the confirm step", async () => {
    await page.click('header a[href="/ui/certificates"]');
    await page.fill('input[name="q"]', "registry.lan");
    await page.click('form[action="/ui/certificates"] button');
    const rows = page.locator("#certificates tr[data-serial]");
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().getAttribute("data-serial"), registrySerial);
    await rows.first().locator("a").click();
    assert.equal(new URL(page.url()).pathname, `/ui/certificates/${registrySerial}`);
    assert.equal((await page.textContent("#cert-state"))?.trim(), "valid");
    await page.click("#revoke-link");
    assert.match((await page.textContent("main")) ?? "", /cannot be undone/);
    await page.selectOption('select[name="reason"]', "keyCompromise");
    await page.click("#confirm-revoke");
    assert.match((await page.textContent("#revoked-note")) ?? "", /Revoked/);
    assert.match((await page.textContent("#cert-state")) ?? "", /^revoked/);
    const api = await ca.request("/v1/certs?state=revoked", { token: ca.adminToken });
    assert.deepEqual(
      api.json<{ certificates: { serial: string }[] }>().certificates.map((c) => c.serial),
      [registrySerial],
    );
  });

  test("the audit page, from the nav: the login and the revocation above, then only the revocations", async () => {
    await page.click('header a[href="/ui/audit"]');
    assert.equal(new URL(page.url()).pathname, "/ui/audit");
    assert.ok((await page.locator('#audit-events tr[data-type="dashboard.login"]').count()) >= 1);
    const revocation = page.locator('#audit-events tr[data-type="certificate.revoked"]');
    assert.equal(await revocation.count(), 1);
    assert.match((await revocation.textContent()) ?? "", new RegExp(`${registrySerial}.*keyCompromise`));
    await page.selectOption('select[name="type"]', "certificate.revoked");
    await page.click('form[action="/ui/audit"] button');
    assert.equal(new URL(page.url()).searchParams.get("type"), "certificate.revoked");
    const types = await page
      .locator("#audit-events tr[data-type]")
      .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-type")));
    assert.deepEqual(types, ["certificate.revoked"]);
  });

  test("create a token with a join string: shown once, and it enrols a host", async () => {
    await page.click('header a[href="/ui/tokens"]');
    await page.fill('#new-token input[name="name"]', "from-browser");
    await page.fill('#new-token input[name="dns"]', "new-host.lan");
    await page.check('#new-token input[name="join"]');
    await page.click('#new-token button[type="submit"]');
    const join = (await page.textContent("#secret"))?.trim() ?? "";
    assert.match(join, /^cyj1_/);
    const { token } = JSON.parse(Buffer.from(join.slice(5), "base64url").toString()) as { token: string };
    const res = await ca.request("/v1/sign", {
      body: { csr: makeCsr({ san: ["DNS:new-host.lan"] }).csrPem },
      token,
    });
    assert.equal(res.status, 201);
    await page.goto(`${ca.url}/ui/tokens`);
    assert.equal(await page.locator("#secret").count(), 0);
    assert.equal((await page.textContent('tr[data-token="from-browser"] .token-state'))?.trim(), "used up");
  });

  test("log out: the session is over, its pages go to the login form", async () => {
    await page.click('header button[type="submit"]');
    assert.match(page.url(), /\/ui\/login$/);
    await page.goto(`${ca.url}/ui/certificates`);
    assert.match(page.url(), /\/ui\/login$/);
  });
});
