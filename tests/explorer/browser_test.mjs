// Browser test of the block explorer a node serves at / (node/explorer/).
//
//   npm ci && node browser_test.mjs --api http://127.0.0.1:PORT --screenshots DIR
//
// Drives headless Chromium (playwright-core; CHROMIUM=/path/to/chromium, default
// /usr/bin/chromium) over every page of the explorer, with ids picked from the API itself: waits
// for body[data-state=ready], fails on any console error, page error, failed request or 4xx/5xx
// answer the page got (but a 403 the page shows as a refusal notice, and the 404 of the
// not-found search), compares the page's data-field values with what the API answers, tries the
// search box, checks that the network page follows new blocks live, and saves a full-page
// screenshot of each page as DIR/<page>.png. One line per check, a summary, exit 0 only if all
// passed. Every wait is bounded.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';

// ---------------------------------------------------------------- arguments

function usage(msg) {
  if (msg) console.error('browser_test: ' + msg);
  console.error('usage: node browser_test.mjs --api http://127.0.0.1:PORT --screenshots DIR [--only PAGE,...]');
  process.exit(2);
}
const argv = process.argv.slice(2);
let API = null, SHOTS = null, ONLY = null;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--api') API = argv[++i];
  else if (argv[i] === '--screenshots') SHOTS = argv[++i];
  else if (argv[i] === '--only') ONLY = new Set(argv[++i].split(','));
  else if (argv[i] === '-h' || argv[i] === '--help') usage();
  else usage('unknown argument ' + argv[i]);
}
if (!API) usage('--api is required');
if (!SHOTS) usage('--screenshots is required');
API = API.replace(/\/+$/, '');
const ORIGIN = new URL(API).origin;
fs.mkdirSync(SHOTS, { recursive: true });

const PAGE_TIMEOUT_MS = 20000;
const LIVE_TIMEOUT_MS = 12000;
const TOTAL_TIMEOUT_MS = 6 * 60 * 1000;

// The whole run is bounded.
const watchdog = setTimeout(() => {
  console.log('FAIL  watchdog: the test did not finish within ' + TOTAL_TIMEOUT_MS / 1000 + ' s');
  process.exit(3);
}, TOTAL_TIMEOUT_MS);

// ---------------------------------------------------------------- results

const results = [];
function check(page, what, ok, detail) {
  results.push({ page, what, ok: !!ok, detail });
  console.log((ok ? 'ok    ' : 'FAIL  ') + page + ': ' + what + (detail ? ' (' + detail + ')' : ''));
  return !!ok;
}
function eq(page, what, got, want) {
  return check(page, what, got === want, got === want ? String(got) : 'page shows ' + JSON.stringify(got) + ', API answers ' + JSON.stringify(want));
}
function oneOf(page, what, got, wants) {
  const ok = wants.includes(got);
  return check(page, what, ok, ok ? String(got) : 'page shows ' + JSON.stringify(got) + ', API answers ' + wants.map((w) => JSON.stringify(w)).join(' or '));
}

// ---------------------------------------------------------------- API

// A GET on its own connection, closed after the answer: the node limits the connections one
// address holds (docs/API.md, connections_per_address_max), and the browser under test shares
// this address, so the test keeps no idle keep-alive connections.
function get(p) {
  const url = new URL(API + p);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { agent: false, headers: { Accept: 'application/json', Connection: 'close' }, timeout: 10000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        let body = null;
        try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch (e) { body = null; }
        resolve({ status: res.statusCode, body });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('GET ' + p + ': no answer within 10 s')));
    req.on('error', reject);
  });
}
async function getOk(p) {
  const r = await get(p);
  if (r.status !== 200) throw new Error('GET ' + p + ' answered ' + r.status + ' ' + JSON.stringify(r.body && r.body.error));
  return r.body;
}

// What the page shows for amounts, energies and numbers.
const amountText = (a) => a.display + (a.denom ? ' ' + a.denom : '');
const whText = (n) => n.toLocaleString('en-US') + ' Wh';
const intText = (n) => n.toLocaleString('en-US');
const permilleText = (p) => (p == null ? '—' : (p / 10).toFixed(1) + ' %');

