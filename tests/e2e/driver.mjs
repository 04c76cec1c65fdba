// One headless Chromium for the whole e2e session, driven over stdin/stdout.
// Each request is a JSON line {id, op, ...}; each answer {id, ok, value} or
// {id, ok: false, error}.  Pages live in their own browser contexts (own
// storage), named by the ids this driver hands out.
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

// playwright gives the browser a fresh temporary profile itself (no --user-data-dir).
const args = [
  '--headless', '--no-sandbox', '--use-gl=swiftshader', '--enable-unsafe-swiftshader', '--disable-gpu',
  '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows',
  '--autoplay-policy=no-user-gesture-required',
];
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args });
const pages = new Map();
let nextPage = 1;

const call = (source, arg) => `(${source})(${JSON.stringify(arg ?? null)})`;

const ops = {
  async newPage({ viewport = { width: 800, height: 500 }, ignoreHTTPSErrors = false, initScripts = [] }) {
    const context = await browser.newContext({ viewport, ignoreHTTPSErrors, deviceScaleFactor: 1 });
    for (const script of initScripts) await context.addInitScript({ content: script });
    const page = await context.newPage();
    const id = nextPage++;
    const entry = { page, context, errors: [], console: [] };
    page.on('pageerror', (error) => entry.errors.push(String(error.stack || error)));
    page.on('console', (message) => {
      const text = `${message.type()}: ${message.text()}`;
      entry.console.push(text);
      if (message.type() === 'error') entry.errors.push(text);
    });
    pages.set(id, entry);
    return id;
  },
  async goto({ page, url, waitUntil = 'load', timeout = 30000 }) {
    const response = await get(page).page.goto(url, { waitUntil, timeout });
    return response ? response.status() : null;
  },
  async evaluate({ page, fn, arg }) {
    return get(page).page.evaluate(call(fn, arg));
  },
  // Polls with evaluate (which the page's Content-Security-Policy does not block, unlike waitForFunction).
  async waitFor({ page, fn, arg, timeoutMs = 20000, polling = 100 }) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let value = null;
      try {
        value = await get(page).page.evaluate(call(fn, arg));
      } catch (error) { // a navigation replaced the page under us: ask the next one
        if (!/context was destroyed|navigat/i.test(String(error.message))) throw error;
      }
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`waitFor: timed out after ${timeoutMs} ms: ${fn}`);
      await new Promise((resolve) => setTimeout(resolve, polling));
    }
  },
  async screenshot({ page }) {
    return (await get(page).page.screenshot({ type: 'png' })).toString('base64');
  },
  async keyDown({ page, key }) { await get(page).page.keyboard.down(key); },
  async keyUp({ page, key }) { await get(page).page.keyboard.up(key); },
  async press({ page, key, delay = 0 }) { await get(page).page.keyboard.press(key, { delay }); },
  async mouseClick({ page, x, y }) { await get(page).page.mouse.click(x, y); },
  async click({ page, selector, timeout = 10000 }) { await get(page).page.click(selector, { timeout }); },
  async fill({ page, selector, value, timeout = 10000 }) { await get(page).page.fill(selector, value, { timeout }); },
  async check({ page, selector, timeout = 10000 }) { await get(page).page.check(selector, { timeout }); },
  async select({ page, selector, value }) { return get(page).page.selectOption(selector, value); },
  async text({ page, selector, timeout = 10000 }) { return get(page).page.textContent(selector, { timeout }); },
  // The page's whole network (its service worker's fetches too) off or back on.
  async setOffline({ page, offline }) { await get(page).context.setOffline(Boolean(offline)); },
  async errors({ page }) { return get(page).errors; },
  async console({ page }) { return get(page).console; },
  async closePage({ page }) {
    const entry = pages.get(page);
    pages.delete(page);
    if (entry) await entry.context.close();
  },
  async version() { return browser.version(); },
  async quit() {
    await browser.close();
    setTimeout(() => process.exit(0), 10);
  },
};

function get(id) {
  const entry = pages.get(id);
  if (!entry) throw new Error(`no page ${id}`);
  return entry;
}

const reply = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
reply({ id: 0, ok: true, value: { ready: true, version: browser.version() } });

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch (error) {
    reply({ id: null, ok: false, error: `bad request: ${error.message}` });
    return;
  }
  const op = ops[request.op];
  if (!op) {
    reply({ id: request.id, ok: false, error: `unknown op ${request.op}` });
    return;
  }
  try {
    const value = await op(request);
    reply({ id: request.id, ok: true, value: value === undefined ? null : value });
  } catch (error) {
    reply({ id: request.id, ok: false, error: String(error && error.message ? error.message : error) });
  }
});
lines.on('close', async () => {
  await browser.close().catch(() => {});
  process.exit(0);
});
