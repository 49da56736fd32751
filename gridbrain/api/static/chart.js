// Gridbrain's own small SVG chart: actuals as a line, a forecast as a p10–p90 fan with
// its p50. No library, nothing loaded from the internet.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function niceTicks(lo, hi, count) {
  const span = hi - lo || 1;
  const raw = span / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(t);
  return ticks;
}

function timeTicks(lo, hi, count) {
  const hour = 3600e3;
  const steps = [1, 2, 3, 6, 12, 24, 48].map((h) => h * hour);
  const step = steps.find((s) => (hi - lo) / s <= count) || steps[steps.length - 1];
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t);
  return ticks;
}

function label(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  return hm === "00:00" ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` : hm;
}

// series: {actual: [[ms, v|null]], p10/p50/p90: [[ms, v]]}, unit label, now (ms)
function drawFanChart(container, series, options) {
  container.textContent = "";
  const width = container.clientWidth || 800;
  const height = container.clientHeight || 380;
  const m = { top: 12, right: 16, bottom: 28, left: 56 };
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, "data-points": String(series.actual.length + series.p50.length) }, container);
  const all = [...series.actual, ...series.p10, ...series.p90, ...series.p50].filter((p) => p[1] !== null && Number.isFinite(p[1]));
  if (!all.length) {
    el("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty" }, svg).textContent = "no data yet";
    return svg;
  }
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(0, ...ys), Math.max(...ys)];
  if (x1 === x0) x1 = x0 + 3600e3;
  if (y1 === y0) y1 = y0 + 1;
  y1 += (y1 - y0) * 0.05;
  const X = (t) => m.left + ((t - x0) / (x1 - x0)) * (width - m.left - m.right);
  const Y = (v) => height - m.bottom - ((v - y0) / (y1 - y0)) * (height - m.top - m.bottom);

  const grid = el("g", { class: "grid" }, svg);
  const axis = el("g", { class: "axis" }, svg);
  for (const t of niceTicks(y0, y1, 5)) {
    el("line", { x1: m.left, x2: width - m.right, y1: Y(t), y2: Y(t) }, grid);
    el("text", { x: m.left - 6, y: Y(t) + 4, "text-anchor": "end" }, axis).textContent = +t.toPrecision(4);
  }
  for (const t of timeTicks(x0, x1, 8)) {
    el("line", { x1: X(t), x2: X(t), y1: height - m.bottom, y2: height - m.bottom + 4 }, axis);
    el("text", { x: X(t), y: height - m.bottom + 16, "text-anchor": "middle" }, axis).textContent = label(t);
  }
  if (options && options.unit) {
    el("text", { x: 4, y: m.top + 4, class: "unit" }, axis).textContent = options.unit;
  }
  if (series.p10.length) {
    const upper = series.p90.map((p) => `${X(p[0])},${Y(p[1])}`);
    const lower = series.p10.slice().reverse().map((p) => `${X(p[0])},${Y(p[1])}`);
    el("polygon", { points: [...upper, ...lower].join(" "), fill: "var(--fan)", class: "fan" }, svg);
  }
  const path = (points) => {
    let d = "";
    let pen = false;
    for (const [t, v] of points) {
      if (v === null || !Number.isFinite(v)) { pen = false; continue; }
      d += `${pen ? "L" : "M"}${X(t).toFixed(1)},${Y(v).toFixed(1)}`;
      pen = true;
    }
    return d;
  };
  if (series.p50.length) {
    el("path", { d: path(series.p50), fill: "none", stroke: "var(--p50)", "stroke-width": 2, "stroke-dasharray": "6 4", class: "p50" }, svg);
  }
  el("path", { d: path(series.actual), fill: "none", stroke: "var(--actual)", "stroke-width": 1.6, class: "actual" }, svg);
  const now = options && options.now;
  if (now && now >= x0 && now <= x1) {
    el("line", { x1: X(now), x2: X(now), y1: m.top, y2: height - m.bottom, class: "now" }, svg);
  }
  return svg;
}

window.drawFanChart = drawFanChart;