// ---------------------------------------------------------------- the browser

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
context.setDefaultTimeout(PAGE_TIMEOUT_MS);

// One page visit: listeners for everything that may go wrong while it loads.
async function open(name, hash, opts = {}) {
  const page = await context.newPage();
  const problems = [];
  const bad4xx = [];   // [url, status] to judge after the page rendered (403: a shown refusal?)
  let closing = false;
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium logs every non-2xx answer as "Failed to load resource": answers are judged below.
    if (/^Failed to load resource: the server responded with a status of \d+/.test(m.text())) return;
    problems.push('console error: ' + m.text());
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('request', (r) => {
    const u = r.url();
    if (u.startsWith('data:')) return;
    if (new URL(u).origin !== ORIGIN) problems.push('request to another origin: ' + u);
  });
  page.on('requestfailed', (r) => {
    const f = r.failure() && r.failure().errorText;
    // The live stream is cut when the page goes away.
    if ((closing || /\/v1\/stream/.test(r.url())) && /ERR_ABORTED/.test(f || '')) return;
    problems.push('request failed: ' + r.url() + ' ' + f);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) bad4xx.push([r.url(), r.status()]);
  });
  const visit = {
    page, problems, bad4xx,
    async close() { closing = true; await page.close(); },
    // Judge the answers: a 403 is fine only where the page shows the refusal for that path;
    // `allow404` lists paths whose 404 is what the step wants.
    async judge() {
      const answers = bad4xx.splice(0, bad4xx.length);
      for (const [u, status] of answers) {
        const url = new URL(u);
        const p = url.pathname + url.search;
        if (status === 403) {
          const shown = await page.$$eval('[data-refused]', (els, want) => els.some((e) => e.getAttribute('data-refused') === want), p).catch(() => false);
          if (shown) { refusals.push(name + ' ' + p); continue; }
          problems.push('403 on ' + p + ' without a refusal notice for it');
          continue;
        }
        if (status === 404 && (opts.allow404 || []).some((a) => p.startsWith(a))) continue;
        problems.push('answer ' + status + ' for ' + p);
      }
      return problems;
    },
  };
  await page.goto(API + '/' + hash, { waitUntil: 'domcontentloaded', timeout: PAGE_TIMEOUT_MS });
  return visit;
}

const refusals = [];

async function waitState(page, want) {
  await page.waitForSelector('body[data-state=ready], body[data-state=error]', { timeout: PAGE_TIMEOUT_MS });
  const state = await page.evaluate(() => document.body.dataset.state);
  return state;
}

async function field(page, name) {
  const e = await page.$('[data-field="' + name + '"]');
  if (!e) return null;
  return (await e.textContent()).trim();
}

async function refused(page, p) {
  return page.$$eval('[data-refused]', (els, want) => els.some((e) => e.getAttribute('data-refused') === want), p);
}

async function shoot(page, name) {
  const file = path.join(SHOTS, name + '.png');
  await page.screenshot({ path: file, fullPage: true, timeout: PAGE_TIMEOUT_MS });
  return file;
}

// Load a page, wait until ready, run `compare`, judge its requests, screenshot it.
async function pageCheck(name, hash, compare, opts = {}) {
  let v = null;
  try {
    v = await open(name, hash, opts);
    const state = await waitState(v.page);
    const wantState = opts.wantState || 'ready';
    check(name, 'loads (' + hash + ')', state === wantState, 'data-state=' + state);
    if (compare) await compare(v.page);
    // the security rules hold on the rendered page: no inline script or style, no event
    // handler attributes, no javascript: links, every link inside the app or same-origin
    const bad = await v.page.evaluate(() => {
      const out = [];
      if (document.querySelectorAll('script:not([src]), style').length) out.push('inline script or style element');
      if (document.querySelectorAll('[style]').length) out.push('style attribute');
      for (const e of document.querySelectorAll('*')) {
        for (const at of e.attributes) if (/^on/i.test(at.name)) out.push('event handler attribute ' + at.name);
      }
      for (const l of document.querySelectorAll('a[href]')) {
        const h = l.getAttribute('href');
        if (!h.startsWith('#/')) out.push('link ' + h);
      }
      return [...new Set(out)];
    });
    check(name, 'no inline script/style, handler attributes or outside links', bad.length === 0, bad.join('; '));
    await shoot(v.page, name);
    const problems = await v.judge();
    check(name, 'no console errors, page errors or failed requests', problems.length === 0, problems.join('; '));
  } catch (e) {
    check(name, 'page test ran', false, e && e.message ? e.message.split('\n')[0] : String(e));
    if (v) { try { await shoot(v.page, name); } catch (e2) { /* nothing */ } }
  } finally {
    if (v) await v.close().catch(() => {});
  }
}

