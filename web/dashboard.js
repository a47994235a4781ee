// memvisor's dashboard: polls /status, /api/series, /api/events and /api/incidents of the server
// that served it every 2 s and draws the instances table, one uPlot chart per instance (its
// retained series with the warn/limit/critical lines), the events stream and the incidents.
// Read-only: it sends nothing but GETs. Text from the server goes in as textContent, never as
// HTML, so a service or event named like markup stays text.
'use strict';

const POLL_MS = 2000;
const MAX_EVENTS_SHOWN = 100;

const state = {
  afterSeq: 0,     // the newest event seen (/api/events?after=)
  events: [],      // newest first
  charts: new Map(),  // "web.1" -> {plot, card, title, note}
  series: new Map(),  // "web.1" -> normalised series entry
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function bytes(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return (unit === 0 ? value.toFixed(0) : value.toFixed(value >= 100 ? 0 : 1)) + ' ' + units[unit];
}

// A value of a series: bytes, or a plain number for a rule on a worker's gauge ("gauge:NAME").
function formatter(metric) {
  if (metric.startsWith('gauge:')) {
    return (v) => (v === null || v === undefined ? '–' : Number(v).toLocaleString());
  }
  return bytes;
}

function duration(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  const s = Math.floor(seconds);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}

function slopeText(bytesPerHour) {
  if (bytesPerHour === null || bytesPerHour === undefined || !Number.isFinite(bytesPerHour)) {
    return '–';
  }
  return (bytesPerHour >= 0 ? '+' : '−') + bytes(Math.abs(bytesPerHour)) + '/h';
}

async function getJson(path) {
  const response = await fetch(path, {cache: 'no-store'});
  if (!response.ok) throw new Error(path + ': HTTP ' + response.status);
  return response.json();
}

// /api/series (series_json.h: one entry per measured unit, columns "t" in unix seconds and
// "values" in bytes, the thresholds and the leak slope), keyed by unit ("web.1", "web.1/1234"
// for a pre-fork child). A recycle's replacement is left out until it takes over.
function normaliseSeries(json) {
  const out = new Map();
  for (const item of json.series || []) {
    if (item.primary === false) continue;
    out.set(item.unit, {
      unit: item.unit,
      metric: item.metric || 'pss',
      times: item.t || [],
      values: item.values || [],
      warn: item.warn ?? null,
      limit: item.limit ?? null,
      critical: item.critical ?? null,
      // A threshold on another metric than the series' (limit on RSS beside a PSS series, or on
      // a gauge's number): its size is not in the series' unit.
      warnMetric: item.warn_metric || null,
      limitMetric: item.limit_metric || null,
      criticalMetric: item.critical_metric || null,
      slope: item.leak_slope_bytes_per_hour ?? null,
      rate: item.leak_rate_bytes_per_hour ?? null,
      reason: item.leak_reason || '',
    });
  }
  return out;
}

// ---- instances table ----

// A threshold of `series` in the series' own metric: as configured when the rule reads that
// metric; scaled by the two metrics' latest values when it reads another memory metric (as `top`
// does); null when it reads a gauge, whose number says nothing of memory.
function thresholdIn(series, key, memory) {
  const size = series[key];
  if (size === null) return null;
  const other = series[key + 'Metric'];
  if (!other) return size;
  if (other.startsWith('gauge:') || series.metric.startsWith('gauge:')) return null;
  const theirs = memory[other];
  const current = series.values.length > 0 ? series.values[series.values.length - 1] : null;
  if (!theirs || current === null) return null;
  return (size * current) / theirs;
}

function renderTotals(status) {
  const services = status.services || [];
  let ready = 0;
  let wanted = 0;
  for (const s of services) {
    ready += s.ready || 0;
    wanted += s.instances || 0;
  }
  const totals = document.getElementById('totals');
  totals.textContent = services.length + (services.length === 1 ? ' service, ' : ' services, ') +
      ready + '/' + wanted + ' instances ready';
  totals.className = ready < wanted ? 'warn' : '';
  document.getElementById('source').textContent = status.config_source || '';
}

function renderInstances(status) {
  const body = document.querySelector('#instances tbody');
  const rows = [];
  for (const record of status.instances || []) {
    if (record.role && record.role !== 'primary') continue;
    const unit = record.service + '.' + record.instance;
    const series = state.series.get(unit);
    const memory = record.memory || {};
    // By the service's metric: the series' last value (the rules read the same); before the
    // series arrive, the status's PSS.
    const fromSeries = series && series.values.length > 0;
    const metric = fromSeries ? series.metric : 'pss';
    const current = fromSeries ? series.values[series.values.length - 1] : memory.pss ?? null;
    const limitIn = series ? thresholdIn(series, 'limit', memory) : null;
    const limit = series ? (limitIn ?? thresholdIn(series, 'critical', memory)) : null;
    const slope = series && series.slope !== null ? series.slope
                                                  : memory.leak_slope_bytes_per_hour ?? null;

    const tr = el('tr');
    tr.dataset.instance = unit;
    tr.append(el('td', 'name', unit));
    tr.append(el('td', 'state state-' + (record.state || 'unknown'), record.state || '?'));
    tr.append(el('td', 'num', record.pid || '–'));
    tr.append(el('td', 'num', record.pid ? duration(record.uptime_s) : '–'));
    tr.append(el('td', 'num', current === null ? '–' : formatter(metric)(current) + ' ' + metric));

    const share = el('td', 'share');
    if (limit && current !== null) {
      const pct = (100 * current) / limit;
      const bar = el('span', 'bar');
      const fill = el('span', 'fill' + (pct >= 100 ? ' over' : pct >= 80 ? ' near' : ''));
      fill.style.width = Math.min(100, pct).toFixed(1) + '%';
      bar.append(fill);
      const of = limitIn !== null ? 'limit' : 'critical';
      share.append(bar, el('span', 'pct', pct.toFixed(0) + '%'));
      if (of !== 'limit') share.append(el('span', 'muted', ' of ' + of));  // no limit rule
      share.title = formatter(metric)(current) + ' of ' + of + ' ' + formatter(metric)(limit);
    } else {
      share.textContent = 'no limit';
      share.classList.add('muted');
    }
    tr.append(share);

    const slopeCell = el('td', 'num', slopeText(slope));
    if (memory.leak_reason) slopeCell.title = memory.leak_reason;
    // Above the leak rule's rate: the trend the rule is there to catch.
    if (slope !== null && series && series.rate !== null && slope > series.rate) {
      slopeCell.classList.add('over');
    }
    tr.append(slopeCell);
    tr.append(el('td', 'num', record.worker === null && !record.requests ? '–' : record.requests));
    const restarts = el('td', 'num', record.restarts ?? 0);
    if ((record.restarts ?? 0) > 0) restarts.classList.add('warn');
    tr.append(restarts);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

// ---- charts ----

// warn/limit/critical as flat series over the chart's time range: uPlot draws them as lines
// with the same scale as the memory, so the distance to each reads at a glance.
const THRESHOLDS = [
  {key: 'warn', color: '#c99700'},
  {key: 'limit', color: '#d9480f'},
  {key: 'critical', color: '#c92a2a'},
];

// The thresholds a chart draws: those in the series' own metric (one on another metric, a gauge
// most of all, is in another unit).
function drawnThresholds(entry) {
  return THRESHOLDS.filter((t) => entry[t.key] !== null && !entry[t.key + 'Metric']);
}

function chartData(entry) {
  const data = [entry.times, entry.values];
  for (const t of drawnThresholds(entry)) data.push(entry.times.map(() => entry[t.key]));
  return data;
}

// Tick steps of the memory axis in powers of two (32 MiB, 64 MiB, …), as sizes are read.
const BINARY_STEPS = Array.from({length: 40}, (_, i) => 2 ** (i + 4));

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit',
                                                          second: '2-digit', hour12: false});
}

