/* The dashboard: the report figures of GET /api/reports/summary as numbers, and
 * GET /api/reports/timeseries as charts drawn by the vendored Chart.js (no CDN).
 * The tiles show the API's numbers as they are (seconds, rates); charts only rescale for the axis.
 */
"use strict";

const PERIODS = {"24h": {hours: 24, interval: "hour"}, "7d": {hours: 24 * 7, interval: "day"},
                 "30d": {hours: 24 * 30, interval: "day"}};
const charts = {};
const byId = (id) => document.getElementById(id);

function period() {
  const choice = PERIODS[byId("d-period").value];
  const step = choice.interval === "hour" ? 3600e3 : 86400e3;
  // Whole buckets: the end is the start of the next hour (or day, UTC), so each point is one full bucket.
  const end = new Date(Math.ceil(Date.now() / step) * step);
  const start = new Date(end.getTime() - choice.hours * 3600e3);
  const params = new URLSearchParams({from: start.toISOString(), to: end.toISOString()});
  if (byId("d-queue").value) params.set("queue", byId("d-queue").value);
  if (byId("d-channel").value) params.set("channel", byId("d-channel").value);
  return {params, interval: choice.interval};
}

function pick(data, path) {
  return path.split(".").reduce((value, key) => (value == null ? null : value[key]), data);
}

const KPIS = [
  ["New conversations", "volume.new"], ["Reopened", "volume.reopened"],
  ["Messages in", "volume.messages_in"], ["Messages out", "volume.messages_out"],
  ["First response median (s)", "first_response_seconds.median"], ["First response p90 (s)", "first_response_seconds.p90"],
  ["Resolution median (s)", "resolution_seconds.median"], ["Resolution p90 (s)", "resolution_seconds.p90"],
  ["First contact resolution", "fcr_rate"], ["SLA warnings", "sla.warnings"], ["SLA breaches", "sla.breaches"],
  ["SLA compliance", "sla.compliance"], ["Escalations", "escalations"], ["Transfers", "transfers"],
  ["CSAT average", "csat.average"], ["CSAT responses", "csat.responses"], ["CSAT surveys sent", "csat.sent"],
  ["CSAT response rate", "csat.response_rate"],
];

function renderKpis(summary) {
  byId("kpis").replaceChildren(...KPIS.map(([label, path]) => {
    const value = pick(summary, path);
    return el("div", {class: "kpi", dataset: {metric: path}},
      el("div", {class: "label"}, label),
      el("div", {class: "value"}, value === null || value === undefined ? "—" : String(value)));
  }));
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  config.options = {responsive: true, maintainAspectRatio: false, animation: false,
                    interaction: {mode: "index", intersect: false}, ...config.options};
  charts[id] = new Chart(byId(id), config);
}

function label(iso, interval) {
  const date = new Date(iso);
  return interval === "hour" ? date.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"})
    : date.toLocaleDateString([], {month: "short", day: "numeric"});
}

async function series(metric, base) {
  const params = new URLSearchParams(base.params);
  params.set("metric", metric);
  params.set("interval", base.interval);
  const data = await api("/api/reports/timeseries?" + params);
  return data.points;
}

const minutes = (points) => points.map((p) => (p.value == null ? null : Math.round(p.value / 6) / 10));

async function load() {
  const base = period();
  byId("dash-error").textContent = "";
  let summary;
  try {
    summary = await api("/api/reports/summary?" + base.params);
  } catch (error) {
    byId("dash-error").textContent = error.status === 404
      ? "Reports are not available on this gateway (no /api/reports)." : error.message;
    return;
  }
  renderKpis(summary);
  const [created, reopened, frt, resolution, csat, responses] = await Promise.all(
    ["volume.new", "volume.reopened", "first_response_seconds.median", "resolution_seconds.median",
     "csat.average", "csat.responses"].map((metric) => series(metric, base)));
  const labels = created.map((p) => label(p.start, base.interval));
  draw("chart-volume", {type: "bar", data: {labels, datasets: [
    {label: "new", data: created.map((p) => p.value), backgroundColor: "#4c6ef5"},
    {label: "reopened", data: reopened.map((p) => p.value), backgroundColor: "#fab005"}]},
    options: {scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}});
  draw("chart-times", {type: "line", data: {labels, datasets: [
    {label: "first response", data: minutes(frt), borderColor: "#1c7ed6", spanGaps: true},
    {label: "resolution", data: minutes(resolution), borderColor: "#e8590c", spanGaps: true}]},
    options: {scales: {y: {beginAtZero: true}}}});
  const clocks = (summary.sla && summary.sla.clocks) || {};
  const clockNames = Object.keys(clocks);
  draw("chart-sla", {type: "bar", data: {labels: clockNames.map((c) => c.replace("_", " ")), datasets: [
    {label: "compliance %", backgroundColor: "#37b24d",
     data: clockNames.map((c) => (clocks[c].compliance == null ? null : Math.round(clocks[c].compliance * 1000) / 10))}]},
    options: {indexAxis: "y", scales: {x: {min: 0, max: 100}}}});
  draw("chart-csat", {type: "line", data: {labels, datasets: [
    {label: "average rating", data: csat.map((p) => p.value), borderColor: "#ae3ec9", yAxisID: "y", spanGaps: true},
    {label: "responses", data: responses.map((p) => p.value), type: "bar", backgroundColor: "#e599f7", yAxisID: "y1"}]},
    options: {scales: {y: {min: 1, max: 5, position: "left"},
                       y1: {beginAtZero: true, position: "right", grid: {drawOnChartArea: false}, ticks: {precision: 0}}}}});
  loadAlerts();
}

async function loadAlerts() {
  let alerts = [];
  try {
    alerts = (await api("/api/alerts?limit=20")).alerts || [];
  } catch (error) {
    byId("alerts").replaceChildren(el("li", {class: "muted"}, error.status === 404 ? "not available" : error.message));
    return;
  }
  byId("alerts").replaceChildren(...(alerts.length ? alerts.map((a) =>
    el("li", {}, `${when(a.fired_at)} · ${a.text}` + (a.notify ? ` (${a.notify})` : "")))
    : [el("li", {class: "muted"}, "none")]));
}

async function start() {
  byId("whoami").textContent = Auth.agent();
  try {
    const rules = await api("/api/rules");
    const select = byId("d-queue");
    select.replaceChildren(el("option", {value: ""}, "all"), ...rules.queues.map((q) => el("option", {value: q}, q)));
  } catch (error) { /* the queue filter stays at "all" */ }
  load();
}

document.addEventListener("DOMContentLoaded", () => {
  byId("filters-bar").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  for (const id of ["d-period", "d-queue", "d-channel"]) byId(id).addEventListener("change", load);
  setUpSignIn(start);
});
