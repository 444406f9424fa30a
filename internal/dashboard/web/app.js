// corebridge InsightFlow dashboard. Plain script, no framework: it reads the
// bridge's JSON routes, listens to /api/events (server-sent events) and
// draws its charts as inline SVG. Nothing here writes to the console: a
// failure is shown on the page, next to what it affects.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const SVGNS = 'http://www.w3.org/2000/svg';
  const POLL_MS = 30000; // the prototype's interval, used when the stream is down
  const LIVE_REFRESH_MS = 5000; // modules, charts and automation while live
  const MAX_EVENTS = 200;
  const DL_PAGE = 100;

  const state = {
    summary: null, countsKey: '', skewMs: 0, lastSummaryAt: 0,
    window: '1h', series: null,
    modules: [], sort: { key: 'module', dir: 1 },
    events: [], paused: false, held: [], filter: '', lost: 0, fresh: 0,
    dl: [], dlNext: 0, dlMore: false, dlModule: '', dlSelected: new Set(), dlOpen: new Map(), drafts: new Map(),
    live: false, es: null, pollTimer: 0, liveTimer: 0, reconnectTimer: 0, reconnectDelay: 2000,
    refreshTimer: 0, refreshing: false, refreshAgain: false,
  };

  // ---- small helpers -------------------------------------------------------

  function el(tag, props, ...kids) {
    const e = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v == null || v === false) continue;
        if (k === 'text') e.textContent = v;
        else if (k === 'class') e.className = v;
        else if (k === 'data') Object.assign(e.dataset, v);
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? '' : v);
      }
    }
    for (const kid of kids) if (kid != null) e.append(kid);
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }

  const nf = new Intl.NumberFormat('en-US');
  const isNum = (v) => typeof v === 'number' && isFinite(v);
  const fmtInt = (n) => (isNum(n) ? nf.format(Math.round(n)) : '—');

  function fmtMs(ms) {
    if (!isNum(ms)) return '—';
    if (ms >= 10000) return fmtDur(ms / 1000);
    if (ms >= 100) return nf.format(Math.round(ms)) + ' ms';
    if (ms >= 10) return ms.toFixed(1) + ' ms';
    return ms.toFixed(2) + ' ms';
  }

  function fmtDur(s) {
    if (!isNum(s)) return '—';
    if (s < 10) return s.toFixed(1) + ' s';
    if (s < 60) return Math.round(s) + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + Math.round(s % 60) + ' s';
    const h = Math.floor(m / 60);
    if (h < 48) return h + ' h ' + (m % 60) + ' min';
    return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
  }

  function fmtPct(p) {
    if (!isNum(p)) return '—';
    return (p < 100 && p >= 99 ? p.toFixed(2) : p.toFixed(1)) + ' %';
  }

  const pad2 = (n) => String(n).padStart(2, '0');
  function fmtClock(iso, seconds) {
    const d = new Date(iso);
    if (isNaN(d)) return '—';
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + (seconds ? ':' + pad2(d.getSeconds()) : '');
  }

  function fmtAgo(iso) {
    if (!iso) return '—';
    const t = Date.parse(iso);
    if (isNaN(t)) return '—';
    const s = Math.max(0, (Date.now() + state.skewMs - t) / 1000);
    return s < 1 ? 'just now' : fmtDur(s).replace(/\.\d/, '') + ' ago';
  }

  // setOut shows text in an <output> and keeps the raw figure in data-value,
  // which scripts (and the browser tests) read.
  function setOut(id, raw, text) {
    const o = $(id);
    o.dataset.value = raw == null ? '' : String(raw);
    o.textContent = text;
  }

  function errText(err) {
    const b = err && err.body;
    if (b) {
      if (typeof b.detail === 'string') return b.detail;
      if (Array.isArray(b.detail) && b.detail.length) return b.detail.map((d) => d.msg).join('; ');
      if (b.error && b.error.message) return b.error.message;
    }
    return (err && err.message) || String(err);
  }

  async function api(path, opts) {
    const init = Object.assign({ headers: { Accept: 'application/json' }, cache: 'no-store' }, opts || {});
    if (init.json !== undefined) {
      init.body = JSON.stringify(init.json);
      init.headers = Object.assign({ 'Content-Type': 'application/json' }, init.headers);
      delete init.json;
    }
    const r = await fetch(path, init);
    if (r.status === 401 && path !== '/api/session') showSignin('Signed out: sign in again.');
    const text = await r.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
    if (!r.ok) {
      const e = new Error(r.status + ' ' + r.statusText);
      e.status = r.status;
      e.body = body;
      e.message = r.status + ': ' + errText(e);
      throw e;
    }
    return body;
  }

  function note(id, text, isErr) {
    const n = $(id);
    n.textContent = text || '';
    n.classList.toggle('err', !!isErr);
  }

  // ---- summary: header and KPI cards ---------------------------------------

  const STATUS_WORD = { ok: 'OK', degraded: 'Degraded', down: 'Down' };

  function renderSummary(s) {
    state.summary = s;
    state.lastSummaryAt = Date.now();
    if (s.now) {
      const t = Date.parse(s.now);
      if (!isNaN(t)) state.skewMs = t - Date.now();
    }
    const st = STATUS_WORD[s.status] ? s.status : 'unknown';
    const box = $('status');
    // Nothing is stuck, but dead letters wait for an operator: a warning,
    // not a green OK.
    const dead = isNum(s.dead_count) ? s.dead_count : 0;
    const warn = st === 'ok' && dead > 0;
    box.dataset.status = warn ? 'warn' : st;
    $('status-word').textContent = (STATUS_WORD[st] || String(s.status || 'Unknown')) +
      (warn ? ' · ' + dead + ' dead letter' + (dead === 1 ? '' : 's') : '');
    const reasons = Array.isArray(s.reasons) ? s.reasons : [];
    $('status-reasons').replaceChildren(...reasons.map((r) => el('li', { text: r })));
    box.title = reasons.join('\n');
    document.title = (STATUS_WORD[st] || '?') + ' · corebridge InsightFlow';

    if (s.version) { $('meta-version').textContent = s.version; $('foot-version').textContent = s.version; }
    $('meta-uptime').textContent = fmtDur(s.uptime_s);
    let store = s.store || '—';
    if (s.replicas) {
      // Replicas on one database: which one this page talks to, and which leads.
      const r = s.replicas;
      store += ' · ' + r.instance + (r.leading ? ' (leader)' : ' · leader: ' + (r.leader || 'none'));
    }
    $('meta-store').textContent = store;
    if (s.security) {
      const names = { auth_failures_24h: 'no or bad token', forbidden_24h: 'not allowed', cross_site_24h: 'cross-site',
        host_refused_24h: 'wrong host', rate_limited_24h: 'rate limited', signature_rejects_24h: 'bad signature', replay_rejects_24h: 'replayed' };
      let total = 0;
      const parts = [];
      for (const [k, label] of Object.entries(names)) {
        const n = isNum(s.security[k]) ? s.security[k] : 0;
        total += n;
        if (n) parts.push(label + ': ' + n);
      }
      const r = $('meta-refused');
      r.textContent = String(total);
      r.title = parts.join(', ') || 'nothing refused';
      const dl = $('sec-counts');
      dl.replaceChildren(...Object.entries(names).map(([k, label]) =>
        el('div', { 'data-key': k }, el('dt', { text: label }), el('dd', { text: String(isNum(s.security[k]) ? s.security[k] : 0) }))));
      const sig = s.security.last_valid_signature_ts || {};
      const mods = Object.keys(sig);
      $('sec-signed').textContent = mods.length
        ? 'Last validly signed request: ' + mods.map((m) => m + ' ' + sig[m]).join(', ')
        : 'No signed requests yet.';
    }
    if (s.auth) {
      const a = $('meta-auth');
      a.dataset.auth = s.auth;
      a.textContent = s.auth === 'tokens' ? 'tokens required' : 'no authentication (' + (s.auth === 'none' ? 'loopback only' : s.auth) + ')';
    }
    $('meta-bucket-url').textContent = s.bucket_url || '—';
    const reach = $('meta-bucket-reach');
    if (typeof s.bucket_reachable === 'boolean') {
      reach.dataset.ok = String(s.bucket_reachable);
      reach.textContent = s.bucket_reachable ? 'reachable' : 'unreachable';
      reach.title = s.breaker ? 'circuit breaker ' + s.breaker : '';
    }

    setOut('kpi-success-value', s.sync_success_pct_24h, isNum(s.sync_success_pct_24h) ? fmtPct(s.sync_success_pct_24h) : '—');
    // One word, one figure (insight/figures.go): "failed" are attempts
    // that failed and were retried, "went dead" records dead-lettered,
    // both over 24 h; the Errors card uses the same words for the same.
    setOut('kpi-success-synced', s.synced_24h, fmtInt(s.synced_24h));
    setOut('kpi-success-failed', s.failed_24h, fmtInt(s.failed_24h));
    setOut('kpi-success-dead', s.dead_24h, fmtInt(s.dead_24h));

    // With nothing synced in 24 h a latency of 0 means "none": say so.
    const noLatency = s.synced_24h === 0;
    setOut('kpi-latency-value', s.avg_latency_ms_24h, noLatency ? '—' : fmtMs(s.avg_latency_ms_24h));
    setOut('kpi-latency-p95', s.p95_latency_ms_24h, noLatency ? '—' : fmtMs(s.p95_latency_ms_24h));

    setOut('kpi-errors-value', s.error_count_24h, fmtInt(s.error_count_24h));
    setOut('kpi-errors-failed', s.failed_24h, fmtInt(s.failed_24h));
    setOut('kpi-errors-dead', s.dead_24h, fmtInt(s.dead_24h));
    setOut('kpi-errors-ingest', s.ingest_errors_24h, fmtInt(s.ingest_errors_24h));
    setOut('kpi-errors-rejected', s.rejected_24h, fmtInt(s.rejected_24h));

    setOut('kpi-queue-value', s.pending_queue, fmtInt(s.pending_queue));
    setOut('kpi-queue-oldest', s.oldest_pending_age_s, s.pending_queue > 0 ? fmtDur(s.oldest_pending_age_s) : '—');
    let drain = '—';
    if (s.pending_queue === 0) drain = '—';
    else if (isNum(s.drain_eta_s)) drain = '≈ ' + fmtDur(s.drain_eta_s);
    else if (s.pending_queue > 0 && 'drain_eta_s' in s) drain = 'stalled';
    setOut('kpi-queue-drain', s.drain_eta_s, drain);

    setOut('totals-received', s.received_24h, fmtInt(s.received_24h));
    setOut('totals-synced', s.synced_24h, fmtInt(s.synced_24h));
    setOut('totals-went-dead', s.dead_24h, fmtInt(s.dead_24h));
    setOut('totals-dead', s.dead_count, fmtInt(s.dead_count));
    setOut('totals-received-all', s.received_total, fmtInt(s.received_total));
    setOut('dl-count', s.dead_count, isNum(s.dead_count) ? '(' + fmtInt(s.dead_count) + ')' : '');

    // Counts moved: fetch the tables and charts now rather than at the next tick.
    const key = [s.received_total, s.synced_total, s.dead_count, s.pending_queue, (s.silent_modules || []).join()].join('/');
    if (key !== state.countsKey) {
      const deadChanged = state.countsKey.split('/')[2] !== String(s.dead_count);
      state.countsKey = key;
      scheduleRefresh(deadChanged);
    }
  }

  async function loadSummary() {
    try {
      renderSummary(await api('/api/summary'));
    } catch (e) {
      if (e.status !== 404) throw e;
      renderSummary(await api('/core/health')); // an older bridge
    }
  }

  // ---- charts --------------------------------------------------------------

  const FLOW = [
    { key: 'received', cls: 's-recv', label: 'received' },
    { key: 'synced', cls: 's-sync', label: 'synced' },
    { key: 'failed', cls: 's-fail', label: 'failed' },
  ];
  const LATENCY = [
    { key: 'avg_latency_ms', cls: 's-avg', label: 'avg', ms: true },
    { key: 'p95_latency_ms', cls: 's-p95', label: 'p95', ms: true },
  ];

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  const shortNum = (v) => (v >= 1e6 ? +(v / 1e6).toFixed(1) + 'M' : v >= 1e4 ? +(v / 1e3).toFixed(1) + 'k' : String(+v.toFixed(1)));

  function drawChart(figId, points, defs) {
    const fig = $(figId);
    const plot = fig.querySelector('.plot');
    const tip = fig.querySelector('.tip');
    tip.hidden = true;
    const keep = fig.dataset.hover; // a point being read survives the redraw
    const W = Math.max(200, plot.clientWidth || 600), H = Math.max(120, plot.clientHeight || 180);
    const L = 40, R = 8, T = 8, B = 20;
    const w = W - L - R, h = H - T - B;
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true', focusable: 'false' });
    const n = points.length;
    let ymax = 0;
    for (const p of points) for (const d of defs) if (isNum(p[d.key])) ymax = Math.max(ymax, p[d.key]);
    ymax = niceMax(ymax);
    const x = (i) => L + (n > 1 ? (i * w) / (n - 1) : w / 2);
    const y = (v) => T + h - (v / ymax) * h;
    for (const f of [0, 0.5, 1]) {
      const yy = y(ymax * f);
      root.append(svg('line', { class: 'axis', x1: L, x2: W - R, y1: yy, y2: yy }));
      const t = svg('text', { class: 'lbl', x: L - 4, y: yy + 3, 'text-anchor': 'end' });
      t.textContent = shortNum(ymax * f);
      root.append(t);
    }
    if (n) {
      for (const [i, anchor] of [[0, 'start'], [Math.floor((n - 1) / 2), 'middle'], [n - 1, 'end']]) {
        const t = svg('text', { class: 'lbl', x: x(i), y: H - 5, 'text-anchor': anchor });
        t.textContent = fmtClock(points[i].t);
        root.append(t);
      }
    } else {
      const t = svg('text', { class: 'lbl', x: L + w / 2, y: T + h / 2, 'text-anchor': 'middle' });
      t.textContent = 'No data yet';
      root.append(t);
    }
    for (const d of defs) {
      let path = '', pen = false;
      points.forEach((p, i) => {
        const v = p[d.key];
        if (!isNum(v)) { pen = false; return; }
        path += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1);
        pen = true;
      });
      // A lone point between gaps draws nothing as a path: mark it.
      root.append(svg('path', { class: d.cls, d: path || 'M0 0' }));
      points.forEach((p, i) => {
        const v = p[d.key];
        const prev = points[i - 1], next = points[i + 1];
        if (isNum(v) && !(prev && isNum(prev[d.key])) && !(next && isNum(next[d.key]))) {
          root.append(svg('circle', { class: d.cls, cx: x(i), cy: y(v), r: 2 }));
        }
      });
    }
    const cursor = svg('g', { visibility: 'hidden' });
    const line = svg('line', { class: 'cursor', y1: T, y2: T + h });
    cursor.append(line);
    const dots = defs.map((d) => { const c = svg('circle', { class: 'dot ' + d.cls, r: 3.5 }); cursor.append(c); return c; });
    root.append(cursor);
    plot.replaceChildren(root);
    fig.dataset.points = String(n); // what is drawn, for tests and curious readers
    fig.dataset.sum = String(points.reduce((a, p) => a + (isNum(p[defs[0].key]) ? p[defs[0].key] : 0), 0));

    let cur = -1;
    const show = (i) => {
      if (!n) return;
      cur = Math.max(0, Math.min(n - 1, i));
      fig.dataset.hover = String(cur);
      const p = points[cur];
      line.setAttribute('x1', x(cur)); line.setAttribute('x2', x(cur));
      defs.forEach((d, k) => {
        const v = p[d.key];
        dots[k].setAttribute('visibility', isNum(v) ? 'visible' : 'hidden');
        dots[k].setAttribute('cx', x(cur)); dots[k].setAttribute('cy', isNum(v) ? y(v) : 0);
      });
      cursor.setAttribute('visibility', 'visible');
      const vals = defs.map((d) => d.label + ' ' + (d.ms ? fmtMs(p[d.key]) : fmtInt(p[d.key])));
      tip.textContent = fmtClock(p.t) + ' · ' + vals.join(' · ');
      tip.hidden = false;
      const px = (x(cur) / W) * plot.clientWidth;
      const tw = tip.offsetWidth;
      tip.style.left = Math.max(0, Math.min(fig.clientWidth - tw, px - tw / 2)) + 'px';
      tip.style.top = plot.offsetTop - 4 + 'px';
      plot.setAttribute('aria-label', (defs === FLOW ? 'Records' : 'Latency') + ' at ' + tip.textContent);
    };
    const hide = () => { cursor.setAttribute('visibility', 'hidden'); tip.hidden = true; delete fig.dataset.hover; };
    plot.onmousemove = (ev) => {
      const r = plot.getBoundingClientRect();
      const sx = ((ev.clientX - r.left) / r.width) * W;
      show(n > 1 ? Math.round(((sx - L) / w) * (n - 1)) : 0);
    };
    plot.onmouseleave = hide;
    plot.onblur = hide;
    plot.onfocus = () => show(cur >= 0 ? cur : n - 1);
    plot.onkeydown = (ev) => {
      const step = { ArrowLeft: -1, ArrowRight: 1 }[ev.key];
      if (step) show(cur + step);
      else if (ev.key === 'Home') show(0);
      else if (ev.key === 'End') show(n - 1);
      else return;
      ev.preventDefault();
    };
    if (keep != null) show(+keep);
  }

  function renderSeries() {
    const s = state.series;
    const pts = (s && Array.isArray(s.points)) ? s.points : [];
    const step = s && s.step_s >= 600 ? (s.step_s / 60) + ' minutes' : 'minute';
    for (const e of document.querySelectorAll('#charts .step')) e.textContent = step;
    drawChart('chart-flow', pts, FLOW);
    drawChart('chart-latency', pts, LATENCY);
  }

  async function loadSeries() {
    state.series = await api('/api/series?window=' + state.window);
    renderSeries();
  }

  function setWindow(w) {
    state.window = w;
    for (const b of document.querySelectorAll('[data-window]')) b.setAttribute('aria-pressed', String(b.dataset.window === w));
    loadSeries().catch(chartError);
  }

  function chartError(e) {
    for (const id of ['chart-flow', 'chart-latency']) {
      $(id).querySelector('.plot').replaceChildren(el('p', { class: 'err', text: 'Could not load the series: ' + errText(e) }));
    }
  }

  // ---- modules table -------------------------------------------------------

  function sortedModules() {
    const { key, dir } = state.sort;
    const val = (m) => {
      const v = m[key];
      if (typeof v === 'number') return v;
      if (typeof v === 'boolean') return v ? 1 : 0;
      return v == null ? '' : String(v);
    };
    return state.modules.slice().sort((a, b) => {
      const va = val(a), vb = val(b);
      const c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
      return c * dir || a.module.localeCompare(b.module);
    });
  }

  // heartbeatCell: when the module last said it is alive (POST
  // /core/heartbeat), and the status it gave when not ok.
  function heartbeatCell(m) {
    if (!m.last_heartbeat_at) return el('td', { text: '—', data: { col: 'heartbeat' } });
    const tip = [m.last_heartbeat_at, m.heartbeat_status, m.heartbeat_message].filter(Boolean).join(' · ');
    const st = m.heartbeat_status && m.heartbeat_status !== 'ok'
      ? el('span', { class: 'badge ' + (m.heartbeat_status === 'down' ? 'b-bad' : 'b-warn'), text: m.heartbeat_status }) : null;
    return el('td', { title: tip, data: { col: 'heartbeat', status: m.heartbeat_status || '' } }, fmtAgo(m.last_heartbeat_at), st ? ' ' : null, st);
  }

  function renderModules() {
    const body = $('modules').tBodies[0];
    for (const th of $('modules').tHead.rows[0].cells) {
      th.setAttribute('aria-sort', th.dataset.key === state.sort.key ? (state.sort.dir > 0 ? 'ascending' : 'descending') : 'none');
    }
    if (!state.modules.length) {
      body.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: 9, text: 'No module has sent anything yet.' })));
      return;
    }
    body.replaceChildren(...sortedModules().map((m) => el('tr', { data: { module: m.module } },
      el('td', { text: m.module }),
      el('td', { class: 'num', text: fmtInt(m.received), data: { col: 'received' } }),
      el('td', { class: 'num', text: fmtInt(m.synced), data: { col: 'synced' } }),
      el('td', { class: 'num', text: fmtInt(m.pending), data: { col: 'pending' } }),
      el('td', { class: 'num', text: fmtInt(m.dead), data: { col: 'dead' } }),
      el('td', { text: fmtAgo(m.last_seen_at), title: m.last_seen_at || null }),
      el('td', { text: fmtAgo(m.last_sync_at), title: m.last_sync_at || null }),
      heartbeatCell(m),
      el('td', null, m.silent ? el('span', { class: 'badge b-silent', text: 'Silent', title: m.silent_reason || null }) : 'No'),
    )));
  }

  function fillModuleSelect(id, names) {
    const sel = $(id);
    const keep = sel.value;
    const have = new Set([...sel.options].map((o) => o.value));
    for (const n of names) if (!have.has(n)) sel.append(el('option', { value: n, text: n }));
    sel.value = keep;
  }

  async function loadModules() {
    const r = await api('/api/modules');
    state.modules = (r && Array.isArray(r.modules)) ? r.modules : [];
    renderModules();
    const names = state.modules.map((m) => m.module).sort();
    fillModuleSelect('events-module', names);
    fillModuleSelect('dl-module', names);
    note('modules-note', '');
  }

  // ---- live events ---------------------------------------------------------

  function eventItem(ev, isNew) {
    const more = [];
    if (ev.record_id) more.push(ev.record_id);
    if (ev.kind === 'synced' && isNum(ev.latency_ms)) more.push(fmtMs(ev.latency_ms));
    if (ev.attempt) more.push('attempt ' + ev.attempt);
    if (ev.http_status) more.push('HTTP ' + ev.http_status);
    if (ev.count) more.push(fmtInt(ev.count) + ' records');
    if (ev.error) more.push(ev.error);
    return el('li', { class: isNew ? 'new' : null, data: { kind: ev.kind || '', module: ev.module || '' } },
      el('span', { class: 'ev-time', text: fmtClock(ev.at, true) }),
      el('span', { class: 'ev-kind k-' + (ev.kind || 'x'), text: ev.kind || '?' }),
      el('span', { class: 'ev-mod', text: ev.module || '(all)' }),
      el('span', { class: 'ev-more mono', text: more.join(' · ') }));
  }

  let eventsFrame = 0;
  function renderEvents() {
    eventsFrame = 0;
    const shown = state.filter ? state.events.filter((e) => e.module === state.filter) : state.events;
    const fresh = state.fresh;
    state.fresh = 0;
    $('events').replaceChildren(...shown.slice(0, MAX_EVENTS).map((e, i) => eventItem(e, i < fresh)));
    const bits = [];
    if (state.paused) bits.push('Paused: ' + fmtInt(state.held.length) + ' new events held.');
    if (state.lost) bits.push(fmtInt(state.lost) + ' events were not shown (too many, or the page fell behind).');
    if (!shown.length && !state.paused) bits.push(state.filter ? 'No events of ' + state.filter + ' yet.' : 'Waiting for events…');
    $('events-note').textContent = bits.join(' ');
  }
  const queueEventsRender = () => { if (!eventsFrame) eventsFrame = requestAnimationFrame(renderEvents); };

  function addEvent(ev) {
    if (state.paused) {
      state.held.unshift(ev);
      state.held.length = Math.min(state.held.length, MAX_EVENTS);
    } else {
      state.events.unshift(ev);
      state.events.length = Math.min(state.events.length, MAX_EVENTS * 2);
      if (!state.filter || ev.module === state.filter) state.fresh++;
    }
    queueEventsRender();
  }

  function togglePause() {
    state.paused = !state.paused;
    const b = $('events-pause');
    b.setAttribute('aria-pressed', String(state.paused));
    b.textContent = state.paused ? 'Resume' : 'Pause';
    if (!state.paused && state.held.length) {
      state.events = state.held.concat(state.events).slice(0, MAX_EVENTS * 2);
      state.held = [];
    }
    renderEvents();
  }

  // ---- dead letters --------------------------------------------------------

  function pretty(data) {
    try { return JSON.stringify(data, null, 2); } catch (_) { return String(data); }
  }

  function dlRows(d) {
    const open = state.dlOpen.get(d.id);
    const check = el('input', { type: 'checkbox', 'aria-label': 'Select ' + d.id, checked: state.dlSelected.has(d.id) });
    check.addEventListener('change', () => {
      if (check.checked) state.dlSelected.add(d.id); else state.dlSelected.delete(d.id);
      updateDlButtons();
    });
    const toggle = (mode) => () => {
      if (state.dlOpen.get(d.id) === mode) state.dlOpen.delete(d.id); else state.dlOpen.set(d.id, mode);
      if (mode === 'edit' && !state.drafts.has(d.id)) state.drafts.set(d.id, pretty(d.data));
      renderDead();
      const f = document.querySelector(`#dl-rows tr[data-id="${CSS.escape(d.id)}"] button.${mode === 'view' ? 'dl-view' : 'dl-edit'}`);
      if (f) f.focus();
    };
    const row = el('tr', { data: { id: d.id, module: d.module } },
      el('td', null, check),
      el('td', { class: 'mono', text: d.id.length > 13 ? d.id.slice(0, 8) + '…' + d.id.slice(-4) : d.id, title: d.id }),
      el('td', { text: d.module }),
      el('td', { text: fmtAgo(d.received_at), title: d.received_at }),
      el('td', { class: 'num', data: { attempts: String(d.attempts), total: String(d.attempts_total) },
        text: fmtInt(d.attempts) + (isNum(d.attempts_total) ? ' · ' + fmtInt(d.attempts_total) : '') }),
      el('td', { class: 'reason', text: d.reason || '—' }),
      el('td', null, el('div', { class: 'acts' },
        el('button', { type: 'button', class: 'dl-view', 'aria-expanded': String(open === 'view'), text: open === 'view' ? 'Hide' : 'View', onclick: toggle('view') }),
        el('button', { type: 'button', class: 'dl-edit op-only', 'aria-expanded': String(open === 'edit'), text: 'Edit', onclick: toggle('edit') }),
        el('button', { type: 'button', class: 'dl-replay op-only', text: 'Replay', onclick: (ev) => replay({ ids: [d.id] }, ev.currentTarget) }))));
    if (!open) return [row];
    let inner;
    if (open === 'view') {
      inner = el('pre', { class: 'dl-payload', text: pretty(d.data) });
    } else {
      const ta = el('textarea', { class: 'dl-data', 'aria-label': 'Data of ' + d.id, spellcheck: 'false' });
      ta.value = state.drafts.get(d.id) || '';
      ta.addEventListener('input', () => state.drafts.set(d.id, ta.value));
      const msg = el('span', { class: 'err', role: 'alert' });
      const save = el('button', { type: 'button', class: 'dl-save op-only', text: 'Save and replay' });
      save.addEventListener('click', () => saveAndReplay(d, ta, msg, save));
      inner = el('div', null, ta, el('div', { class: 'edit-acts' }, save,
        el('button', { type: 'button', text: 'Cancel', onclick: () => { state.drafts.delete(d.id); toggle('edit')(); } }), msg));
    }
    return [row, el('tr', { class: 'payload', data: { for: d.id } }, el('td', { colspan: 7 }, inner))];
  }

  // focusKey names the focused control of the dead-letter list, so that
  // renderDead can find it again: live events re-render the rows, and a
  // payload being edited must keep its focus and cursor.
  function focusKey() {
    const a = document.activeElement;
    if (!a || !$('dl-rows').contains(a)) return null;
    const tr = a.closest('tr');
    const id = tr && (tr.dataset.id || tr.dataset.for);
    if (!id) return null;
    const k = { id, payload: !!tr.dataset.for, sel: a.classList.length ? '.' + a.classList[0] : a.tagName.toLowerCase() };
    if (a.tagName === 'TEXTAREA') Object.assign(k, { start: a.selectionStart, end: a.selectionEnd, top: a.scrollTop });
    return k;
  }

  function restoreFocus(k) {
    if (!k) return;
    const tr = document.querySelector(k.payload ? `#dl-rows tr.payload[data-for="${CSS.escape(k.id)}"]`
      : `#dl-rows tr[data-id="${CSS.escape(k.id)}"]`);
    const e = tr && tr.querySelector(k.sel);
    if (!e) return;
    e.focus();
    if (k.start != null) { e.setSelectionRange(k.start, k.end); e.scrollTop = k.top; }
  }

  function renderDead() {
    const focused = focusKey();
    const rows = $('dl-rows');
    const ids = new Set(state.dl.map((d) => d.id));
    for (const id of [...state.dlSelected]) if (!ids.has(id)) state.dlSelected.delete(id);
    for (const id of [...state.dlOpen.keys()]) if (!ids.has(id)) { state.dlOpen.delete(id); state.drafts.delete(id); }
    if (!state.dl.length) {
      rows.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: 7, text: state.dlModule ? 'No dead letters of ' + state.dlModule + '.' : 'No dead letters.' })));
    } else {
      rows.replaceChildren(...state.dl.flatMap(dlRows));
    }
    $('dl-more').hidden = !state.dlMore;
    $('dl-all').checked = state.dl.length > 0 && state.dlSelected.size === state.dl.length;
    updateDlButtons();
    restoreFocus(focused);
  }

  function updateDlButtons() {
    const sel = $('dl-replay-selected');
    sel.disabled = state.dlSelected.size === 0;
    sel.textContent = state.dlSelected.size ? 'Replay selected (' + state.dlSelected.size + ')' : 'Replay selected';
    const mod = $('dl-replay-module');
    mod.disabled = !state.dlModule;
    mod.textContent = state.dlModule ? 'Replay all of ' + state.dlModule : 'Replay all of module';
  }

  async function loadDead(more) {
    const q = new URLSearchParams({ limit: String(DL_PAGE) });
    if (state.dlModule) q.set('module', state.dlModule);
    if (more) q.set('after', String(state.dlNext));
    const r = await api('/api/dead-letters?' + q);
    const got = (r && Array.isArray(r.dead_letters)) ? r.dead_letters : [];
    state.dl = more ? state.dl.concat(got) : got;
    if (!more && state.dl.length === 0) state.dlNext = 0;
    if (got.length) state.dlNext = r.next_after;
    state.dlMore = got.length === DL_PAGE;
    renderDead();
  }

  async function replay(sel, btn) {
    if (btn) btn.disabled = true;
    try {
      const r = await api('/api/dead-letters/replay', { method: 'POST', json: sel });
      const n = r && isNum(r.replayed) ? r.replayed : 0;
      note('dl-note', 'Replayed ' + fmtInt(n) + (n === 1 ? ' record' : ' records') + '; it goes back to the head of its module’s queue.');
      if (sel.ids) for (const id of sel.ids) state.dlSelected.delete(id);
      await loadDead(false);
      scheduleRefresh(false);
    } catch (e) {
      note('dl-note', 'Replay failed: ' + errText(e), true);
    } finally {
      if (btn && btn.isConnected) btn.disabled = false;
    }
  }

  async function saveAndReplay(d, ta, msg, btn) {
    let data;
    try { data = JSON.parse(ta.value); } catch (e) { msg.textContent = 'Not valid JSON: ' + e.message; return; }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) { msg.textContent = 'The data must be a JSON object.'; return; }
    btn.disabled = true;
    msg.textContent = '';
    try {
      await api('/api/dead-letters/' + encodeURIComponent(d.id) + '/data', { method: 'PUT', json: { data } });
    } catch (e) {
      msg.textContent = 'Could not save the edit: ' + errText(e);
      btn.disabled = false;
      return;
    }
    state.drafts.delete(d.id);
    state.dlOpen.delete(d.id);
    await replay({ ids: [d.id] }, null);
  }

  // ---- automation runs -----------------------------------------------------

  async function loadAutomation() {
    const box = $('automation-body');
    let r;
    try {
      r = await api('/api/automation/runs');
    } catch (e) {
      if (e.status !== 404) throw e;
      r = { attached: false, runs: [] };
    }
    if (!r || !r.attached) {
      box.replaceChildren(el('p', { class: 'muted', id: 'automation-none', text: 'No automation runner attached.' }));
      return;
    }
    const runs = Array.isArray(r.runs) ? r.runs : [];
    if (!runs.length) {
      box.replaceChildren(el('p', { class: 'muted', text: 'The runner is attached; no job has run yet.' }));
      return;
    }
    const badge = { ok: 'b-ok', failed: 'b-bad', skipped: 'b-warn' };
    // A failed or skipped run's reason goes on a row of its own, under
    // the run, so a long message never squeezes the table.
    const rows = [];
    for (const x of runs) {
      rows.push(el('tr', { data: { status: x.status || '' } },
        el('td', { text: x.job || '—' }),
        el('td', { text: x.trigger || '—' }),
        el('td', { text: fmtAgo(x.started), title: x.started || null }),
        el('td', { text: fmtMs(x.duration_ms) }),
        el('td', null, el('span', { class: 'badge ' + (badge[x.status] || ''), text: x.status || '?' }))));
      const why = [x.failed_action, x.reason].filter(Boolean).join(': ');
      if (why) rows.push(el('tr', { class: 'run-why' }, el('td', { colspan: '5', text: why })));
    }
    box.replaceChildren(el('div', { class: 'scroll' }, el('table', { class: 'grid' },
      el('thead', null, el('tr', null, ...['Job', 'Trigger', 'Started', 'Took', 'Status'].map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', null, ...rows))));
  }

  // ---- proof: the last reconciliation and the last drill --------------------

  function setVerdict(prefix, kind, badge, words) {
    $(prefix + '-verdict').dataset.verdict = kind;
    const b = $(prefix + '-badge');
    b.className = 'badge ' + ({ ok: 'b-ok', bad: 'b-bad', warn: 'b-warn' }[kind] || '');
    b.textContent = badge;
    $(prefix + '-words').textContent = words;
  }

  function renderReconcile(last) {
    const rep = last && last.report;
    const rows = $('proof-rows');
    if (!rep) {
      setVerdict('proof', 'warn', 'Not checked', 'No reconciliation with the Bucket has run yet: run corebridge reconcile, or start serve with --reconcile-every.');
      $('proof-table').hidden = true;
      return;
    }
    const t = rep.totals || {};
    const when = fmtAgo(rep.finished_at);
    if (rep.unsupported) {
      setVerdict('proof', 'warn', 'Unsupported', 'This Bucket cannot be reconciled (' + (rep.message || 'no /v1/reconcile') + '); checked ' + when + '.');
    } else if (rep.error) {
      setVerdict('proof', 'bad', 'Failed', 'The last reconciliation (' + when + ') stopped: ' + rep.error);
    } else if ((t.missing || 0) > 0) {
      setVerdict('proof', 'bad', 'Missing', fmtInt(t.missing) + ' record(s) synced here are not in the Bucket (checked ' + when + '): run corebridge reconcile --repair to send them again.');
    } else if ((t.mismatched || 0) + (t.unexpected || 0) > 0) {
      setVerdict('proof', 'bad', 'Differs', 'The Bucket holds ' + fmtInt(t.mismatched || 0) + ' record(s) with other content and ' + fmtInt(t.unexpected || 0) + ' this bridge never sent (checked ' + when + ').');
    } else {
      setVerdict('proof', 'ok', 'Proven', 'The Bucket holds every one of the ' + fmtInt(t.synced_here) + ' records synced here, unchanged (checked ' + when + ', ' + fmtInt(t.round_trips) + ' round trips).');
    }
    const mods = Array.isArray(rep.modules) ? rep.modules : [];
    $('proof-table').hidden = !mods.length;
    const cell = (v, bad) => el('td', { class: 'num', text: fmtInt(v), data: { bad: String(!!bad && v > 0) } });
    rows.replaceChildren(...mods.map((m) => el('tr', { data: { module: m.module } },
      el('td', { text: m.module }),
      cell(m.synced_here), cell(m.held_there),
      cell(m.missing, true), cell(m.unexpected, true), cell(m.mismatched, true),
      cell(m.in_flight), cell(m.chain ? m.chain.gaps : null))));
  }

  function renderDrill(d) {
    const list = $('drill-faults');
    if (!d) {
      setVerdict('drill', 'warn', 'None', 'No drill has been published to this bridge: corebridge drill --publish <this bridge URL> runs one and shows it here.');
      list.replaceChildren();
      return;
    }
    const what = fmtInt(d.acknowledged) + ' acknowledged, ' + fmtInt(d.lost_count) + ' lost, ' + fmtInt(d.duplicated_count) + ' duplicated, ' +
      fmtInt(d.order_violation_count) + ' out of order';
    if (d.passed) {
      setVerdict('drill', 'ok', 'Passed', 'The drill of ' + fmtAgo(d.started) + ' passed: ' + what + '.');
    } else {
      setVerdict('drill', 'bad', 'Failed', 'The drill of ' + fmtAgo(d.started) + ' failed: ' + what + '. ' + (Array.isArray(d.problems) ? d.problems.join(' ') : ''));
    }
    const faults = Array.isArray(d.faults) ? d.faults : [];
    list.replaceChildren(...faults.map((f) => {
      let text = f.name + ': ';
      if (f.skipped) text += 'skipped (' + (f.skip_reason || 'no reason given') + ')';
      else if (f.recovered) text += 'recovered in ' + fmtMs(f.time_to_recover_ms);
      else text += 'did not recover' + (f.failure ? ' (' + f.failure + ')' : '');
      return el('li', { text, data: { ok: String(!!(f.skipped || f.recovered)) } });
    }));
  }

  async function loadProof() {
    let last = null;
    try { last = await api('/api/reconcile'); } catch (e) { if (e.status !== 501) throw e; }
    const drill = await api('/api/drill');
    note('proof-note', '');
    renderReconcile(last);
    renderDrill(drill && drill.report);
  }

  // ---- operator actions (the audit log) ------------------------------------

  async function loadAudit() {
    const r = await api('/api/audit?limit=50');
    const es = r && Array.isArray(r.entries) ? r.entries : [];
    note('audit-note', '');
    if (!es.length) {
      $('audit-rows').replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: '5', text: 'No operator actions yet.' })));
      return;
    }
    $('audit-rows').replaceChildren(...es.map((x) => el('tr', { data: { action: x.action || '', seq: String(x.seq) } },
      el('td', { text: fmtAgo(x.at), title: x.at || null }),
      el('td', { text: x.actor ? x.actor + (x.role ? ' (' + x.role + ')' : '') : 'unknown' }),
      el('td', { text: (x.action || '?').replace(/_/g, ' ') }),
      el('td', { class: 'audit-target', text: [x.target, x.detail].filter(Boolean).join(' — ') || '—' }),
      el('td', { class: 'num', text: fmtInt(x.records) }))));
  }

  // ---- refreshing, live and polling ---------------------------------------

  // guard runs a load and shows its failure next to what it affects.
  const guard = (p, onErr) => p.catch((e) => onErr(e));
  const modulesErr = (e) => note('modules-note', 'Could not load modules: ' + errText(e), true);
  const deadErr = (e) => note('dl-note', 'Could not load dead letters: ' + errText(e), true);
  const auditErr = (e) => note('audit-note', 'Could not load operator actions: ' + errText(e), true);
  const proofErr = (e) => note('proof-note', 'Could not load the proof: ' + errText(e), true);
  const autoErr = (e) => $('automation-body').replaceChildren(el('p', { class: 'err', text: 'Could not load runs: ' + errText(e) }));

  // refreshData reloads what the summary does not carry. Calls that come
  // while one is running make it run once more, not pile up.
  async function refreshData(withDead) {
    if (state.refreshing) { state.refreshAgain = true; state.refreshDead = state.refreshDead || withDead; return; }
    state.refreshing = true;
    try {
      await Promise.all([
        guard(loadModules(), modulesErr),
        guard(loadSeries(), chartError),
        withDead ? guard(loadDead(false), deadErr) : null,
        guard(loadAudit(), auditErr),
        guard(loadProof(), proofErr),
      ]);
    } finally {
      state.refreshing = false;
      if (state.refreshAgain) {
        const d = state.refreshDead;
        state.refreshAgain = state.refreshDead = false;
        refreshData(d);
      }
    }
  }

  function scheduleRefresh(withDead) {
    state.refreshDeadSoon = state.refreshDeadSoon || withDead;
    if (state.refreshTimer) return;
    state.refreshTimer = setTimeout(() => {
      const d = state.refreshDeadSoon;
      state.refreshTimer = 0;
      state.refreshDeadSoon = false;
      refreshData(d);
    }, 250);
  }

  function pollAll() {
    guard(loadSummary(), (e) => { $('status-word').textContent = 'Unreachable'; $('status').dataset.status = 'down'; $('status-reasons').replaceChildren(el('li', { text: 'The bridge did not answer: ' + errText(e) })); });
    refreshData(true);
    guard(loadAutomation(), autoErr);
  }

  function setLive(live) {
    if (state.live === live && (live || state.pollTimer)) return;
    state.live = live;
    const ls = $('live-state');
    ls.dataset.live = live ? 'live' : 'polling';
    ls.textContent = live ? 'Live' : 'Polling every 30 s';
    $('live-notice').hidden = live;
    if (live) {
      clearInterval(state.pollTimer);
      state.pollTimer = 0;
      state.reconnectDelay = 2000;
      if (state.wasDown) pollAll(); // catch up on what happened while the stream was down
    } else if (!state.pollTimer) {
      state.wasDown = true;
      state.pollTimer = setInterval(pollAll, POLL_MS);
      pollAll();
    }
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    if (state.es) state.es.close();
    const es = new EventSource('/api/events');
    state.es = es;
    const parse = (e) => { try { return JSON.parse(e.data); } catch (_) { return null; } };
    es.addEventListener('open', () => setLive(true));
    es.addEventListener('summary', (e) => { const s = parse(e); if (s) renderSummary(s); });
    es.addEventListener('record', (e) => { const ev = parse(e); if (ev) addEvent(ev); });
    es.addEventListener('lost', (e) => { const l = parse(e); if (l && isNum(l.lost)) { state.lost += l.lost; queueEventsRender(); } });
    es.addEventListener('error', () => {
      if (state.es !== es) return;
      setLive(false);
      // The browser retries by itself unless the answer was not a stream
      // (readyState CLOSED); then we do, backing off to 30 s.
      if (es.readyState === EventSource.CLOSED) {
        state.reconnectTimer = setTimeout(connect, state.reconnectDelay);
        state.reconnectDelay = Math.min(POLL_MS, state.reconnectDelay * 2);
      }
    });
  }

  function liveTick() {
    if (!state.live) return;
    refreshData(false);
    guard(loadAutomation(), autoErr);
    // A stream that carries no summary (or lost it) must not freeze the cards.
    if (Date.now() - state.lastSummaryAt > 4000) guard(loadSummary(), () => {});
  }

  // ---- who is looking: sign-in and role ------------------------------------

  // With an auth file the page signs in with a token once and then carries
  // an HttpOnly session cookie; what it offers follows the role (the server
  // refuses the rest anyway).
  function applyWho(who) {
    state.who = who;
    document.body.dataset.role = who.role || '';
    $('meta-who').textContent = who.auth === 'tokens' ? 'signed in as ' + who.name + ' (' + who.role + ')' : '';
    $('signout').hidden = who.auth !== 'tokens';
  }

  function showSignin(msg) {
    $('signin').hidden = false;
    $('main').hidden = true;
    note('signin-note', msg || '');
    $('signin-token').focus();
  }

  async function signin(ev) {
    ev.preventDefault();
    try {
      const who = await api('/api/session', { method: 'POST', json: { token: $('signin-token').value } });
      $('signin-token').value = '';
      $('signin').hidden = true;
      $('main').hidden = false;
      applyWho(who);
      if (!state.started) init(); else { guard(loadSummary(), () => {}); refreshData(true); connect(); }
    } catch (e) {
      note('signin-note', e.status === 401 ? 'That token is not valid.' : errText(e), true);
    }
  }

  async function signout() {
    try { await api('/api/session', { method: 'DELETE' }); } catch (_) { /* shown by the sign-in form */ }
    if (state.es) { state.es.close(); state.es = null; }
    showSignin('Signed out.');
  }

  async function boot() {
    $('signin-form').addEventListener('submit', signin);
    $('signout').addEventListener('click', signout);
    try {
      applyWho(await api('/api/session'));
    } catch (e) {
      if (e.status === 401) { showSignin(); return; }
    }
    init();
  }

  // ---- wiring --------------------------------------------------------------

  function init() {
    state.started = true;
    for (const th of $('modules').tHead.rows[0].cells) {
      th.querySelector('button').addEventListener('click', () => {
        const k = th.dataset.key;
        state.sort = { key: k, dir: state.sort.key === k ? -state.sort.dir : 1 };
        renderModules();
      });
    }
    for (const b of document.querySelectorAll('[data-window]')) b.addEventListener('click', () => setWindow(b.dataset.window));
    $('events-pause').addEventListener('click', togglePause);
    $('events-clear').addEventListener('click', () => { state.events = []; state.held = []; state.lost = 0; renderEvents(); });
    $('events-module').addEventListener('change', (e) => { state.filter = e.target.value; renderEvents(); });
    $('dl-module').addEventListener('change', (e) => {
      state.dlModule = e.target.value;
      state.dlSelected.clear();
      guard(loadDead(false), deadErr);
    });
    $('dl-refresh').addEventListener('click', () => { note('dl-note', ''); guard(loadDead(false), deadErr); });
    $('dl-more').addEventListener('click', () => guard(loadDead(true), deadErr));
    $('dl-replay-selected').addEventListener('click', (e) => replay({ ids: [...state.dlSelected] }, e.currentTarget));
    $('dl-replay-module').addEventListener('click', (e) => { if (state.dlModule) replay({ module: state.dlModule }, e.currentTarget); });
    $('dl-all').addEventListener('change', (e) => {
      state.dlSelected = new Set(e.target.checked ? state.dl.map((d) => d.id) : []);
      renderDead();
    });
    let resizeT = 0;
    window.addEventListener('resize', () => { clearTimeout(resizeT); resizeT = setTimeout(renderSeries, 150); });

    renderEvents();
    guard(loadSummary(), () => {});
    refreshData(true);
    guard(loadAutomation(), autoErr);
    state.liveTimer = setInterval(liveTick, LIVE_REFRESH_MS);
    if (typeof EventSource === 'function') connect(); else setLive(false);
  }

  boot();
})();