function chartOptions(entry, width) {
  const series = [
    {value: (u, v) => (v === null ? '–' : clock(v))},
    {label: entry.metric, stroke: '#1971c2', width: 2, fill: 'rgba(25,113,194,0.08)',
     value: (u, v) => formatter(entry.metric)(v)},
  ];
  for (const t of drawnThresholds(entry)) {
    series.push({label: t.key, stroke: t.color, width: 1.5, dash: [6, 4],
                 value: (u, v) => formatter(entry.metric)(v), points: {show: false}});
  }
  const axis = {stroke: '#555', grid: {stroke: '#eee'}, ticks: {stroke: '#ddd'},
                font: '11px system-ui, sans-serif'};
  return {
    width,
    height: 190,
    series,
    legend: {show: false},  // the card's own line names the lines (chartLegend)
    cursor: {drag: {x: false, y: false}},
    scales: {y: {range: (u, min, max) => [0, Math.max(max * 1.08, 1)]}},
    axes: [
      {...axis, space: 70, values: (u, splits) => splits.map(clock)},
      entry.metric.startsWith('gauge:')
          ? {...axis, size: 78, values: (u, splits) => splits.map(formatter(entry.metric))}
          : {...axis, size: 78, incrs: BINARY_STEPS, values: (u, splits) => splits.map(bytes)},
    ],
  };
}

// The card's legend: the metric and each threshold in its line's colour, with its size.
function chartLegend(entry) {
  const legend = el('div', 'legend');
  legend.append(el('span', 'key key-metric', entry.metric));
  for (const t of THRESHOLDS) {
    if (entry[t.key] === null) continue;
    const other = entry[t.key + 'Metric'];
    // One on another metric is named in its own unit, and not drawn.
    legend.append(el('span', 'key key-' + t.key + (other ? ' muted' : ''),
                     t.key + ' ' + formatter(other || entry.metric)(entry[t.key]) +
                         (other ? ' (' + other + ', not drawn)' : '')));
  }
  return legend;
}

function chartWidth(card) {
  return Math.max(240, card.clientWidth);
}