// Compare a field the API may change while the page loads: `wants` before and after.
async function fieldIn(page, pageName, fieldName, wants) {
  const got = await field(page, fieldName);
  return oneOf(pageName, fieldName, got, [...new Set(wants)]);
}

// ---------------------------------------------------------------- pick ids from the API

async function pickIds() {
  const ids = {};
  const status = await getOk('/v1/status');
  ids.latest = status.latest_height;
  // the newest block with txs
  let from = null;
  for (let tries = 0; tries < 50 && !ids.block; tries++) {
    const r = await getOk('/v1/blocks?limit=100' + (from ? '&from=' + from : ''));
    const withTxs = (r.blocks || []).filter((b) => b.num_txs > 0).sort((a, b) => b.height - a.height);
    if (withTxs.length) { ids.block = withTxs[0].height; break; }
    const low = Math.min(...(r.blocks || []).map((b) => b.height));
    if (!(low > 1)) break;
    from = Math.max(1, low - 100);
  }
  if (ids.block) {
    const b = await getOk('/v1/blocks/' + ids.block);
    // prefer a tx whose content we may read
    const tx = (b.txs || []).find((t) => !t.private) || (b.txs || [])[0];
    ids.tx = tx && tx.hash;
    ids.txSigner = tx && tx.signer;
  }
  // an account that holds balances: the tx's signer, else a vehicle's owner, else a zone's grid company
  const candidates = [];
  if (ids.txSigner) candidates.push(ids.txSigner);
  const vehicles = await getOk('/v1/meters?kind=vehicle&limit=500');
  for (const m of vehicles.meters || []) candidates.push(m.owner);
  const zones = await getOk('/v1/zones');
  for (const z of zones.zones || []) candidates.push(z.grid_company);
  for (const c of candidates) {
    const r = await get('/v1/accounts/' + encodeURIComponent(c));
    if (r.status === 403 || (r.status === 200 && (r.body.balances || []).length)) { ids.account = c; break; }
  }
  if (!ids.account && candidates.length) ids.account = candidates[0];
  // a vehicle with readings (and a battery history when one has it)
  let best = null;
  for (const m of vehicles.meters || []) {
    const r = await get('/v1/meters/' + encodeURIComponent(m.meter_id) + '/readings?limit=500');
    const n = r.status === 200 ? (r.body.intervals || []).length : (m.readings_accepted || 0);
    if (n > 0 && (!best || n > best.n)) best = { id: m.meter_id, n };
    if (best && best.n >= 3) break;
  }
  ids.meter = best ? best.id : (vehicles.meters || [])[0] && vehicles.meters[0].meter_id;
  // a market that cleared (with trades when one has them)
  const mk = await getOk('/v1/markets?limit=500');
  const cleared = (mk.markets || []).filter((m) => m.status === 'cleared' || m.status === 'settled');
  const market = cleared.filter((m) => m.trades > 0).pop() || cleared.pop();
  if (market) ids.market = { zone: market.zone, s: market.interval_start_s };
  ids.zone = market ? market.zone : (zones.zones || [])[0] && zones.zones[0].name;
  const ev = await getOk('/v1/events?limit=100');
  ids.event = (ev.events || [])[0] && ev.events[0].id;
  const po = await getOk('/v1/pools?limit=100');
  ids.pool = (po.pools || [])[0] && po.pools[0].id;
  const pr = await getOk('/v1/programs?limit=100');
  ids.program = (pr.programs || [])[0] && pr.programs[0].id;
  return ids;
}

