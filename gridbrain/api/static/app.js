// The live page: sites, a series' recent actuals with its newest forecast fan, incidents,
// and the pipeline's throughput and lag, refreshed every 5 s from the API.
"use strict";

const REFRESH_MS = 5000;
const HISTORY_H = 48;
const UNITS = { pv_power: "kW", wind_power: "kW", load: "kW", pm25: "µg/m³", pm10: "µg/m³", temperature: "°C", dissolved_oxygen: "mg/L", price: "EUR/MWh" };
const state = { series: [], chosen: null, lastStatus: null };

function token() { return sessionStorage.getItem("gridbrain-token") || ""; }

async function api(path) {
  const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
  const response = await fetch(path, { headers });
  if (response.status === 401) {
    document.getElementById("login").hidden = false;
    throw new Error("a token is needed");
  }
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function text(node, value) { node.textContent = value == null ? "" : String(value); }

function fillTable(id, rows, cells) {
  const body = document.querySelector(`#${id} tbody`);
  body.textContent = "";
  for (const row of rows) {
    const tr = document.createElement("tr");
    for (const [value, cls] of cells(row)) {
      const td = document.createElement("td");
      text(td, value);
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 4; td.className = "muted"; text(td, "none");
    tr.appendChild(td); body.appendChild(tr);
  }
}

const short = (iso) => (iso ? iso.replace("T", " ").slice(0, 16) : "");
const key = (s) => `${s.site_id}/${s.quantity}`;

async function loadSeries() {
  const series = await api("/series");
  const select = document.getElementById("series");
  const known = new Set(state.series.map(key));
  if (series.length !== known.size || series.some((s) => !known.has(key(s)))) {
    state.series = series;
    select.textContent = "";
    for (const s of series) {
      const option = document.createElement("option");
      option.value = key(s); text(option, `${s.site_id} · ${s.quantity}`);
      select.appendChild(option);
    }
    const fromHash = decodeURIComponent(location.hash.slice(1));
    const pick = series.find((s) => key(s) === (state.chosen || fromHash)) || series.find((s) => s.quantity === "pv_power") || series[0];
    if (pick) { state.chosen = key(pick); select.value = state.chosen; }
  }
}

async function drawChosen() {
  const chart = document.getElementById("chart");
  if (!state.chosen) { text(chart, "no forecasts yet: the first ones come once a site has a few hours of data"); return; }
  const [site, quantity] = state.chosen.split("/");
  const q = `site=${encodeURIComponent(site)}&quantity=${encodeURIComponent(quantity)}`;
  const forecast = await api(`/forecasts/latest?${q}&limit=10000`);
  const end = forecast.length ? new Date(forecast[forecast.length - 1].target_ts) : new Date();
  const newest = forecast.length ? new Date(forecast[0].issued_at) : new Date();
  const start = new Date(newest.getTime() - HISTORY_H * 3600e3);
  const readings = await api(`/readings?${q}&start=${start.toISOString()}&end=${end.toISOString()}&limit=10000`);
  const model = forecast.length ? forecast[0].model : null;
  const ours = forecast.filter((r) => r.model === model);
  const at = (r) => Date.parse(r.target_ts);
  drawFanChart(chart, {
    actual: readings.map((r) => [Date.parse(r.ts), r.value]),
    p10: ours.map((r) => [at(r), r.p10]),
    p50: ours.map((r) => [at(r), r.p50]),
    p90: ours.map((r) => [at(r), r.p90]),
  }, { unit: UNITS[quantity] || quantity, now: newest.getTime() });
  text(document.getElementById("updated"), forecast.length ? `forecast issued ${short(forecast[0].issued_at)} UTC by ${model}` : "no forecast yet");
}

async function loadSides() {
  const [sites, open, recent] = await Promise.all([api("/sites"), api("/alerts?state=firing&limit=50"), api("/alerts?limit=20")]);
  fillTable("sites", sites, (s) => [[s.site_id], [s.kind], [s.capacity_kw]]);
  const seen = new Set(open.map((a) => a.id));
  const incidents = [...open, ...recent.filter((a) => !seen.has(a.id))].slice(0, 20);
  fillTable("incidents", incidents, (a) => [[a.state, `state-${a.state}`], [a.site_id], [a.rule], [short(a.fired_at || a.started_at).slice(5)]]);
}

async function loadPipeline() {
  const status = await api("/status");
  const now = performance.now();
  const received = status.stages.filter((s) => s.stage === "clean" && s.topic === "sensor.readings").reduce((n, s) => n + s.received, 0);
  const lag = status.stages.reduce((n, s) => n + (Number.isInteger(s.lag) ? s.lag : 0), 0);
  let rate = "";
  if (state.lastStatus) {
    const seconds = (now - state.lastStatus.at) / 1000;
    rate = `${Math.max(0, Math.round((received - state.lastStatus.received) / seconds)).toLocaleString()} readings/s · `;
  }
  state.lastStatus = { at: now, received };
  const box = document.getElementById("pipeline");
  box.textContent = "";
  const b = document.createElement("b"); text(b, received.toLocaleString());
  box.append(rate, b, ` readings received · lag ${lag.toLocaleString()} messages · ${status.workers.length} worker(s)`);
}

async function refresh() {
  const results = await Promise.allSettled([loadSeries().then(drawChosen), loadSides(), loadPipeline()]);
  const failed = results.filter((r) => r.status === "rejected");
  if (failed.length) text(document.getElementById("updated"), `update failed: ${failed[0].reason.message}`);
}

document.getElementById("series").addEventListener("change", (event) => {
  state.chosen = event.target.value;
  location.hash = encodeURIComponent(state.chosen);
  drawChosen().catch(() => {});
});
document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("gridbrain-token", document.getElementById("token").value);
  document.getElementById("login").hidden = true;
  refresh();
});
window.addEventListener("resize", () => drawChosen().catch(() => {}));
refresh();
setInterval(refresh, REFRESH_MS);