function thresholdsKey(entry) {
  return THRESHOLDS.map((t) => entry[t.key] + (entry[t.key + 'Metric'] || '')).join('/') +
         entry.metric;
}

function renderCharts() {
  const container = document.getElementById('charts');
  const seen = new Set();
  for (const entry of state.series.values()) {
    seen.add(entry.unit);
    let chart = state.charts.get(entry.unit);
    if (chart && chart.key !== thresholdsKey(entry)) {  // thresholds changed (a reload)
      chart.plot.destroy();
      chart.card.remove();
      state.charts.delete(entry.unit);
      chart = undefined;
    }
    if (!chart) {
      const card = el('div', 'chart');
      card.dataset.instance = entry.unit;
      const heading = el('div', 'chart-title');
      const note = el('span', 'muted');
      heading.append(el('span', 'name', entry.unit), note);
      card.append(heading, chartLegend(entry));
      container.append(card);  // in the grid first, so that its width is known
      const plot = new uPlot(chartOptions(entry, chartWidth(card)), chartData(entry), card);
      chart = {plot, card, note, key: thresholdsKey(entry)};
      state.charts.set(entry.unit, chart);
    } else {
      chart.plot.setData(chartData(entry));
    }
    chart.card.dataset.points = String(entry.values.length);
    chart.note.textContent = (entry.slope !== null ? 'slope ' + slopeText(entry.slope) + ' · ' : '') +
        entry.values.length + ' samples';
  }
  for (const [unit, chart] of state.charts) {
    if (!seen.has(unit)) {
      chart.plot.destroy();
      chart.card.remove();
      state.charts.delete(unit);
    }
  }
}

// ---- events and incidents ----

function eventText(e) {
  const who = e.service ? e.service + (e.instance ? '.' + e.instance : '') : '';
  const parts = [e.event || '?'];
  if (who) parts.push(who);
  if (e.reason) parts.push('(' + e.reason + ')');
  if (e.message) parts.push('— ' + e.message);
  return parts.join(' ');
}

function renderEvents() {
  const list = document.getElementById('events');
  const items = state.events.slice(0, MAX_EVENTS_SHOWN).map((e) => {
    const li = el('li', 'event event-' + (e.event || 'unknown'));
    const ts = (e.ts || '').replace(/^\d{4}-\d\d-\d\dT/, '').replace(/(\.\d+)?(Z|[+-]\d\d:\d\d)$/, '');
    li.append(el('time', 'muted', ts), el('span', '', eventText(e)));
    return li;
  });
  if (items.length === 0) items.push(el('li', 'muted', 'no events yet'));
  list.replaceChildren(...items);
}

function renderIncidents(json) {
  const list = document.getElementById('incidents');
  const items = (json.incidents || []).map((incident) => {
    const li = el('li', 'incident trigger-' + (incident.trigger || 'unknown'));
    li.dataset.id = incident.id;
    const head = el('div');
    head.append(el('strong', '', incident.trigger || '?'), el('span', '', ' ' + incident.instance),
                el('span', 'muted', ' ' + (incident.ts || '').replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC')));
    const files = el('div', 'files');
    for (const file of incident.files || []) {
      const a = el('a', '', file.name);
      a.href = '/incidents/' + encodeURIComponent(incident.id) + '/' +
          encodeURIComponent(file.name);
      a.target = '_blank';
      a.rel = 'noopener';
      files.append(a);
    }
    li.append(head, files);
    return li;
  });
  if (items.length === 0) items.push(el('li', 'muted', 'no incidents'));
  list.replaceChildren(...items);
}

// ---- polling ----

async function pollEvents() {
  const json = await getJson('/api/events?after=' + state.afterSeq);
  if (json.last < state.afterSeq) {  // the supervisor restarted: its numbering starts over
    state.afterSeq = 0;
    state.events = [];
    return pollEvents();
  }
  for (const e of json.events) state.events.unshift(e);
  state.events.length = Math.min(state.events.length, MAX_EVENTS_SHOWN);
  state.afterSeq = json.last;
}

async function poll() {
  const connection = document.getElementById('connection');
  try {
    const [status, series, incidents] = await Promise.all([
      getJson('/status'),
      getJson('/api/series'),
      getJson('/api/incidents'),
      pollEvents(),
    ]);
    if (!series.pending) state.series = normaliseSeries(series);  // kept until first built
    renderTotals(status);
    renderInstances(status);
    renderCharts();
    renderEvents();
    renderIncidents(incidents);
    connection.textContent = 'live';
    connection.className = 'badge ok';
    document.getElementById('updated').textContent =
        'updated ' + new Date().toLocaleTimeString();
  } catch (error) {
    connection.textContent = 'no answer from memvisor';
    connection.className = 'badge bad';
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

// The grid's columns follow the window: each chart takes its card's new width.
window.addEventListener('resize', () => {
  for (const chart of state.charts.values()) {
    chart.plot.setSize({width: chartWidth(chart.card), height: 190});
  }
});

poll();