// ---------------------------------------------------------------- the checks

const enc = encodeURIComponent;
const want = (name) => !ONLY || ONLY.has(name);

async function run() {
  // the page itself, with its Content-Security-Policy
  {
    const res = await new Promise((resolve, reject) => {
      const req = (API.startsWith('https:') ? https : http).get(new URL(API + '/'), { agent: false, timeout: 10000 }, (r) => { r.resume(); r.on('end', () => resolve(r)); });
      req.on('timeout', () => req.destroy(new Error('GET /: no answer within 10 s')));
      req.on('error', reject);
    });
    const csp = res.headers['content-security-policy'] || '';
    check('page', 'GET / answers 200 with a Content-Security-Policy', res.statusCode === 200 && /script-src 'self'/.test(csp) && /default-src 'none'/.test(csp), res.statusCode + ' ' + csp);
  }
  const ids = await pickIds();
  console.log('# ids from the API: ' + JSON.stringify(ids));

  // network
  if (want('network')) {
    const before = await getOk('/v1/status');
    const vals = await getOk('/v1/validators');
    const net = await getOk('/v1/net_info');
    await pageCheck('network', '#/', async (page) => {
      // The page's height first, then the API's: the stream may move the page on meanwhile.
      const h = Number((await field(page, 'height') || '').replace(/,/g, ''));
      const after = await getOk('/v1/status');
      check('network', 'height', h >= before.latest_height && h <= after.latest_height,
        'page ' + h + ', API ' + before.latest_height + '..' + after.latest_height);
      eq('network', 'chain-id', await field(page, 'chain-id'), before.chain_id);
      for (const v of vals.validators) {
        eq('network', 'validator-power-' + v.name, await field(page, 'validator-power-' + v.name), intText(v.power));
        if (typeof v.last_signed_height === 'number') {
          const ls = Number((await field(page, 'validator-last-signed-' + v.name) || '').replace(/,/g, ''));
          check('network', 'validator-last-signed-' + v.name, ls > 0 && ls <= after.latest_height + 1, 'page ' + ls);
        }
      }
      eq('network', 'peers', await field(page, 'peers'), intText(net.n_peers));
      const tps = await field(page, 'tps');
      check('network', 'tx/s shown with a chart', /^\d+(\.\d+)? tx\/s$/.test(tps || '') && (await page.$$('svg.chart rect.bar')).length > 0, tps);
      const rows = await page.$$('#latest-blocks tr');
      check('network', 'latest blocks listed', rows.length > 0, rows.length + ' rows');
    });
  }

  // blocks list
  if (want('blocks')) {
    const before = await getOk('/v1/blocks?limit=25');
    await pageCheck('blocks', '#/blocks', async (page) => {
      const after = await getOk('/v1/blocks?limit=25');
      const heights = await page.$$eval('#blocks-list tr', (rows) => rows.map((r) => Number(r.getAttribute('data-height'))));
      check('blocks', 'newest block first', heights.length > 0 && heights[0] >= before.blocks[0].height && heights[0] <= after.blocks[0].height, 'page ' + heights[0]);
      check('blocks', '25 blocks in height order', heights.length === Math.min(25, after.latest_height) && heights.every((h, i) => i === 0 || heights[i - 1] === h + 1), heights.length + ' rows');
    });
  }

  // a block with txs
  if (want('block') && check('block', 'the API has a block with txs', ids.block != null, String(ids.block))) {
    const b = await getOk('/v1/blocks/' + ids.block);
    const c = await getOk('/v1/blocks/' + ids.block + '/commit');
    await pageCheck('block', '#/block/' + ids.block, async (page) => {
      eq('block', 'block-height', await field(page, 'block-height'), intText(b.header.height));
      eq('block', 'block-id', await field(page, 'block-id'), b.block_id);
      eq('block', 'block-num-txs', await field(page, 'block-num-txs'), String(b.txs.length));
      for (const t of b.txs) {
        eq('block', 'tx-code-' + t.index, await field(page, 'tx-code-' + t.index), t.code == null ? 'private' : String(t.code));
      }
      eq('block', 'commit-signatures', await field(page, 'commit-signatures'), String(c.signatures.length));
    });
  }

  // a tx
  if (want('tx') && check('tx', 'the API has a tx', !!ids.tx, ids.tx)) {
    const t = await getOk('/v1/txs/' + ids.tx);
    await pageCheck('tx', '#/tx/' + ids.tx, async (page) => {
      eq('tx', 'tx-hash', await field(page, 'tx-hash'), t.hash);
      eq('tx', 'tx-height', await field(page, 'tx-height'), intText(t.height));
      if (t.private) {
        check('tx', 'private tx shown as personal', (await page.textContent('main')).includes('personal'));
      } else {
        eq('tx', 'tx-code', await field(page, 'tx-code'), String(t.code));
        eq('tx', 'tx-op-type', await field(page, 'tx-op-type'), t.op.type);
        const rows = await page.$$('table.kv');
        check('tx', 'op rendered as key/value table', rows.length >= 2);
        if (Array.isArray(t.rejected_readings)) eq('tx', 'rejected-readings-count', await field(page, 'rejected-readings-count'), String(t.rejected_readings.length));
      }
    });
  }

  // an account
  if (want('account') && check('account', 'the API has an account with balances', !!ids.account, ids.account)) {
    const A = enc(ids.account);
    const pathBal = '/v1/accounts/' + A;
    const before = await get(pathBal);
    await pageCheck('account', '#/account/' + A, async (page) => {
      eq('account', 'account-address', await field(page, 'account-address'), ids.account);
      const after = await get(pathBal);
      if (before.status === 403) {
        check('account', 'balances refusal shown', await refused(page, pathBal), pathBal);
      } else {
        const denoms = new Set([...(before.body.balances || []), ...(after.body.balances || [])].map((b) => b.denom));
        check('account', 'balances listed', denoms.size > 0, [...denoms].join(','));
        for (const d of denoms) {
          const wants = [before, after].map((r) => (r.body.balances || []).find((b) => b.denom === d)).filter(Boolean).map(amountText);
          await fieldIn(page, 'account', 'balance-' + d, wants);
        }
      }
      const debts = await get('/v1/accounts/' + A + '/debts');
      if (debts.status === 200) eq('account', 'in-debt', await field(page, 'in-debt'), debts.body.in_debt ? 'yes' : 'no');
      else check('account', 'debts refusal shown', await refused(page, '/v1/accounts/' + A + '/debts'));
      const st = await get('/v1/accounts/' + A + '/statement');
      if (st.status === 200) {
        const net = await field(page, 'statement-net');
        // The statement's default period ends at the latest block: read the page, then the API
        // again, and accept either answer (a block between them may add to it).
        const st2 = await get('/v1/accounts/' + A + '/statement');
        const want = [amountText(st.body.net), st2.status === 200 ? amountText(st2.body.net) : null];
        check('account', 'statement-net', want.includes(net), 'page ' + net + ', API ' + want.join(' or '));
      } else check('account', 'statement refusal shown', await refused(page, '/v1/accounts/' + A + '/statement'));
    });
  }

  // a vehicle meter with readings and battery
  if (want('meter') && check('meter', 'the API has a vehicle meter', !!ids.meter, ids.meter)) {
    const M = enc(ids.meter);
    const m = await getOk('/v1/meters/' + M);
    const pathR = '/v1/meters/' + M + '/readings?limit=500';
    const pathB = '/v1/meters/' + M + '/battery';
    const r1 = await get(pathR);
    const b1 = await get(pathB);
    await pageCheck('meter', '#/meter/' + M, async (page) => {
      eq('meter', 'meter-id', await field(page, 'meter-id'), m.meter_id);
      eq('meter', 'meter-kind', await field(page, 'meter-kind'), m.kind);
      eq('meter', 'meter-zone', await field(page, 'meter-zone'), m.zone);
      const r2 = await get(pathR);
      if (r1.status === 403) {
        check('meter', 'readings refusal shown', await refused(page, pathR), pathR);
      } else {
        const sum = (r, k) => (r.body.intervals || []).reduce((s, x) => s + (x[k] || 0), 0);
        check('meter', 'has attested intervals', (r1.body.intervals || []).length > 0, (r1.body.intervals || []).length + ' intervals');
        await fieldIn(page, 'meter', 'readings-import-total', [whText(sum(r1, 'import_wh')), whText(sum(r2, 'import_wh'))]);
        await fieldIn(page, 'meter', 'readings-export-total', [whText(sum(r1, 'export_wh')), whText(sum(r2, 'export_wh'))]);
        await fieldIn(page, 'meter', 'readings-intervals', [intText(r1.body.intervals.length), intText(r2.body.intervals.length)]);
        check('meter', 'readings bar chart', (await page.$$('svg.chart rect.bar')).length > 0);
      }
      const b2 = await get(pathB);
      if (b1.status === 403) {
        check('meter', 'battery refusal shown', await refused(page, pathB), pathB);
      } else {
        await fieldIn(page, 'meter', 'battery-soh', [permilleText(b1.body.soh_permille), permilleText(b2.body.soh_permille)]);
        await fieldIn(page, 'meter', 'battery-history-count', [String(b1.body.history.length), String(b2.body.history.length)]);
        if (b1.body.history.length) check('meter', 'battery line chart', (await page.$$('svg.chart path.line')).length > 0);
      }
    });
  }

  // markets
  if (want('markets')) {
    const before = await getOk('/v1/markets?limit=500');
    await pageCheck('markets', '#/markets', async (page) => {
      const after = await getOk('/v1/markets?limit=500');
      await fieldIn(page, 'markets', 'markets-count', [String(before.markets.length), String(after.markets.length)]);
    });
  }

  // a market that cleared
  if (want('market') && check('market', 'the API has a cleared market', !!ids.market, ids.market && ids.market.zone + '/' + ids.market.s)) {
    const p = '/v1/markets/' + enc(ids.market.zone) + '/' + ids.market.s + '?limit=500';
    const m1 = await getOk(p);
    await pageCheck('market', '#/market/' + enc(ids.market.zone) + '/' + ids.market.s, async (page) => {
      const m2 = await getOk(p);
      await fieldIn(page, 'market', 'market-clearing-price', [amountText(m1.clearing_price), amountText(m2.clearing_price)]);
      await fieldIn(page, 'market', 'market-cleared-energy', [whText(m1.cleared_energy_wh), whText(m2.cleared_energy_wh)]);
      await fieldIn(page, 'market', 'market-status', [m1.status, m2.status]);
      await fieldIn(page, 'market', 'market-trades', [intText(m1.trades), intText(m2.trades)]);
      const curves = (await page.$$('svg.chart path.bids')).length + (await page.$$('svg.chart path.asks')).length;
      check('market', 'supply and demand curves drawn', curves > 0 || (m1.depth.bids.length + m1.depth.asks.length) === 0, curves + ' curves');
      check('market', 'clearing point marked', (await page.$$('svg.chart .clear-dot')).length === 1);
    });
  }

  // a zone's price history
  if (want('zone') && check('zone', 'the API has a zone', !!ids.zone, ids.zone)) {
    const p = '/v1/markets?zone=' + enc(ids.zone) + '&limit=500';
    const z1 = await getOk(p);
    await pageCheck('zone', '#/zone/' + enc(ids.zone), async (page) => {
      const z2 = await getOk(p);
      eq('zone', 'zone-name', await field(page, 'zone-name'), ids.zone);
      await fieldIn(page, 'zone', 'zone-market-count', [intText(z1.markets.length), intText(z2.markets.length)]);
      const priced = z2.markets.some((m) => (m.status === 'cleared' || m.status === 'settled') && m.clearing_price.amount !== '0');
      if (priced) check('zone', 'price line chart', (await page.$$('svg.chart path.line')).length > 0);
    });
  }

  // events
  if (want('events')) {
    const e1 = await getOk('/v1/events?limit=100');
    await pageCheck('events', '#/events', async (page) => {
      const e2 = await getOk('/v1/events?limit=100');
      await fieldIn(page, 'events', 'events-count', [String(e1.events.length), String(e2.events.length)]);
    });
  }
  if (want('event') && check('event', 'the API has an event', ids.event != null, String(ids.event))) {
    const e1 = await getOk('/v1/events/' + ids.event);
    await pageCheck('event', '#/event/' + ids.event, async (page) => {
      const e2 = await getOk('/v1/events/' + ids.event);
      eq('event', 'event-id', await field(page, 'event-id'), String(e1.id));
      await fieldIn(page, 'event', 'event-enrollment-count', [intText(e1.enrollment_count), intText(e2.enrollment_count)]);
      await fieldIn(page, 'event', 'event-enrollments-shown', [String(e1.enrollments.length), String(e2.enrollments.length)]);
      await fieldIn(page, 'event', 'event-budget', [amountText(e1.budget), amountText(e2.budget)]);
    });
  }

  // pools
  if (want('pools')) {
    const p1 = await getOk('/v1/pools?limit=100');
    await pageCheck('pools', '#/pools', async (page) => {
      const p2 = await getOk('/v1/pools?limit=100');
      await fieldIn(page, 'pools', 'pools-count', [String(p1.pools.length), String(p2.pools.length)]);
    });
  }
  if (want('pool') && check('pool', 'the API has a pool', ids.pool != null, String(ids.pool))) {
    const p1 = await getOk('/v1/pools/' + ids.pool);
    await pageCheck('pool', '#/pool/' + ids.pool, async (page) => {
      const p2 = await getOk('/v1/pools/' + ids.pool);
      eq('pool', 'pool-id', await field(page, 'pool-id'), String(p1.id));
      await fieldIn(page, 'pool', 'pool-member-count', [intText(p1.member_count), intText(p2.member_count)]);
      await fieldIn(page, 'pool', 'pool-members-shown', [String(p1.members.length), String(p2.members.length)]);
    });
  }

  // programs
  if (want('programs')) {
    const p1 = await getOk('/v1/programs?limit=100');
    await pageCheck('programs', '#/programs', async (page) => {
      const p2 = await getOk('/v1/programs?limit=100');
      await fieldIn(page, 'programs', 'programs-count', [String(p1.programs.length), String(p2.programs.length)]);
    });
  }
  if (want('program') && check('program', 'the API has a program', ids.program != null, String(ids.program))) {
    const p1 = await getOk('/v1/programs/' + ids.program);
    await pageCheck('program', '#/program/' + ids.program, async (page) => {
      const p2 = await getOk('/v1/programs/' + ids.program);
      eq('program', 'program-id', await field(page, 'program-id'), String(p1.id));
      await fieldIn(page, 'program', 'program-member-count', [intText(p1.member_count), intText(p2.member_count)]);
      await fieldIn(page, 'program', 'program-members-shown', [String(p1.members.length), String(p2.members.length)]);
      await fieldIn(page, 'program', 'program-budget', [amountText(p1.budget), amountText(p2.budget)]);
    });
  }

  // search: type into the box, press Enter, land on the right page
  if (want('search')) {
    const searches = [];
    if (ids.block) searches.push(['height', String(ids.block), '#/block/' + ids.block, 'block-height', intText(ids.block), 'ready']);
    if (ids.tx) searches.push(['tx hash', ids.tx, '#/tx/' + ids.tx, 'tx-hash', ids.tx, 'ready']);
    if (ids.account) searches.push(['account', ids.account, '#/account/' + ids.account, 'account-address', ids.account, 'ready']);
    if (ids.meter) searches.push(['meter id', ids.meter, '#/meter/' + enc(ids.meter), 'meter-id', ids.meter, 'ready']);
    const missing = 'no-such-meter-' + Date.now().toString(36);
    searches.push(['unknown id', missing, '#/meter/' + missing, 'searched', missing, 'error']);
    let v = null;
    try {
      v = await open('search', '#/markets', { allow404: ['/v1/meters/' + missing] });
      await waitState(v.page);
      for (const [kind, q, wantHash, f, wantText, wantState] of searches) {
        await v.page.evaluate(() => { document.body.dataset.state = 'stale'; });
        await v.page.fill('#search-input', q);
        await v.page.press('#search-input', 'Enter');
        await v.page.waitForFunction((h) => location.hash === h, wantHash, { timeout: PAGE_TIMEOUT_MS }).catch(() => {});
        const hash = await v.page.evaluate(() => location.hash);
        check('search', kind + ' lands on ' + wantHash, hash === wantHash, hash);
        const state = await waitState(v.page);
        await v.page.waitForSelector('[data-field="' + f + '"]', { timeout: PAGE_TIMEOUT_MS }).catch(() => {});
        eq('search', kind + ' shows ' + f, await field(v.page, f), wantText);
        check('search', kind + ' page state', state === wantState, 'data-state=' + state);
        // 403s are judged on the page that showed them (before the next search leaves it)
        await v.judge();
        if (wantState === 'error') {
          const nf = await field(v.page, 'not-found');
          check('search', 'unknown id says not found with the search', !!nf && nf.includes(missing), nf);
          await shoot(v.page, 'search-not-found');
        }
      }
      const problems = await v.judge();
      check('search', 'no console errors, page errors or failed requests', problems.length === 0, problems.join('; '));
    } catch (e) {
      check('search', 'search test ran', false, e.message.split('\n')[0]);
    } finally {
      if (v) await v.close().catch(() => {});
    }
  }

  // live: a new block appears on the network page without a reload
  if (want('live')) {
    let v = null;
    try {
      v = await open('live', '#/');
      await waitState(v.page);
      await v.page.evaluate(() => { window.__notReloaded = true; });
      const h0 = Number((await field(v.page, 'height')).replace(/,/g, ''));
      const top0 = Number(await v.page.$eval('#latest-blocks tr', (r) => r.getAttribute('data-height')));
      const grew = await v.page.waitForFunction(([h, top]) => {
        const e = document.querySelector('[data-field="height"]');
        const row = document.querySelector('#latest-blocks tr');
        return e && Number(e.textContent.replace(/,/g, '')) > h && row && Number(row.getAttribute('data-height')) > top;
      }, [h0, top0], { timeout: LIVE_TIMEOUT_MS }).then(() => true, () => false);
      const h1 = Number((await field(v.page, 'height')).replace(/,/g, ''));
      const top1 = Number(await v.page.$eval('#latest-blocks tr', (r) => r.getAttribute('data-height')));
      const same = await v.page.evaluate(() => window.__notReloaded === true);
      check('live', 'height increases without reload', grew && same && h1 > h0, h0 + ' -> ' + h1 + (same ? '' : ' (page reloaded)'));
      check('live', 'new block row appears', top1 > top0, 'top row ' + top0 + ' -> ' + top1);
      await shoot(v.page, 'network-live');
      const problems = await v.judge();
      check('live', 'no console errors, page errors or failed requests', problems.length === 0, problems.join('; '));
    } catch (e) {
      check('live', 'live test ran', false, e.message.split('\n')[0]);
    } finally {
      if (v) await v.close().catch(() => {});
    }
  }
}

let crashed = null;
try {
  await run();
} catch (e) {
  crashed = e;
  check('test', 'ran to the end', false, e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : String(e));
}
await browser.close().catch(() => {});
clearTimeout(watchdog);

const failed = results.filter((r) => !r.ok);
if (refusals.length) console.log('# refusals shown (403, personal data): ' + refusals.length);
console.log('# screenshots in ' + path.resolve(SHOTS));
console.log((failed.length ? 'FAILED' : 'PASSED') + ': ' + (results.length - failed.length) + ' of ' + results.length + ' checks passed');
for (const f of failed) console.log('  failed: ' + f.page + ': ' + f.what + (f.detail ? ' (' + f.detail + ')' : ''));
process.exit(failed.length || crashed ? 1 : 0);
