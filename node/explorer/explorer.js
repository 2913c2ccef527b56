// v2gledger block explorer: a single-page app over the node's /v1 API (docs/API.md).
//
// Rules this file keeps (the node serves it under a strict Content-Security-Policy, and every
// value from the API came from users: meter ids, zones, memos, pool names):
// - the DOM is built with createElement / createElementNS and textContent only; attributes are
//   set with setAttribute on names chosen here (never event handlers or style); links are
//   "#/..." + encodeURIComponent(value);
// - requests are same-origin and relative (/v1/...);
// - amounts are shown as the API's `display` strings; minimal units (strings) are never summed
//   as floats (charts convert prices to numbers for geometry only, labels use `display`).
// Values the browser test compares carry data-field="NAME"; document.body.dataset.state is
// "loading" while a page loads, then "ready" or "error".
'use strict';

(function () {
  // ---------------------------------------------------------------- DOM helpers

  const SVG_NS = 'http://www.w3.org/2000/svg';

  function safeHref(h) {
    return typeof h === 'string' && h.startsWith('#/') ? h : '#/';
  }

  function append(parent, kids) {
    for (const k of kids) {
      if (k == null || k === false) continue;
      if (Array.isArray(k)) { append(parent, k); continue; }
      parent.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return parent;
  }

  function setAttrs(e, attrs) {
    if (!attrs) return;
    for (const key of Object.keys(attrs)) {
      const v = attrs[key];
      if (v == null || v === false) continue;
      if (/^on/i.test(key) || key === 'style') continue;  // never, whatever the caller
      if (key === 'class') e.setAttribute('class', String(v));
      else if (key === 'field') e.setAttribute('data-field', String(v));
      else if (key === 'href') e.setAttribute('href', safeHref(v));
      else e.setAttribute(key, String(v));
    }
  }

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    return append(e, kids);
  }

  function svgEl(tag, attrs, ...kids) {
    const e = document.createElementNS(SVG_NS, tag);
    setAttrs(e, attrs);
    return append(e, kids);
  }

  function add(parent, node) {
    if (node) parent.appendChild(node);
    return parent;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  const enc = encodeURIComponent;
  const href = {
    block: (h) => '#/block/' + enc(h),
    tx: (h) => '#/tx/' + enc(h),
    account: (a) => '#/account/' + enc(a),
    meter: (m) => '#/meter/' + enc(m),
    zone: (z) => '#/zone/' + enc(z),
    market: (z, s) => '#/market/' + enc(z) + '/' + enc(s),
    event: (id) => '#/event/' + enc(id),
    pool: (id) => '#/pool/' + enc(id),
    program: (id) => '#/program/' + enc(id),
  };

  function a(text, h, attrs) {
    return el('a', Object.assign({ href: h }, attrs || {}), text);
  }

  // ---------------------------------------------------------------- formatting

  const isAddr = (s) => typeof s === 'string' && /^v2g1[02-9ac-hj-np-z]{20,90}$/.test(s);
  const isHash = (s) => typeof s === 'string' && /^[0-9a-f]{64}$/i.test(s);
  const isAmount = (v) => v && typeof v === 'object' && !Array.isArray(v) &&
    typeof v.display === 'string' && 'denom' in v && 'amount' in v && !('kind' in v);  // "kind": a message's field

  function fmtInt(n) {
    if (n == null) return '—';
    if (typeof n === 'number' && Number.isFinite(n)) return n.toLocaleString('en-US');
    return String(n);
  }

  function fmtWh(n) {
    if (n == null) return '—';
    return fmtInt(n) + ' Wh';
  }

  function fmtAmount(v) {
    if (v == null) return '—';
    if (isAmount(v)) return v.display + (v.denom ? ' ' + v.denom : '');
    return String(v);
  }

  function fmtTime(s) {
    if (typeof s !== 'string' || !s) return s == null ? '—' : String(s);
    return s.replace('T', ' ').replace(/\.\d+(?=Z|[+-]\d\d:\d\d$)/, '').replace(/Z$/, ' UTC');
  }

  function fmtAge(ms) {
    if (!Number.isFinite(ms)) return '';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }

  function short(s, n) {
    n = n || 10;
    s = String(s);
    return s.length > 2 * n + 1 ? s.slice(0, n) + '…' + s.slice(-n) : s;
  }

  function fmtPermille(p) {
    if (p == null) return '—';
    return (p / 10).toFixed(1) + ' %';
  }

  function badge(text, kind) {
    return el('span', { class: 'badge' + (kind ? ' ' + kind : '') }, text);
  }

  function statusBadge(s) {
    const kinds = {
      ok: 'ok', committed: 'ok', settled: 'ok', cleared: 'info', open: 'info', accepted: 'ok',
      matched: 'info', pending: 'warn', expired: 'warn', cancelled: 'warn', closed: 'warn',
      empty: '', proposed: 'info',
    };
    return badge(String(s), kinds[s] != null ? kinds[s] : 'bad');
  }

  function nullSpan(text) {
    return el('span', { class: 'null' }, text || '—');
  }

  // A short address link: "v2g1abcd…wxyz", the whole address in its title.
  function acct(addr, attrs) {
    if (addr == null) return nullSpan();
    const name = validatorName(addr);
    return a(name ? name + ' (' + short(addr, 8) + ')' : short(addr, 10), href.account(addr),
      Object.assign({ title: addr, class: 'mono' }, attrs || {}));
  }

  // A validator by its name when it is one (the address in the title), else a short address.
  function proposer(addr) {
    const name = validatorName(addr);
    return name ? a(name, href.account(addr), { title: addr }) : acct(addr);
  }

  function txLink(hash, n) {
    return a(short(hash, n || 10), href.tx(hash), { title: hash, class: 'mono' });
  }

  function blockLink(h, attrs) {
    return a(fmtInt(h), href.block(h), attrs);
  }

  function meterLink(id, attrs) {
    if (id == null || id === '') return nullSpan();
    return a(String(id), href.meter(id), attrs);
  }

  function zoneLink(z) {
    if (z == null || z === '') return nullSpan('every zone');
    return a(String(z), href.zone(z));
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(path, status, body, message) {
      const err = body && body.error;
      super(message || (err && err.message) || ('HTTP ' + status));
      this.path = path;
      this.status = status;
      this.body = body;
      this.code = err && err.code;
      this.readers = err && Array.isArray(err.readers) ? err.readers : null;
    }
  }

  // At most MAX_INFLIGHT requests at once: the node limits the connections one address holds
  // (docs/API.md: connections_per_address_max, 8 by default), and the live stream holds one.
  const MAX_INFLIGHT = 4;
  let inflight = 0;
  const waiting = [];
  function acquire() {
    if (inflight < MAX_INFLIGHT) { inflight++; return Promise.resolve(); }
    return new Promise((resolve) => waiting.push(resolve));
  }
  function release() {
    const next = waiting.shift();
    if (next) next(); else inflight--;
  }
  const sleep = (ms) => new Promise((resolve) => { window.setTimeout(resolve, ms); });

  async function fetchOnce(path) {
    await acquire();
    try {
      return await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'omit' });
    } finally {
      release();
    }
  }

  async function api(path) {
    let res;
    for (let attempt = 0; ; attempt++) {
      try {
        res = await fetchOnce(path);
      } catch (e) {
        throw new ApiError(path, 0, null, 'the node did not answer (' + (e && e.message) + ')');
      }
      // A busy node answers 503 with Retry-After: wait and ask again (a few times, briefly).
      if (res.status !== 503 || attempt >= 3) break;
      const after = parseFloat(res.headers.get('Retry-After') || '1');
      await sleep(Math.min(5, Math.max(0.5, Number.isFinite(after) ? after : 1)) * 1000);
    }
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) throw new ApiError(path, res.status, body);
    if (body == null) throw new ApiError(path, res.status, null, 'the answer was not JSON');
    return body;
  }

  // Several requests at once; each settles to {ok, data} or {ok: false, error}.
  function apiAll(paths) {
    return Promise.all(paths.map((p) => api(p).then((data) => ({ ok: true, data }), (error) => ({ ok: false, error }))));
  }

  let validatorsByAddr = new Map();
  async function loadValidators(force) {
    if (!force && validatorsByAddr.size > 0) return;
    try {
      const v = await api('/v1/validators');
      validatorsByAddr = new Map((v.validators || []).map((x) => [x.address, x]));
      return v;
    } catch (e) {
      return null;
    }
  }
  function validatorName(addr) {
    const v = validatorsByAddr.get(addr);
    return v ? v.name : null;
  }

  // ---------------------------------------------------------------- notices

  // A refusal (403 permission_denied, 401) or another error, as a notice box: the API's message,
  // who may read it, and how to read it signed.
  function errorNotice(err, what) {
    if (!(err instanceof ApiError)) {
      return el('div', { class: 'notice error', role: 'alert' },
        el('span', { class: 'title' }, (what ? what + ': ' : '') + 'could not be shown'),
        String(err && err.message || err));
    }
    if (err.status === 403 || err.status === 401) {
      const box = el('div', { class: 'notice', 'data-refused': err.path },
        el('span', { class: 'title' }, (err.status === 403 ? 'Personal data' : 'A valid signed read is needed') + (what ? ': ' + what.replace(/^The /, 'the ') : '')),
        err.message);
      if (err.readers && err.readers.length) {
        box.appendChild(el('div', { class: 'readers' }, 'Readable by: ',
          err.readers.map((r, i) => [i ? ', ' : '', acct(r)])));
      }
      box.appendChild(el('div', { class: 'readers' }, 'Read it signed with ',
        el('code', null, 'v2g get ' + err.path + ' --as KEY'), '.'));
      return box;
    }
    if (err.status === 404) {
      return el('div', { class: 'notice error', role: 'alert' },
        el('span', { class: 'title' }, 'Not found' + (what ? ': ' + what : '')), err.message);
    }
    return el('div', { class: 'notice error', role: 'alert' },
      el('span', { class: 'title' }, (what ? what + ': ' : '') + 'the node answered ' + (err.status || 'nothing')),
      err.message);
  }

  // A note for an answer reduced for this reader ("private": true).
  function privateNote(obj, what) {
    if (!obj || (!obj.private && !obj.private_items && !obj.hidden_rows)) return null;
    const parts = [];
    if (obj.private) parts.push((what || 'Parts of this record') + ' are personal and shown reduced' + (obj.private_reason ? ' (' + obj.private_reason + ')' : '') + '.');
    if (obj.private_items) parts.push(fmtInt(obj.private_items) + ' item(s) shown reduced.');
    if (obj.hidden_rows) parts.push(fmtInt(obj.hidden_rows) + ' row(s) hidden from this reader.');
    const box = el('div', { class: 'notice info' }, el('span', { class: 'title' }, 'Reduced for an unsigned reader'), parts.join(' '));
    if (Array.isArray(obj.readers) && obj.readers.length) {
      box.appendChild(el('div', { class: 'readers' }, 'Readable in full by: ', obj.readers.map((r, i) => [i ? ', ' : '', acct(r)])));
    }
    return box;
  }

  // ---------------------------------------------------------------- generic rendering

  const LINK_KEYS_METER = new Set(['meter_id', 'plugged_meter_id']);
  const LINK_KEYS_ZONE = new Set(['zone']);

  // One value of an API object, by its key: links for ids, amounts as display strings, nested
  // objects as tables (so every op type and record renders without knowing its fields).
  function renderValue(key, v, depth, inTable) {
    depth = depth || 0;
    if (v == null) return nullSpan(v === null ? 'null' : '—');
    if (isAmount(v)) return fmtAmount(v);
    if (Array.isArray(v)) return renderArray(key, v, depth, inTable);
    if (typeof v === 'object') return el('div', { class: 'nested' }, kvTable(v, depth + 1));
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number') {
      if (/(^|_)height$/.test(key) && v > 0) return blockLink(v);
      if (key === 'event_id') return a(String(v), href.event(v));
      if (key === 'pool_id') return a(String(v), href.pool(v));
      if (key === 'program_id') return a(String(v), href.program(v));
      if (/_(s|ms)$/.test(key) || key === 'index' || key === 'id' || key === 'seq' || key === 'day') return String(v);
      return fmtInt(v);
    }
    const s = String(v);
    if (LINK_KEYS_METER.has(key) && s) return meterLink(s);
    if (LINK_KEYS_ZONE.has(key) && s) return zoneLink(s);
    if (isAddr(s)) return acct(s);
    if ((key === 'hash' || key === 'tx_hash') && isHash(s)) return txLink(s, 32);
    if (/^[0-9a-f]{40,}$/i.test(s)) {
      return inTable ? el('span', { class: 'mono', title: s }, short(s, 8)) : el('span', { class: 'mono hex' }, s);
    }
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(s)) return fmtTime(s);
    if (s.length > 80) return el('span', { class: 'long' }, s);
    return s;
  }

  function renderArray(key, arr, depth, inTable) {
    if (arr.length === 0) return nullSpan('none');
    if (arr.every((x) => x == null || typeof x !== 'object')) {
      return el('span', null, arr.map((x, i) => [i ? ', ' : '', renderValue(key.replace(/s$/, ''), x, depth)]));
    }
    if (arr.every((x) => x && typeof x === 'object' && !Array.isArray(x) && !isAmount(x))) {
      return el('div', { class: 'scroll' }, objectTable(arr, depth));
    }
    if (arr.every((x) => isAmount(x))) {
      // e.g. a tariff's 24 import prices: index (hour) and amount
      return el('div', { class: 'chips' }, arr.map((x, i) => el('span', { class: 'chip' }, el('span', { class: 'idx' }, String(i)), fmtAmount(x))));
    }
    return el('ol', { start: '0' }, arr.map((x) => el('li', null, renderValue(key, x, depth, inTable))));
  }

  // Rows of objects as one table, columns the union of their keys.
  function objectTable(rows, depth, opts) {
    const cols = [];
    for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
    const t = el('table', { class: 'list' },
      el('thead', null, el('tr', null, cols.map((c) => el('th', null, c)))),
      el('tbody', null, rows.map((r, i) => el('tr', opts && opts.rowAttrs ? opts.rowAttrs(r, i) : null,
        cols.map((c) => el('td', null, renderValue(c, r[c], (depth || 0) + 1, true)))))));
    return t;
  }

  // An object as a key/value table; `fields` maps a key to its data-field name.
  function kvTable(obj, depth, fields, skip) {
    const rows = [];
    for (const k of Object.keys(obj)) {
      if (skip && skip.includes(k)) continue;
      const f = fields && fields[k];
      rows.push(el('tr', null, el('th', null, k), el('td', f ? { field: f } : null, renderValue(k, obj[k], depth || 0))));
    }
    return el('table', { class: 'kv' }, el('tbody', null, rows));
  }

  // ---------------------------------------------------------------- layout helpers

  function panel(title, sub, ...kids) {
    return el('section', { class: 'panel' },
      el('div', { class: 'panel-head' }, el('h2', null, title), sub ? el('span', { class: 'sub' }, sub) : null),
      kids);
  }

  function stat(label, value, field, hint, small) {
    return el('div', { class: 'stat' },
      el('div', { class: 'label' }, label),
      el('div', { class: 'value' + (small ? ' small' : ''), field: field }, value),
      hint ? el('div', { class: 'hint' }, hint) : null);
  }

  function table(headers, rows, attrs) {
    return el('table', attrs || { class: 'list' },
      el('thead', null, el('tr', null, headers.map((h) => {
        const num = h.startsWith('#');
        return el('th', num ? { class: 'num' } : null, num ? h.slice(1) : h);
      }))),
      el('tbody', null, rows));
  }

  function td(v, attrs) { return el('td', attrs, v); }
  function tdNum(v, field) { return el('td', { class: 'num', field: field }, v); }

  function title(kind, text, field) {
    return el('h1', null, el('span', { class: 'kind' }, kind), el('span', { field: field }, text));
  }

  // Start a section that loads by itself: the panel shows "Loading…" and then what `fill`
  // builds, or the refusal / error notice.
  function asyncPanel(titleText, sub, promise, fill, what) {
    const body = el('div', null, el('p', { class: 'loading' }, 'Loading…'));
    const p = panel(titleText, sub, body);
    const done = promise.then((data) => {
      clear(body);
      append(body, [fill(data)]);
    }, (err) => {
      clear(body);
      body.appendChild(errorNotice(err, what || titleText));
      if (!(err instanceof ApiError) || (err.status !== 403 && err.status !== 401 && err.status !== 404)) throw err;
    });
    return { node: p, done };
  }

  // ---------------------------------------------------------------- SVG charts

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function axisLabel(n) {
    if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1).replace(/\.0$/, '') + 'M';
    if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(0) + 'k';
    if (Number.isInteger(n)) return String(n);
    return n.toFixed(2);
  }

  function chartFrame(w, h, label) {
    return svgEl('svg', { class: 'chart', viewBox: '0 0 ' + w + ' ' + h, width: w, height: h, role: 'img', 'aria-label': label });
  }

  // Horizontal grid lines and y labels for [0, max] (or [min, max]).
  function yAxis(svg, x0, x1, y0, y1, min, max, fmt) {
    for (let i = 0; i <= 4; i++) {
      const v = min + (max - min) * i / 4;
      const y = y0 - (y0 - y1) * i / 4;
      svg.appendChild(svgEl('line', { class: i ? 'gridline' : 'axis', x1: x0, x2: x1, y1: y, y2: y }));
      svg.appendChild(svgEl('text', { x: x0 - 6, y: y + 4, 'text-anchor': 'end' }, (fmt || axisLabel)(v)));
    }
    svg.appendChild(svgEl('line', { class: 'axis', x1: x0, x2: x0, y1: y0, y2: y1 }));
  }

  // Bars: series [{cls, values[]}] drawn side by side per category; labels per category.
  function barChart(labels, series, opts) {
    const W = 760, H = 250, L = 56, R = 12, T = 22, B = 34;
    const svg = chartFrame(W, H, opts.label);
    let max = 0;
    for (const s of series) for (const v of s.values) if (v > max) max = v;
    max = niceMax(max);
    yAxis(svg, L, W - R, H - B, T, 0, max);
    const n = labels.length;
    const slot = (W - L - R) / Math.max(n, 1);
    const bw = Math.max(1, Math.min(28, slot * 0.8 / series.length));
    const every = Math.max(1, Math.ceil(n / 8));
    labels.forEach((lab, i) => {
      const cx = L + slot * i + slot / 2;
      series.forEach((s, j) => {
        const v = s.values[i] || 0;
        const h = (H - B - T) * v / max;
        const x = cx - (bw * series.length) / 2 + j * bw;
        svg.appendChild(svgEl('rect', { class: 'bar ' + s.cls, x: x.toFixed(1), y: (H - B - h).toFixed(1), width: bw.toFixed(1), height: Math.max(0, h).toFixed(1) },
          svgEl('title', null, lab + ': ' + s.name + ' ' + fmtInt(v) + (opts.unit ? ' ' + opts.unit : ''))));
      });
      if (i % every === 0) svg.appendChild(svgEl('text', { x: cx.toFixed(1), y: H - B + 16, 'text-anchor': 'middle' }, lab));
    });
    if (opts.unit) svg.appendChild(svgEl('text', { x: 4, y: 11 }, opts.unit));
    return svg;
  }

  // Lines: points [{x, y, label}] per series (x numeric, e.g. seconds).
  function lineChart(series, opts) {
    const W = 760, H = 250, L = 56, R = 16, T = 24, B = 34;
    const svg = chartFrame(W, H, opts.label);
    const all = series.flatMap((s) => s.points);
    if (all.length === 0) return el('p', { class: 'muted' }, 'Nothing to chart yet.');
    let xmin = Math.min(...all.map((p) => p.x)), xmax = Math.max(...all.map((p) => p.x));
    if (xmax === xmin) { xmin -= 1; xmax += 1; }
    let ymin = opts.ymin != null ? opts.ymin : 0;
    let ymax = opts.ymax != null ? opts.ymax : niceMax(Math.max(...all.map((p) => p.y)));
    if (ymax <= ymin) ymax = ymin + 1;
    yAxis(svg, L, W - R, H - B, T, ymin, ymax, opts.yfmt);
    const px = (x) => L + (W - L - R) * (x - xmin) / (xmax - xmin);
    const py = (y) => H - B - (H - B - T) * (y - ymin) / (ymax - ymin);
    for (const s of series) {
      if (!s.points.length) continue;
      const d = s.points.map((p, i) => (i ? 'L' : 'M') + px(p.x).toFixed(1) + ' ' + py(p.y).toFixed(1)).join(' ');
      svg.appendChild(svgEl('path', { class: 'line ' + (s.cls || ''), d }));
      for (const p of s.points) {
        svg.appendChild(svgEl('circle', { class: 'dot ' + (s.cls || ''), cx: px(p.x).toFixed(1), cy: py(p.y).toFixed(1), r: 3 },
          svgEl('title', null, (p.label || '') + ': ' + (p.ylabel || p.y))));
      }
    }
    // x labels: first, middle, last
    const xs = [xmin, (xmin + xmax) / 2, xmax];
    xs.forEach((x, i) => svg.appendChild(svgEl('text', { x: px(x).toFixed(1), y: H - B + 16, 'text-anchor': i === 0 ? 'start' : i === 2 ? 'end' : 'middle' }, opts.xfmt ? opts.xfmt(x) : String(x))));
    if (opts.unit) svg.appendChild(svgEl('text', { x: 4, y: 11 }, opts.unit));
    return svg;
  }

  function legend(items) {
    return el('div', { class: 'legend' }, items.map(([cls, text]) => el('span', null, el('span', { class: 'sw ' + cls }), text)));
  }

  const hhmm = (s) => new Date(s * 1000).toISOString().slice(11, 16);
  const hhmmss = (s) => new Date(s * 1000).toISOString().slice(11, 19);
  const ymdhm = (s) => new Date(s * 1000).toISOString().slice(5, 16).replace('T', ' ');

  // ---------------------------------------------------------------- pages

  // network: #/
  let liveSource = null;

  function txRate(blocks) {
    // blocks newest first, {time, num_txs}; window = oldest..newest time.
    const pts = blocks.map((b) => ({ t: Date.parse(b.time), n: b.num_txs || 0 })).filter((p) => Number.isFinite(p.t)).sort((x, y) => x.t - y.t);
    if (pts.length < 2) return { rate: 0, span: 0, buckets: [], avg: null, total: pts.reduce((s, p) => s + p.n, 0) };
    const t0 = pts[0].t, t1 = pts[pts.length - 1].t;
    const span = Math.max(1, (t1 - t0) / 1000);
    // txs of the blocks after the first, over the time between first and last
    const total = pts.slice(1).reduce((s, p) => s + p.n, 0);
    const nb = 20, width = (t1 - t0) / nb || 1;
    const buckets = Array.from({ length: nb }, (_, i) => ({ start: t0 + i * width, n: 0 }));
    for (const p of pts.slice(1)) buckets[Math.min(nb - 1, Math.floor((p.t - t0) / width))].n += p.n;
    return { rate: total / span, span, buckets: buckets.map((b) => ({ start: b.start, rate: b.n / (width / 1000) })), avg: span / (pts.length - 1), total };
  }

  function blockRow(b, fresh) {
    return el('tr', { 'data-height': b.height, class: fresh ? 'fresh' : null },
      el('td', null, blockLink(b.height, { field: 'block-row-height' })),
      td(fmtTime(b.time)),
      tdNum(fmtInt(b.num_txs)),
      td(proposer(b.proposer_address)),
      el('td', { class: 'hash' }, a(short(b.block_id, 8), href.block(b.height), { title: b.block_id })));
  }

  async function pageNetwork(ctx) {
    const [status, vals, net, blocks] = await Promise.all([
      api('/v1/status'), api('/v1/validators'), api('/v1/net_info'), api('/v1/blocks?limit=100')]);
    validatorsByAddr = new Map((vals.validators || []).map((x) => [x.address, x]));
    const list = (blocks.blocks || []).slice();
    const root = el('div');

    const heightEl = el('span', null, fmtInt(status.latest_height));
    const lastTime = el('span', null, fmtTime(status.latest_block_time));
    const avgEl = el('span');
    const tpsEl = el('span');
    const mpTxs = el('span', null, fmtInt(status.mempool && status.mempool.txs));
    const mpBytes = el('span', null, fmtInt(status.mempool && status.mempool.bytes));
    const tpsNum = el('span', { class: 'bignum', field: 'tps' });
    const tpsSub = el('span', { class: 'muted' });
    const chartBox = el('div');
    const liveBadge = badge('connecting…', 'warn');

    root.appendChild(title('Network', status.chain_id, 'chain-id'));
    root.appendChild(el('div', { class: 'stats' },
      stat('Height', heightEl, 'height', liveBadge),
      stat('Last block', lastTime, 'last-block-time', null, true),
      stat('Avg block interval', avgEl, 'avg-block-interval', 'over the last ' + list.length + ' blocks'),
      stat('Transactions / s', tpsEl, null, 'over the last ' + list.length + ' blocks'),
      stat('Mempool txs', mpTxs, 'mempool-txs'),
      stat('Mempool bytes', mpBytes, 'mempool-bytes'),
      stat('Peers', fmtInt(net.n_peers), 'peers'),
      stat('Node', status.moniker || '', 'moniker', 'v' + (status.version || '?'), true)));
    document.getElementById('foot-chain').textContent = status.chain_id + ' · node ' + (status.moniker || '');

    function recompute() {
      const r = txRate(list);
      avgEl.textContent = r.avg == null ? '—' : r.avg.toFixed(2) + ' s';
      tpsEl.textContent = r.rate.toFixed(2);
      tpsNum.textContent = r.rate.toFixed(2) + ' tx/s';
      tpsSub.textContent = fmtInt(r.total) + ' txs in ' + Math.round(r.span) + ' s (last ' + list.length + ' blocks)';
      clear(chartBox).appendChild(barChart(r.buckets.map((b) => hhmmss(b.start / 1000)),
        [{ cls: '', name: 'tx/s', values: r.buckets.map((b) => b.rate) }], { label: 'transactions per second', unit: 'tx/s' }));
    }
    recompute();

    // validators
    const vrows = (vals.validators || []).map((v) => {
      const pct = vals.total_power ? (100 * v.power / vals.total_power).toFixed(1) + ' %' : '';
      const ls = v.last_signed_height;
      return el('tr', null,
        td(el('strong', null, v.name)),
        td(a(short(v.address, 10), href.account(v.address), { title: v.address, class: 'mono' })),
        tdNum(fmtInt(v.power), 'validator-power-' + v.name),
        tdNum(pct),
        el('td', { class: 'num', field: 'validator-last-signed-' + v.name }, ls == null ? nullSpan(ls === null ? 'none' : 'n/a') : blockLink(ls)),
        el('td', { class: 'hash', title: v.node_id }, short(v.node_id, 6)));
    });
    const grid = el('div', { class: 'grid' },
      panel('Validators', 'total power ' + fmtInt(vals.total_power),
        table(['Name', 'Address', '#Power', '#Share', '#Last signed', 'Node id'], vrows),
        el('p', { class: 'muted' }, 'validators hash ', el('span', { class: 'mono' }, short(vals.validators_hash || '', 12)))),
      panel('Transactions per second', null, el('div', { class: 'tps' }, tpsNum, tpsSub), chartBox));
    root.appendChild(grid);

    const peerRows = (net.peers || []).map((p) => el('tr', null,
      el('td', { class: 'hash' }, short(p.node_id, 10)), td(p.address), td(p.inbound ? 'inbound' : 'outbound'), td(fmtTime(p.connected_since))));
    const tbody = el('tbody', { id: 'latest-blocks' }, list.slice(0, 20).map((b) => blockRow(b)));
    root.appendChild(el('div', { class: 'grid' },
      panel('Latest blocks', el('a', { href: '#/blocks' }, 'all blocks →'),
        el('table', { class: 'list' },
          el('thead', null, el('tr', null, el('th', null, 'Height'), el('th', null, 'Time'), el('th', { class: 'num' }, 'Txs'), el('th', null, 'Proposer'), el('th', null, 'Block id'))),
          tbody)),
      panel('Peers', fmtInt(net.n_peers) + ' connected · listen port ' + net.listen_port,
        peerRows.length ? table(['Node id', 'Address', 'Direction', 'Since'], peerRows) : el('p', { class: 'muted' }, 'No peers.'),
        el('h3', null, 'Mempool'),
        kvTable(status.mempool || {}, 0, { txs: 'mempool-txs-detail', bytes: 'mempool-bytes-detail' }))));

    ctx.render(root);

    // live updates
    let latest = status.latest_height;
    let statusBusy = false;
    function onBlock(b) {
      if (!ctx.current()) return;
      if (!b || typeof b.height !== 'number' || b.height <= latest) return;
      latest = b.height;
      heightEl.textContent = fmtInt(b.height);
      lastTime.textContent = fmtTime(b.time);
      tbody.insertBefore(blockRow(b, true), tbody.firstChild);
      while (tbody.children.length > 20) tbody.removeChild(tbody.lastChild);
      list.unshift(b);
      if (list.length > 100) list.pop();
      recompute();
      if (!statusBusy) {
        statusBusy = true;
        api('/v1/status').then((s) => {
          if (!ctx.current()) return;
          mpTxs.textContent = fmtInt(s.mempool && s.mempool.txs);
          mpBytes.textContent = fmtInt(s.mempool && s.mempool.bytes);
        }, () => {}).finally(() => { statusBusy = false; });
      }
    }
    if (!ctx.current()) return;  // left while the page loaded: no stream for a page not shown
    const es = new EventSource('/v1/stream?types=block');
    liveSource = es;
    let poll = null;
    ctx.onLeave(() => {
      es.close();
      if (liveSource === es) liveSource = null;
      if (poll) clearInterval(poll);
    });
    es.addEventListener('open', () => { liveBadge.textContent = 'live'; liveBadge.setAttribute('class', 'badge ok'); });
    es.addEventListener('error', () => {
      if (es.readyState !== EventSource.CLOSED) {
        liveBadge.textContent = 'reconnecting…';
        liveBadge.setAttribute('class', 'badge warn');
        return;
      }
      // Refused for good (every stream slot of the node taken: 503): poll the newest blocks
      // every 5 s instead, oldest first, so the page still moves.
      liveBadge.textContent = 'polling';
      liveBadge.setAttribute('class', 'badge warn');
      if (poll || !ctx.current()) return;
      poll = setInterval(() => {
        if (!ctx.current()) { clearInterval(poll); return; }
        api('/v1/blocks?limit=5').then((r) => {
          const bs = (r && Array.isArray(r.blocks)) ? r.blocks.slice().reverse() : [];
          for (const b of bs) onBlock(b);
        }, () => {});
      }, 5000);
    });
    es.addEventListener('block', (ev) => {
      let b;
      try { b = JSON.parse(ev.data); } catch (e) { return; }
      onBlock(b);
    });
  }

  // blocks: #/blocks, #/blocks/TOP (TOP and the 24 below it)
  async function pageBlocks(ctx, top) {
    const PAGE = 25;
    let blocks, latest;
    if (top == null) {
      const r = await api('/v1/blocks?limit=' + PAGE);
      blocks = r.blocks || [];
      latest = r.latest_height;
    } else {
      const t = parseInt(top, 10);
      if (!(t >= 1)) throw new ApiError('#/blocks/' + top, 400, null, 'not a height: ' + top);
      const from = Math.max(1, t - PAGE + 1);
      const r = await api('/v1/blocks?from=' + from + '&limit=' + (t - from + 1));
      blocks = (r.blocks || []).slice().sort((x, y) => y.height - x.height);
      latest = r.latest_height;
    }
    await loadValidators();
    const root = el('div');
    root.appendChild(title('Blocks', blocks.length ? fmtInt(blocks[0].height) + ' – ' + fmtInt(blocks[blocks.length - 1].height) : 'none'));
    const rows = blocks.map((b) => blockRow(b));
    const low = blocks.length ? blocks[blocks.length - 1].height : 1;
    const high = blocks.length ? blocks[0].height : latest;
    const pager = el('div', { class: 'pager' },
      high < latest ? el('a', { href: '#/blocks' }, '« newest') : null,
      high < latest ? el('a', { href: '#/blocks/' + Math.min(latest, high + PAGE) }, '‹ newer') : null,
      low > 1 ? el('a', { href: '#/blocks/' + (low - 1) }, 'older ›') : null,
      el('span', { class: 'muted' }, 'latest height ', el('span', { field: 'latest-height' }, fmtInt(latest))));
    root.appendChild(panel('Blocks', blocks.length + ' shown',
      el('table', { class: 'list' },
        el('thead', null, el('tr', null, el('th', null, 'Height'), el('th', null, 'Time'), el('th', { class: 'num' }, 'Txs'), el('th', null, 'Proposer'), el('th', null, 'Block id'))),
        el('tbody', { id: 'blocks-list' }, rows)),
      pager));
    ctx.render(root);
  }

  // a block: #/block/H
  async function pageBlock(ctx, h) {
    if (!/^\d+$/.test(h || '')) throw new ApiError('block', 400, null, 'not a block height: "' + h + '"');
    const b = await api('/v1/blocks/' + enc(h));
    const [commitR] = await apiAll(['/v1/blocks/' + enc(h) + '/commit']);
    await loadValidators();
    const hd = b.header || {};
    const root = el('div');
    root.appendChild(title('Block', fmtInt(hd.height), 'block-height'));
    root.appendChild(el('div', { class: 'pager' },
      hd.height > 1 ? el('a', { href: href.block(hd.height - 1) }, '‹ ' + fmtInt(hd.height - 1)) : null,
      el('a', { href: href.block(hd.height + 1) }, fmtInt(hd.height + 1) + ' ›')));
    const header = Object.assign({ block_id: b.block_id }, hd, { app_hash_after: b.app_hash_after });
    root.appendChild(panel('Header', null, kvTable(header, 0, {
      block_id: 'block-id', height: 'block-header-height', time: 'block-time', proposer_address: 'block-proposer', chain_id: 'block-chain-id', app_hash: 'block-app-hash',
    })));

    const txs = b.txs || [];
    const txRows = txs.map((t) => el('tr', { 'data-hash': t.hash },
      tdNum(String(t.index)),
      el('td', { class: 'hash' }, txLink(t.hash, 16)),
      td(t.private ? badge('private', 'warn') : (t.op && t.op.type) || ''),
      td(t.private ? nullSpan('private') : acct(t.signer)),
      el('td', { class: 'num', field: 'tx-code-' + t.index }, t.code == null ? nullSpan('private') : String(t.code)),
      td(t.code_name == null ? nullSpan() : statusBadge(t.code_name)),
      el('td', { class: 'wrap' }, t.log || '')));
    root.appendChild(panel('Transactions', el('span', null, el('span', { field: 'block-num-txs' }, String(txs.length)), ' txs'),
      privateNote(b, 'Transactions'),
      txs.length ? table(['#Index', 'Hash', 'Type', 'Signer', '#Code', 'Result', 'Log'], txRows) : el('p', { class: 'muted' }, 'No transactions in this block.')));

    if (commitR.ok) {
      const c = commitR.data;
      const sigRows = (c.signatures || []).map((s) => el('tr', null,
        td(validatorName(s.validator_address) || ''),
        td(a(short(s.validator_address, 10), href.account(s.validator_address), { title: s.validator_address, class: 'mono' })),
        td(Number.isFinite(s.timestamp_ms) ? fmtTime(new Date(s.timestamp_ms).toISOString()) : ''),
        el('td', { class: 'hash', title: s.signature }, short(s.signature, 16))));
      root.appendChild(panel('Commit', el('span', null, el('span', { field: 'commit-signatures' }, String((c.signatures || []).length)), ' precommit signatures · round ' + c.round),
        table(['Validator', 'Address', 'Timestamp', 'Signature'], sigRows)));
    } else {
      root.appendChild(panel('Commit', null, errorNotice(commitR.error, 'The commit')));
    }
    if (b.last_commit) {
      const lc = b.last_commit;
      root.appendChild(panel('Last commit', 'of block ' + lc.height + ' · ' + (lc.signatures || []).length + ' signatures',
        table(['Validator', 'Timestamp', 'Signature'], (lc.signatures || []).map((s) => el('tr', null,
          td(acct(s.validator_address)),
          td(Number.isFinite(s.timestamp_ms) ? fmtTime(new Date(s.timestamp_ms).toISOString()) : ''),
          el('td', { class: 'hash', title: s.signature }, short(s.signature, 16)))))));
    }
    if ((b.evidence || []).length) root.appendChild(panel('Evidence', null, objectTable(b.evidence)));
    ctx.render(root);
  }

  // a tx: #/tx/HASH
  async function pageTx(ctx, hash) {
    if (!isHash(hash || '')) throw new ApiError('tx', 400, null, 'not a tx hash (64 hex digits): "' + hash + '"');
    const t = await api('/v1/txs/' + enc(hash.toLowerCase()));
    const root = el('div');
    root.appendChild(title('Transaction', t.hash, 'tx-hash'));
    const verdictKind = t.code === 0 ? 'ok' : 'bad';
    const sumTable = el('table', { class: 'kv' }, el('tbody', null,
      el('tr', null, el('th', null, 'status'), el('td', { field: 'tx-status' }, statusBadge(t.status))),
      t.height != null ? el('tr', null, el('th', null, 'height'), el('td', { field: 'tx-height' }, blockLink(t.height))) : null,
      t.index != null ? el('tr', null, el('th', null, 'index'), el('td', { field: 'tx-index' }, String(t.index))) : null,
      t.code != null ? el('tr', null, el('th', null, 'verdict'), el('td', null,
        el('span', { field: 'tx-code' }, String(t.code)), ' ', badge(t.code_name || '', verdictKind), t.log ? [' ', el('span', { field: 'tx-log' }, t.log)] : null)) : null,
      t.signer ? el('tr', null, el('th', null, 'signer'), el('td', { field: 'tx-signer' }, acct(t.signer))) : null,
      t.nonce != null ? el('tr', null, el('th', null, 'nonce'), el('td', null, String(t.nonce))) : null,
      'fee' in t ? el('tr', null, el('th', null, 'fee'), el('td', { field: 'tx-fee' }, t.fee ? fmtAmount(t.fee) : nullSpan('none'))) : null,
      t.memo ? el('tr', null, el('th', null, 'memo'), el('td', null, t.memo)) : null,
      t.created_id != null ? el('tr', null, el('th', null, 'created id'), el('td', { field: 'tx-created-id' }, String(t.created_id))) : null));
    root.appendChild(panel('Summary', null, sumTable));
    if (t.private) {
      root.appendChild(el('div', { class: 'notice' },
        el('span', { class: 'title' }, 'The content of this tx is personal'),
        'Its signer, operation, verdict and log are its signer\'s to read (docs/API.md "Signed reads"). Read it signed with ',
        el('code', null, 'v2g get /v1/txs/' + t.hash + ' --as KEY'), '.'));
    }
    if (t.op) {
      root.appendChild(panel('Operation', el('span', { field: 'tx-op-type' }, t.op.type || ''),
        kvTable(Object.assign({ type: t.op.type }, t.op), 0, { type: 'tx-op-type-row', meter_id: 'tx-op-meter', zone: 'tx-op-zone' })));
    }
    if (Array.isArray(t.rejected_readings)) {
      root.appendChild(panel('Rejected readings', el('span', null, el('span', { field: 'rejected-readings-count' }, String(t.rejected_readings.length)), ' rejected'),
        table(['#Index', 'Code', 'Name', 'Message'], t.rejected_readings.map((r) => el('tr', null,
          tdNum(String(r.index)), td(String(r.code)), td(badge(r.code_name || '', 'bad')), el('td', { class: 'wrap' }, r.message || '')))),
        el('p', { class: 'muted' }, 'Index: the reading\'s position in the batch.')));
    }
    const known = ['hash', 'status', 'height', 'index', 'code', 'code_name', 'log', 'signer', 'nonce', 'fee', 'memo', 'op', 'tx', 'private', 'rejected_readings', 'created_id'];
    const extra = {};
    for (const k of Object.keys(t)) if (!known.includes(k)) extra[k] = t[k];
    if (Object.keys(extra).length) root.appendChild(panel('Result details', null, kvTable(extra)));
    if (t.tx) {
      root.appendChild(el('section', { class: 'panel' }, el('details', null,
        el('summary', null, el('strong', null, 'Encoded tx'), ' · ' + fmtInt(t.tx.length / 2) + ' bytes (hex)'),
        el('div', { class: 'hash' }, t.tx))));
    }
    ctx.render(root);
  }

  // an account: #/account/ADDR
  async function pageAccount(ctx, addr) {
    if (!/^v2g1/i.test(addr || '')) throw new ApiError('account', 400, null, 'not an account address (v2g1…): "' + addr + '"');
    await loadValidators();
    const A = enc(addr);
    const root = el('div');
    root.appendChild(title('Account', addr, 'account-address'));
    const vn = validatorName(addr);
    if (vn) root.appendChild(el('p', null, badge('validator ' + vn, 'info')));

    // The balances first: an invalid address is one 400, not seven.
    const accP = api('/v1/accounts/' + A);
    try {
      await accP;
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) throw e;
    }
    const balances = asyncPanel('Balances', null, accP, (acc) => [
      (acc.balances || []).length
        ? table(['Denomination', '#Balance', '#Minimal units'], acc.balances.map((b) => el('tr', null,
          td(b.denom), tdNum(b.display + ' ' + b.denom, 'balance-' + b.denom), tdNum(String(b.amount)))))
        : el('p', { class: 'muted', field: 'balances-empty' }, 'No balances.'),
      el('p', { class: 'muted' }, 'nonce ', el('span', { field: 'account-nonce' }, String(acc.nonce)), ' · next nonce ', String(acc.next_nonce))], 'The balances');

    const debts = asyncPanel('Debts', null, api('/v1/accounts/' + A + '/debts'), (d) => [
      el('p', null, 'In debt: ', el('span', { field: 'in-debt' }, d.in_debt ? 'yes' : 'no')),
      (d.debts || []).length ? table(['Creditor', '#Amount'], d.debts.map((x) => el('tr', null, td(acct(x.creditor)), tdNum(fmtAmount(x))))) : null], 'The debts');

    const statement = asyncPanel('Statement', null, api('/v1/accounts/' + A + '/statement'), (s) => {
      const tiers = s.tiers || {};
      const rows = Object.keys(tiers).map((k) => el('tr', null, td(k.replace(/_/g, ' ')), tdNum(fmtAmount(tiers[k]), 'statement-' + k)));
      rows.push(el('tr', null, td(el('strong', null, 'net')), tdNum(el('strong', null, fmtAmount(s.net)), 'statement-net')));
      if (s.points && s.points.amount && s.points.amount !== '0') rows.push(el('tr', null, td('points'), tdNum(fmtAmount(s.points))));
      return [
        el('p', { class: 'muted' }, fmtTime(s.from), ' – ', fmtTime(s.to), ' · settled before ', fmtTime(s.settled_before)),
        table(['Tier', '#Amount'], rows),
        (s.vehicles || []).length ? [el('h3', null, 'Vehicles'), table(['Meter', 'Zone', '#Import', '#Export', '#Intervals', '#Capacity'], s.vehicles.map((v) => el('tr', null,
          td(meterLink(v.meter_id)), td(zoneLink(v.zone)), tdNum(fmtWh(v.import_wh)), tdNum(fmtWh(v.export_wh)), tdNum(fmtInt(v.intervals)), tdNum(fmtWh(v.battery_capacity_wh)))))] : null];
    }, 'The statement');

    const meters = asyncPanel('Meters owned', null, api('/v1/meters?owner=' + A + '&limit=100'), (m) => [
      privateNote(m, 'Meters'),
      (m.meters || []).length ? table(['Meter', 'Kind', 'Zone', 'Active', '#Registered'], m.meters.map((x) => el('tr', null,
        td(meterLink(x.meter_id)), td(x.kind), td(zoneLink(x.zone)), td(x.active ? 'yes' : 'no'), tdNum(blockLink(x.registered_height)))))
        : el('p', { class: 'muted' }, 'No meters.'),
      m.next_after ? el('p', { class: 'muted' }, 'More meters follow (first 100 shown).') : null], 'The meters');

    const orders = asyncPanel('Orders and contracts', null, api('/v1/accounts/' + A + '/orders?limit=50'), (o) => (o.orders || []).length
      ? table(['Kind', '#Id', 'Side', 'Market', '#Energy', 'Price', 'Status', '#Filled / delivered'], o.orders.map((x) => el('tr', null,
        td(x.kind), tdNum(String(x.id)), td(x.side || (x.buyer === addr ? 'buy' : 'sell')),
        td(a(x.zone + ' ' + fmtTime(x.interval_start), href.market(x.zone, x.interval_start_s))),
        tdNum(fmtWh(x.energy_wh)), td(fmtAmount(x.limit_price || x.price)), td(statusBadge(x.status)),
        tdNum(fmtWh(x.kind === 'order' ? x.filled_wh : x.delivered_wh)))))
      : el('p', { class: 'muted' }, 'No orders or contracts.'), 'The orders');

    const trades = asyncPanel('Trades', null, api('/v1/trades?account=' + A + '&limit=50'), (r) => tradesTable(r.trades || [], addr), 'The trades');
    const settl = asyncPanel('Settlements', null, api('/v1/settlements?account=' + A + '&limit=50'), (r) => [
      r.totals ? kvTable(r.totals, 0) : null,
      (r.trades || []).length ? [el('h3', null, 'Settled trades'), tradesTable(r.trades, addr)] : null,
      (r.contracts || []).length ? [el('h3', null, 'Settled contracts'), objectTable(r.contracts)] : null,
      !(r.trades || []).length && !(r.contracts || []).length ? el('p', { class: 'muted' }, 'Nothing settled.') : null], 'The settlements');

    root.appendChild(el('div', { class: 'grid' }, balances.node, debts.node));
    root.appendChild(el('div', { class: 'grid' }, statement.node, meters.node));
    root.appendChild(orders.node);
    root.appendChild(trades.node);
    root.appendChild(settl.node);
    ctx.render(root);
    await Promise.all([balances.done, debts.done, statement.done, meters.done, orders.done, trades.done, settl.done]);
  }

  function tradesTable(trades, me) {
    if (!trades.length) return el('p', { class: 'muted' }, 'No trades.');
    return table(['Market', '#Index', 'Buyer', 'Seller', 'Meter', '#Energy', 'Price', '#Delivered', 'Seller paid', 'Settled'], trades.map((t) => el('tr', null,
      td(a(t.zone + ' ' + fmtTime(t.interval_start), href.market(t.zone, t.interval_start_s))),
      tdNum(String(t.index)),
      td(t.buyer ? (t.buyer === me ? el('strong', null, 'this account') : acct(t.buyer)) : nullSpan('private')),
      td(t.seller ? (t.seller === me ? el('strong', null, 'this account') : acct(t.seller)) : nullSpan('private')),
      td(t.meter_id ? meterLink(t.meter_id) : t.pool_id != null ? a('pool ' + t.pool_id, href.pool(t.pool_id)) : nullSpan()),
      tdNum(fmtWh(t.energy_wh)), td(fmtAmount(t.price)), tdNum(fmtWh(t.delivered_wh)), td(fmtAmount(t.seller_paid)),
      td(t.settled ? badge('settled', 'ok') : badge('open', 'info')))));
  }

  // a meter: #/meter/ID
  async function pageMeter(ctx, id) {
    let m;
    try {
      m = await api('/v1/meters/' + enc(id));
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 400)) {
        const root = el('div');
        root.appendChild(title('Not found', id, 'searched'));
        root.appendChild(el('div', { class: 'notice error', role: 'alert', field: 'not-found' },
          el('span', { class: 'title' }, 'Nothing found for "' + id + '"'),
          'It is not a block height, a tx hash (64 hex digits) or an account (v2g1…), and as a meter id the node answered: ', e.message));
        ctx.render(root);
        ctx.fail();
        return;
      }
      throw e;
    }
    const root = el('div');
    root.appendChild(title(m.kind === 'vehicle' ? 'Vehicle meter' : m.kind === 'charger' ? 'Charger meter' : 'Meter', m.meter_id, 'meter-id'));
    root.appendChild(el('p', null, badge(m.kind, 'info'), ' ', m.active ? badge('active', 'ok') : badge('deactivated', 'bad'), ' ', badge(m.key_type || '', ''),
      ' zone ', zoneLink(m.zone), ' · owner ', acct(m.owner)));
    add(root, privateNote(m, 'Its readings, counts and battery'));
    const skip = ['battery', 'ocmf', 'last_reading', 'private', 'readers'];
    const regPanel = panel('Registry entry', null, kvTable(m, 0, {
      kind: 'meter-kind', zone: 'meter-zone', owner: 'meter-owner', readings_accepted: 'meter-readings-accepted', battery_capacity_wh: 'meter-capacity',
    }, skip));
    const side = el('div');
    if (m.last_reading) side.appendChild(panel('Last reading', null, kvTable(m.last_reading)));
    if (m.battery) side.appendChild(panel('Battery', null, kvTable(m.battery)));
    if (m.ocmf) side.appendChild(panel('OCMF', null, kvTable(m.ocmf)));
    root.appendChild(el('div', { class: 'grid' }, regPanel, side.childNodes.length ? side : null));

    const readings = asyncPanel('Attested energy per interval', null, api('/v1/meters/' + enc(id) + '/readings?limit=500'), (r) => {
      const iv = r.intervals || [];
      let imp = 0, exp = 0;
      for (const x of iv) { imp += x.import_wh || 0; exp += x.export_wh || 0; }
      return [
        r.readable ? el('p', { class: 'muted' }, 'Served spans: ', r.readable.map((s, i) => [i ? ', ' : '', fmtTime(s.from) + ' – ' + (s.to ? fmtTime(s.to) : 'now')])) : null,
        el('div', { class: 'stats' },
          stat('Intervals', fmtInt(iv.length), 'readings-intervals'),
          stat('Import total', fmtWh(imp), 'readings-import-total'),
          stat('Export total', fmtWh(exp), 'readings-export-total'),
          stat('Interval length', fmtInt(r.settlement_interval_s) + ' s')),
        iv.length ? [legend([['import', 'import (Wh)'], ['export', 'export (Wh)']]),
          barChart(iv.map((x) => (iv[iv.length - 1].interval_start_s - iv[0].interval_start_s > 86400 ? ymdhm : hhmm)(x.interval_start_s)), [
            { cls: 'import', name: 'import', values: iv.map((x) => x.import_wh || 0) },
            { cls: 'export', name: 'export', values: iv.map((x) => x.export_wh || 0) }], { label: 'attested import and export per interval', unit: 'Wh' }),
          table(['Interval', '#Import', '#Export', '#Readings', '#Corroborated import', '#Corroborated export'], iv.slice().reverse().map((x) => el('tr', null,
            td(fmtTime(x.interval_start)), tdNum(fmtWh(x.import_wh)), tdNum(fmtWh(x.export_wh)), tdNum(fmtInt(x.readings)),
            tdNum(fmtWh(x.corroborated_import_wh)), tdNum(fmtWh(x.corroborated_export_wh)))))]
          : el('p', { class: 'muted' }, 'No attested intervals.'),
        r.next_from != null ? el('p', { class: 'muted' }, 'The first 500 intervals are shown.') : null];
    }, 'The readings');
    root.appendChild(readings.node);
    const waits = [readings.done];

    if (m.kind === 'vehicle') {
      const bat = asyncPanel('Battery state of health', null, api('/v1/meters/' + enc(id) + '/battery'), (b) => {
        const hist = b.history || [];
        return [
          el('div', { class: 'stats' },
            stat('State of health', fmtPermille(b.soh_permille), 'battery-soh'),
            stat('State of charge', fmtPermille(b.soc_permille), 'battery-soc'),
            stat('Equivalent cycles', b.cycles_milli == null ? '—' : (b.cycles_milli / 1000).toFixed(3), 'battery-cycles'),
            stat('Capacity', fmtWh(b.capacity_wh), 'battery-capacity'),
            stat('Export throughput', fmtWh(b.export_wh), 'battery-export')),
          hist.length ? [legend([['soh', 'state of health (%)'], ['line', 'state of charge (%)']]),
            lineChart([
              { cls: 'soh', points: hist.filter((x) => x.soh_permille != null).map((x) => ({ x: x.day, y: x.soh_permille / 10, label: x.date, ylabel: fmtPermille(x.soh_permille) })) },
              { cls: '', points: hist.filter((x) => x.soc_permille != null).map((x) => ({ x: x.day, y: x.soc_permille / 10, label: x.date, ylabel: fmtPermille(x.soc_permille) })) }],
            { label: 'battery state of health per day', ymin: 0, ymax: 100, unit: '%', xfmt: (d) => { const h = hist.find((x) => x.day === Math.round(d)); return h ? h.date : ''; } }),
            table(['Date', '#SoH', '#SoC', '#Export', '#Cycles'], hist.slice().reverse().map((x) => el('tr', null,
              td(x.date), tdNum(fmtPermille(x.soh_permille)), tdNum(fmtPermille(x.soc_permille)), tdNum(fmtWh(x.export_wh)),
              tdNum(x.cycles_milli == null ? '—' : (x.cycles_milli / 1000).toFixed(3)))))]
            : el('p', { class: 'muted' }, 'No history yet.'),
          el('p', { class: 'muted' }, el('span', { field: 'battery-history-count' }, String(hist.length)), ' daily samples (the first of each day).')];
      }, 'The battery');
      root.appendChild(bat.node);
      waits.push(bat.done);
    }
    ctx.render(root);
    await Promise.all(waits);
  }

  // markets: #/markets
  async function pageMarkets(ctx) {
    // The API lists markets oldest first: ask from a day ago, so a long chain shows its newest.
    const since = Math.floor(Date.now() / 1000) - 86400;
    const [mk, zones] = await Promise.all([api('/v1/markets?from=' + since + '&limit=500'), api('/v1/zones')]);
    const list = (mk.markets || []).slice().sort((x, y) => y.interval_start_s - x.interval_start_s || (x.zone < y.zone ? -1 : 1));
    const root = el('div');
    root.appendChild(title('Markets', String(list.length), 'markets-count'));
    const p = mk.params || {};
    root.appendChild(el('p', { class: 'muted' }, p.enabled ? 'Uniform-price call auctions per zone and ' + p.interval_s + ' s delivery interval, in ' + p.denom + '; gate closes ' + p.gate_closure_s + ' s before delivery.' : 'The market is disabled on this chain.'));
    root.appendChild(panel('Markets of the last 24 hours', mk.next_from != null ? 'first 500' : null,
      list.length ? table(['Zone', 'Interval', 'Status', '#Buy', '#Sell', '#Contracts', 'Clearing price', '#Cleared', '#Trades', '#Delivered'], list.map((m) => el('tr', null,
        td(zoneLink(m.zone)), td(a(fmtTime(m.interval_start), href.market(m.zone, m.interval_start_s))), td(statusBadge(m.status)),
        tdNum(fmtInt(m.buy_orders)), tdNum(fmtInt(m.sell_orders)), tdNum(fmtInt(m.contracts)), td(m.status === 'cleared' || m.status === 'settled' ? fmtAmount(m.clearing_price) : nullSpan()),
        tdNum(fmtWh(m.cleared_energy_wh)), tdNum(fmtInt(m.trades)), tdNum(fmtWh(m.delivered_energy_wh))))) : el('p', { class: 'muted' }, 'No markets yet.')));
    root.appendChild(panel('Zones', (zones.zones || []).length + ' zones',
      table(['Zone', 'Grid company'], (zones.zones || []).map((z) => el('tr', null, td(zoneLink(z.name)), td(acct(z.grid_company)))))));
    ctx.render(root);
  }

  // Supply and demand as step curves: x cumulative energy, y price.
  function depthChart(depth, market) {
    const bids = depth.bids || [], asks = depth.asks || [];
    const price = (lv) => Number(lv.price && lv.price.amount);
    const all = bids.concat(asks);
    if (!all.length) return el('p', { class: 'muted' }, 'No orders in the book.');
    const W = 760, H = 300, L = 64, R = 16, T = 16, B = 40;
    const svg = chartFrame(W, H, 'supply and demand curves');
    const xmax = niceMax(Math.max(...all.map((l) => l.cumulative_wh || 0), market.cleared_energy_wh || 0));
    const cp = market.clearing_price ? Number(market.clearing_price.amount) : 0;
    const pmax = niceMax(Math.max(...all.map(price), cp) * 1.1);
    const decimals = (market.params && market.params.decimals) || 0;
    const scale = Math.pow(10, decimals);
    yAxis(svg, L, W - R, H - B, T, 0, pmax, (v) => (v / scale).toFixed(decimals));
    const px = (x) => L + (W - L - R) * x / xmax;
    const py = (y) => H - B - (H - B - T) * y / pmax;
    for (let i = 0; i <= 4; i++) {
      const x = xmax * i / 4;
      svg.appendChild(svgEl('text', { x: px(x).toFixed(1), y: H - B + 16, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' }, axisLabel(x)));
    }
    svg.appendChild(svgEl('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
    svg.appendChild(svgEl('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, 'cumulative energy (Wh)'));
    svg.appendChild(svgEl('text', { x: 4, y: T - 4 }, 'price / kWh'));
    function steps(levels, cls) {
      if (!levels.length) return;
      let d = '', prev = 0;
      levels.forEach((lv, i) => {
        const y = py(price(lv)).toFixed(1);
        d += (i ? ' L' : 'M') + px(prev).toFixed(1) + ' ' + y + ' L' + px(lv.cumulative_wh).toFixed(1) + ' ' + y;
        prev = lv.cumulative_wh;
      });
      svg.appendChild(svgEl('path', { class: cls, d }, svgEl('title', null, cls === 'bids' ? 'demand (bids)' : 'supply (asks)')));
    }
    steps(bids, 'bids');
    steps(asks, 'asks');
    if (market.status === 'cleared' || market.status === 'settled') {
      const y = py(cp), x = px(market.cleared_energy_wh || 0);
      svg.appendChild(svgEl('line', { class: 'clearing', x1: L, x2: W - R, y1: y.toFixed(1), y2: y.toFixed(1) }));
      svg.appendChild(svgEl('line', { class: 'clearing', x1: x.toFixed(1), x2: x.toFixed(1), y1: T, y2: H - B }));
      svg.appendChild(svgEl('circle', { class: 'clear-dot', cx: x.toFixed(1), cy: y.toFixed(1), r: 5 }));
      svg.appendChild(svgEl('text', { class: 'clear-label', x: Math.min(x + 8, W - 200).toFixed(1), y: Math.max(y - 8, T + 10).toFixed(1) },
        'clearing ' + fmtAmount(market.clearing_price) + ' · ' + fmtInt(market.cleared_energy_wh) + ' Wh'));
    }
    return svg;
  }

  function levelsTable(levels) {
    if (!levels.length) return el('p', { class: 'muted' }, 'none');
    const filled = levels.some((l) => 'filled_wh' in l);
    return table(['Price', '#Energy', '#Orders', '#Cumulative'].concat(filled ? ['#Filled'] : []), levels.map((l) => el('tr', null,
      td(fmtAmount(l.price)), tdNum(fmtWh(l.energy_wh)), tdNum(fmtInt(l.orders)), tdNum(fmtWh(l.cumulative_wh)), filled ? tdNum(fmtWh(l.filled_wh)) : null)));
  }

  // a market: #/market/ZONE/INTERVAL_S
  async function pageMarket(ctx, zone, interval) {
    if (!zone || !/^\d+$/.test(interval || '')) throw new ApiError('market', 400, null, 'a market is #/market/ZONE/INTERVAL_START_S');
    const m = await api('/v1/markets/' + enc(zone) + '/' + enc(interval) + '?limit=500');
    const root = el('div');
    root.appendChild(title('Market', m.zone + ' · ' + fmtTime(m.interval_start), 'market-title'));
    root.appendChild(el('p', null, statusBadge(m.status), ' zone ', zoneLink(m.zone), ' · delivery ', hhmmss(m.interval_start_s), '–', hhmmss(m.interval_end_s), ' UTC'));
    root.appendChild(el('div', { class: 'stats' },
      stat('Status', m.status, 'market-status'),
      stat('Clearing price', fmtAmount(m.clearing_price), 'market-clearing-price', 'per kWh'),
      stat('Cleared energy', fmtWh(m.cleared_energy_wh), 'market-cleared-energy'),
      stat('Trades', fmtInt(m.trades), 'market-trades'),
      stat('Delivered', fmtWh(m.delivered_energy_wh), 'market-delivered'),
      stat('Orders', fmtInt(m.buy_orders) + ' buy / ' + fmtInt(m.sell_orders) + ' sell', 'market-orders', null, true)));
    const depth = m.depth || { bids: [], asks: [] };
    root.appendChild(panel('Supply and demand', depth.orders === 'auction' ? 'every order that went into the auction' : 'open orders',
      legend([['bids', 'demand (bids)'], ['asks', 'supply (asks)'], ['clearing', 'clearing price and volume']]),
      depthChart(depth, m)));
    root.appendChild(el('div', { class: 'grid' },
      panel('Bids', fmtInt(depth.bid_levels) + ' levels · ' + fmtWh(depth.bid_energy_wh), levelsTable(depth.bids || [])),
      panel('Asks', fmtInt(depth.ask_levels) + ' levels · ' + fmtWh(depth.ask_energy_wh), levelsTable(depth.asks || []))));
    const detail = Object.assign({}, m);
    delete detail.depth; delete detail.params;
    const tr = asyncPanel('Trades', null, api('/v1/trades?zone=' + enc(m.zone) + '&interval=' + enc(m.interval_start_s) + '&limit=100'), (r) => [privateNote(r, 'Trades'), tradesTable(r.trades || [])], 'The trades');
    root.appendChild(el('div', { class: 'grid' }, panel('Market record', null, kvTable(detail)), tr.node));
    ctx.render(root);
    await tr.done;
  }

  // a zone's price history: #/zone/ZONE
  async function pageZone(ctx, zone) {
    // The last 7 days of the zone's markets (the API lists oldest first from `from`).
    const since = Math.floor(Date.now() / 1000) - 7 * 86400;
    const mk = await api('/v1/markets?zone=' + enc(zone) + '&from=' + since + '&limit=500');
    const list = mk.markets || [];
    const cleared = list.filter((m) => m.status === 'cleared' || m.status === 'settled');
    const root = el('div');
    root.appendChild(title('Zone', zone, 'zone-name'));
    const dec = (mk.params && mk.params.decimals) || 0;
    const scale = Math.pow(10, dec);
    root.appendChild(el('div', { class: 'stats' },
      stat('Markets', fmtInt(list.length), 'zone-market-count'),
      stat('Cleared', fmtInt(cleared.length), 'zone-cleared-count'),
      stat('Last clearing price', cleared.length ? fmtAmount(cleared[cleared.length - 1].clearing_price) : '—', 'zone-last-price', 'per kWh')));
    const withPrice = cleared.filter((m) => m.clearing_price && m.clearing_price.amount !== '0');
    root.appendChild(panel('Clearing price per interval', (mk.params && mk.params.denom ? mk.params.denom + ' per kWh' : ''),
      withPrice.length ? lineChart([{ points: withPrice.map((m) => ({ x: m.interval_start_s, y: Number(m.clearing_price.amount), label: fmtTime(m.interval_start), ylabel: fmtAmount(m.clearing_price) })) }],
        { label: 'clearing price per interval', yfmt: (v) => (v / scale).toFixed(dec), xfmt: (s) => ymdhm(Math.round(s)), unit: mk.params && mk.params.denom }) : el('p', { class: 'muted' }, 'No market of this zone has cleared at a price yet.')));
    root.appendChild(panel('Markets of the last 24 hours', mk.next_from != null ? 'first 500' : null,
      list.length ? table(['Interval', 'Status', 'Clearing price', '#Cleared', '#Trades', '#Delivered'], list.slice().reverse().map((m) => el('tr', null,
        td(a(fmtTime(m.interval_start), href.market(m.zone, m.interval_start_s))), td(statusBadge(m.status)), td(m.status === 'cleared' || m.status === 'settled' ? fmtAmount(m.clearing_price) : nullSpan()),
        tdNum(fmtWh(m.cleared_energy_wh)), tdNum(fmtInt(m.trades)), tdNum(fmtWh(m.delivered_energy_wh))))) : el('p', { class: 'muted' }, 'No markets in this zone.')));
    ctx.render(root);
  }

  // A total that may be withheld ("Totals over few owners").
  function maybeAmount(v, rec) {
    if (v == null && rec && rec.private) return el('span', { class: 'null', title: rec.private_reason || '' }, 'private');
    return fmtAmount(v);
  }

  // events: #/events, #/event/ID
  async function pageEvents(ctx) {
    const r = await api('/v1/events?limit=100');
    const list = r.events || [];
    const root = el('div');
    root.appendChild(title('Demand-response events', String(list.length), 'events-count'));
    add(root, privateNote(r, 'Some totals'));
    root.appendChild(panel('Events', r.next_before != null ? 'newest 100' : null, list.length ? table(['#Id', 'Kind', 'Zone', 'Start', 'End', 'Status', '#Target', 'Price', 'Budget', '#Enrolled', '#Performance', 'Paid'], list.map((e) => el('tr', null,
      tdNum(a(String(e.id), href.event(e.id))), td(e.kind), td(zoneLink(e.zone)), td(fmtTime(e.start)), td(fmtTime(e.end)), td(statusBadge(e.status)),
      tdNum(fmtInt(e.target_power_w) + ' W'), td(fmtAmount(e.price)), td(fmtAmount(e.budget)), tdNum(fmtInt(e.enrollment_count)),
      tdNum(e.performance_wh == null ? maybeAmount(null, e) : fmtWh(e.performance_wh)), td(maybeAmount(e.paid, e))))) : el('p', { class: 'muted' }, 'No events.')));
    ctx.render(root);
  }

  async function pageEvent(ctx, id) {
    const e = await api('/v1/events/' + enc(id));
    const root = el('div');
    root.appendChild(title('Event', String(e.id), 'event-id'));
    root.appendChild(el('p', null, statusBadge(e.status), ' ', badge(e.kind, 'info'), ' zone ', zoneLink(e.zone), ' · grid company ', acct(e.grid_company)));
    root.appendChild(el('div', { class: 'stats' },
      stat('Enrollments', fmtInt(e.enrollment_count), 'event-enrollment-count'),
      stat('Target power', fmtInt(e.target_power_w) + ' W', 'event-target'),
      stat('Price', fmtAmount(e.price), 'event-price', 'per kWh of performance'),
      stat('Budget', fmtAmount(e.budget), 'event-budget'),
      stat('Performance', e.performance_wh == null ? maybeAmount(null, e) : fmtWh(e.performance_wh), 'event-performance'),
      stat('Paid', maybeAmount(e.paid, e), 'event-paid')));
    add(root, privateNote(e, 'Its totals'));
    const enr = e.enrollments || [];
    const rows = [];
    for (const x of enr) {
      rows.push(el('tr', null,
        td(x.pool_id != null ? a('pool ' + x.pool_id, href.pool(x.pool_id)) : meterLink(x.meter_id)),
        td(acct(x.owner)), tdNum(fmtInt(x.committed_power_w) + ' W'), tdNum(fmtWh(x.declared_baseline_wh)), tdNum(fmtWh(x.performance_wh)),
        td(fmtAmount(x.payout)), td(x.fee ? fmtAmount(x.fee) : '')));
      for (const mm of x.members || []) {
        rows.push(el('tr', { class: 'member' },
          td(['↳ ', meterLink(mm.meter_id)]), td(acct(mm.owner)), tdNum(''), tdNum(''), tdNum(fmtWh(mm.performance_wh)), td(fmtAmount(mm.payout)), td('')));
      }
    }
    root.appendChild(panel('Enrollments', el('span', null, el('span', { field: 'event-enrollments-shown' }, String(enr.length)), ' shown' + (e.hidden_rows ? ', ' + e.hidden_rows + ' hidden' : '')),
      enr.length ? table(['Meter / pool', 'Owner', '#Committed', '#Declared baseline', '#Performance', 'Payout', 'Pool fee'], rows) : el('p', { class: 'muted' }, 'No enrollments shown.')));
    const rec = Object.assign({}, e);
    delete rec.enrollments;
    root.appendChild(panel('Event record', null, kvTable(rec)));
    ctx.render(root);
  }

  // pools: #/pools, #/pool/ID
  async function pagePools(ctx) {
    const r = await api('/v1/pools?limit=100');
    const list = r.pools || [];
    const root = el('div');
    root.appendChild(title('Aggregator pools', String(list.length), 'pools-count'));
    add(root, privateNote(r, 'Some totals'));
    root.appendChild(panel('Pools', r.next_before != null ? 'newest 100' : null, list.length ? table(['#Id', 'Name', 'Aggregator', '#Fee', '#Members', 'Obligations until', 'Fees earned', 'Members earned'], list.map((p) => el('tr', null,
      tdNum(a(String(p.id), href.pool(p.id))), td(a(p.name || '(unnamed)', href.pool(p.id))), td(acct(p.aggregator)), tdNum((p.fee_bps / 100).toFixed(2) + ' %'),
      tdNum(fmtInt(p.member_count)), td(p.obligations_until ? fmtTime(p.obligations_until) : nullSpan('none')), td(maybeAmount(p.fees_earned, p)), td(maybeAmount(p.members_earned, p))))) : el('p', { class: 'muted' }, 'No pools.')));
    ctx.render(root);
  }

  async function pagePool(ctx, id) {
    const p = await api('/v1/pools/' + enc(id));
    const root = el('div');
    root.appendChild(title('Pool', p.name || String(p.id), 'pool-name'));
    root.appendChild(el('p', null, 'pool ', el('span', { field: 'pool-id' }, String(p.id)), ' · aggregator ', acct(p.aggregator)));
    root.appendChild(el('div', { class: 'stats' },
      stat('Members', fmtInt(p.member_count), 'pool-member-count'),
      stat('Fee', (p.fee_bps / 100).toFixed(2) + ' %', 'pool-fee'),
      stat('Fees earned', maybeAmount(p.fees_earned, p), 'pool-fees-earned'),
      stat('Members earned', maybeAmount(p.members_earned, p), 'pool-members-earned'),
      stat('Obligations until', p.obligations_until ? fmtTime(p.obligations_until) : '—', 'pool-obligations', null, true)));
    add(root, privateNote(p, 'Its totals'));
    const members = p.members || [];
    // each member's share of what the members earned (amounts as integers: BigInt, no floats)
    let totalEarned = 0n;
    for (const mm of members) { try { totalEarned += BigInt(mm.earned && mm.earned.amount || 0); } catch (e) { /* not an integer */ } }
    const share = (mm) => {
      try {
        if (totalEarned === 0n) return '—';
        const bp = BigInt(mm.earned.amount) * 10000n / totalEarned;
        return (Number(bp) / 100).toFixed(2) + ' %';
      } catch (e) { return '—'; }
    };
    root.appendChild(panel('Members', el('span', null, el('span', { field: 'pool-members-shown' }, String(members.length)), ' shown' + (p.hidden_rows ? ', ' + p.hidden_rows + ' hidden' : '')),
      members.length ? table(['Meter', 'Owner', 'Counts from', 'Leaving', 'Earned', '#Share', '#Delivered'], members.map((mm) => el('tr', null,
        td(meterLink(mm.meter_id)), td(acct(mm.owner)), td(fmtTime(mm.from)), td(mm.leaving ? 'after ' + fmtTime(mm.leave_after) : 'no'),
        td(fmtAmount(mm.earned)), tdNum(share(mm)), tdNum(fmtWh(mm.delivered_wh))))) : el('p', { class: 'muted' }, 'No members shown.')));
    const rec = Object.assign({}, p);
    delete rec.members;
    root.appendChild(panel('Pool record', null, kvTable(rec)));
    ctx.render(root);
  }

  // programs: #/programs, #/program/ID
  async function pagePrograms(ctx) {
    const r = await api('/v1/programs?limit=100');
    const list = r.programs || [];
    const root = el('div');
    root.appendChild(title('Incentive programs', String(list.length), 'programs-count'));
    add(root, privateNote(r, 'Some totals'));
    root.appendChild(panel('Programs', r.next_before != null ? 'newest 100' : null, list.length ? table(['#Id', 'Kind', 'Sponsor', 'Zone', 'Rate', 'Hours (UTC)', 'Status', '#Members', 'Budget', 'Remaining', 'Paid', 'End'], list.map((p) => el('tr', null,
      tdNum(a(String(p.id), href.program(p.id))), td(p.kind), td(acct(p.sponsor)), td(zoneLink(p.zone)), el('td', { class: 'wrap' }, p.rate + ' ' + String(p.rate_unit || '').replace(/_/g, ' ')),
      el('td', { class: 'wrap' }, (p.hours || []).length ? p.hours.join(',') : 'every hour'), td(statusBadge(p.status)), tdNum(fmtInt(p.member_count)),
      td(fmtAmount(p.budget)), td(maybeAmount(p.remaining, p)), td(maybeAmount(p.paid, p)), td(fmtTime(p.end))))) : el('p', { class: 'muted' }, 'No programs.')));
    ctx.render(root);
  }

  async function pageProgram(ctx, id) {
    const p = await api('/v1/programs/' + enc(id));
    const root = el('div');
    root.appendChild(title('Program', String(p.id), 'program-id'));
    root.appendChild(el('p', null, statusBadge(p.status), ' ', badge(p.kind, 'info'), ' zone ', zoneLink(p.zone), ' · sponsor ', acct(p.sponsor)));
    root.appendChild(el('div', { class: 'stats' },
      stat('Members', fmtInt(p.member_count), 'program-member-count'),
      stat('Rate', String(p.rate), 'program-rate', String(p.rate_unit || '').replace(/_/g, ' ')),
      stat('Budget', fmtAmount(p.budget), 'program-budget'),
      stat('Remaining', maybeAmount(p.remaining, p), 'program-remaining'),
      stat('Paid', maybeAmount(p.paid, p), 'program-paid'),
      stat('Hours (UTC)', (p.hours || []).length ? p.hours.join(', ') : 'every hour', null, null, true)));
    add(root, privateNote(p, 'Its totals'));
    const members = p.members || [];
    root.appendChild(panel('Members', el('span', null, el('span', { field: 'program-members-shown' }, String(members.length)), ' shown' + (p.hidden_rows ? ', ' + p.hidden_rows + ' hidden' : '')),
      members.length ? table(['Meter', 'Owner', 'Paid'], members.map((mm) => el('tr', null, td(meterLink(mm.meter_id)), td(acct(mm.owner)), td(fmtAmount(mm.paid))))) : el('p', { class: 'muted' }, 'No members shown.')));
    const rec = Object.assign({}, p);
    delete rec.members;
    root.appendChild(panel('Program record', null, kvTable(rec)));
    ctx.render(root);
  }

  // ---------------------------------------------------------------- router

  function searchTarget(q) {
    q = String(q || '').trim();
    if (!q) return null;
    if (/^\d+$/.test(q)) return href.block(String(parseInt(q, 10)));
    if (/^(0x)?[0-9a-fA-F]{64}$/.test(q)) return href.tx(q.replace(/^0x/, '').toLowerCase());
    if (/^v2g1/i.test(q)) return href.account(q.toLowerCase());
    return href.meter(q);
  }

  const routes = [
    [/^$/, pageNetwork],
    [/^blocks$/, pageBlocks],
    [/^blocks\/([^/]+)$/, pageBlocks],
    [/^block\/([^/]+)$/, pageBlock],
    [/^tx\/([^/]+)$/, pageTx],
    [/^account\/([^/]+)$/, pageAccount],
    [/^meter\/([^/]+)$/, pageMeter],
    [/^markets$/, pageMarkets],
    [/^market\/([^/]+)\/([^/]+)$/, pageMarket],
    [/^zone\/([^/]+)$/, pageZone],
    [/^events$/, pageEvents],
    [/^event\/([^/]+)$/, pageEvent],
    [/^pools$/, pagePools],
    [/^pool\/([^/]+)$/, pagePool],
    [/^programs$/, pagePrograms],
    [/^program\/([^/]+)$/, pageProgram],
  ];

  let seq = 0;
  let leaveHooks = [];

  function setState(s) { document.body.dataset.state = s; }

  function markNav(path) {
    const first = path.split('/')[0];
    const section = { '': '', blocks: 'blocks', block: 'blocks', tx: 'blocks', markets: 'markets', market: 'markets', zone: 'markets',
      events: 'events', event: 'events', pools: 'pools', pool: 'pools', programs: 'programs', program: 'programs' }[first];
    for (const link of document.querySelectorAll('#nav a')) {
      const target = link.getAttribute('href').replace(/^#\/?/, '');
      link.classList.toggle('active', section !== undefined && target === section);
    }
  }

  async function route() {
    const my = ++seq;
    for (const f of leaveHooks) { try { f(); } catch (e) { /* ignore */ } }
    leaveHooks = [];
    const raw = (location.hash || '').replace(/^#\/?/, '');
    const path = raw.replace(/\/+$/, '');
    const main = document.getElementById('main');
    setState('loading');
    markNav(path);
    let failed = false;
    const ctx = {
      current: () => my === seq,
      render: (node) => { if (my === seq) { clear(main); main.appendChild(node); } },
      onLeave: (f) => leaveHooks.push(f),
      fail: () => { failed = true; },
    };
    let handler = null, args = [];
    for (const [re, fn] of routes) {
      const m = re.exec(path);
      if (m) {
        handler = fn;
        try { args = m.slice(1).map((s) => decodeURIComponent(s)); } catch (e) { handler = null; }
        break;
      }
    }
    clear(main).appendChild(el('p', { class: 'loading' }, 'Loading…'));
    if (!handler) {
      ctx.render(el('div', null, el('h1', null, 'Page not found'),
        el('div', { class: 'notice error', field: 'not-found' }, 'There is no page "#/' + raw + '". ', el('a', { href: '#/' }, 'Go to the network page'), '.')));
      setState('error');
      return;
    }
    const label = path.split('/')[0] || 'network';
    document.title = 'v2gledger · ' + (label + (args.length ? ' ' + args.join(' ') : ''));
    try {
      await handler(ctx, ...args);
      if (my !== seq) return;
      setState(failed ? 'error' : 'ready');
    } catch (err) {
      if (my !== seq) return;
      const what = { block: 'block', tx: 'transaction', account: 'account', meter: 'meter', market: 'market', zone: 'zone', event: 'event', pool: 'pool', program: 'program' }[label];
      const box = el('div', null,
        el('h1', null, err instanceof ApiError && err.status === 404 ? 'Not found' : 'Could not load this page'),
        errorNotice(err, what && args.length ? what + ' "' + args.join('/') + '"' : null));
      if (err instanceof ApiError && err.status === 404) box.appendChild(el('p', { class: 'muted' }, 'Searched for: ', el('span', { field: 'searched' }, args.join('/'))));
      ctx.render(box);
      setState(err instanceof ApiError && err.status === 403 ? 'ready' : 'error');
    }
  }

  function init() {
    const form = document.getElementById('search');
    const input = document.getElementById('search-input');
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const target = searchTarget(input.value);
      if (!target) return;
      if (location.hash === target) route(); else location.hash = target;
      input.blur();
    });
    window.addEventListener('hashchange', route);
    route();
    // the chain's name in the footer, once
    api('/v1/status').then((s) => {
      const f = document.getElementById('foot-chain');
      if (f && !f.textContent) f.textContent = s.chain_id + ' · node ' + (s.moniker || '') + ' · v' + (s.version || '?');
    }, () => {});
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
