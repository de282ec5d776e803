// Loads eden's dashboard in Debian's Chromium (headless) through playwright-core, as a person
// would: once without credentials (expects the 401), once with them; takes a screenshot and prints
// one JSON object with what the page shows (the numbers by element id, the progress bar's box).
// Usage: node load_dashboard.js URL USER PASSWORD SCREENSHOT.png
const { chromium } = require("playwright-core");

async function main() {
  const [url, user, password, screenshot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    // Without credentials: the server's answer to the page request (Chromium then gives up the
    // navigation with ERR_INVALID_AUTH_CREDENTIALS, having no one to ask).
    const anonymous = await browser.newContext();
    const anonymousPage = await anonymous.newPage();
    let unauthStatus = null;
    anonymousPage.on("response", (r) => {
      if (r.url() === url) unauthStatus = r.status();
    });
    try {
      const refused = await anonymousPage.goto(url);
      unauthStatus = refused.status();
    } catch (e) {
      if (!String(e).includes("ERR_INVALID_AUTH_CREDENTIALS")) throw e;
    }
    await anonymous.close();

    const context = await browser.newContext({
      httpCredentials: { username: user, password },
      viewport: { width: 1280, height: 900 },
      deviceScaleFactor: 1,
    });
    const page = await context.newPage();
    const response = await page.goto(url, { waitUntil: "load" });
    const read = async (id) => {
      const el = await page.$("#" + id);
      return el ? (await el.textContent()).trim() : null;
    };
    const numbers = {};
    for (const id of ["total", "stored", "failed", "excluded", "pending", "percent", "images", "studies",
                      "worker-count", "unacked"]) {
      numbers[id] = await read(id);
    }
    const failures = await page.$$eval(".failure-count", (cells) =>
      Object.fromEntries(cells.map((c) => [c.dataset.code, Number(c.textContent)])));
    const bar = await page.$("#progress-bar");
    const box = bar ? await bar.boundingBox() : null;
    const chart = await page.$("#throughput-chart");
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(JSON.stringify({
      status: response.status(),
      unauth_status: unauthStatus,
      title: await page.title(),
      numbers,
      failures,
      bar: box,
      chart_bars: chart ? await chart.$$eval("rect", (r) => r.length) : 0,
      text: await page.textContent("body"),
    }));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
