// driftline dashboard: fetches the JSON views and lets plotly.js (served locally) draw them.
"use strict";

const REFRESH_MS = 5000;
const PLOT_CONFIG = { displaylogo: false, responsive: true };
let refreshing = false;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fmt(value, digits = 4) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function table(headers, rows) {
  if (!rows.length) return el("p", { class: "empty", text: "nothing yet" });
  return el("table", {},
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c))))));
}

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function draw(node, figure) {
  if (!figure) {
    node.replaceChildren(el("p", { class: "empty", text: "no data yet" }));
    node.dataset.drawn = "0";
    return Promise.resolve();
  }
  if (node.dataset.drawn === "0") node.replaceChildren();
  node.dataset.drawn = "1";
  return Plotly.react(node, figure.data, figure.layout, PLOT_CONFIG);
}

function renderSummary(overview) {
  const parts = [
    `${overview.tasks.length} tasks`,
    `${overview.alerts} alerts`,
    `${overview.retrain_requests} retrain requests`,
    `${overview.model_updates} model updates`,
    `champion ${overview.champion ? "v" + overview.champion : "unknown"}`,
    `${overview.dead_letters} dead letters`,
  ];
  document.getElementById("summary").textContent = parts.join(" · ");
}

function renderCards(overview) {
  const cards = overview.tasks.map((t) =>
    el("a", { href: `#task-${t.task}`, style: "text-decoration:none;color:inherit" },
      el("div", { class: `card ${t.status}`, id: `card-${t.task}` },
        el("div", { class: "name", text: t.task }),
        el("div", { class: "status", text: t.status === "drift" ? `drift: ${t.alerts_this_version} alert${t.alerts_this_version === 1 ? "" : "s"}` : t.status }),
        el("div", {}, `${t.metric || "metric"} ${fmt(t.value)} · coverage ${fmt(t.coverage, 3)}`),
        el("div", {}, `v${t.version ?? "?"} · ${t.labels} labels`))));
  document.getElementById("cards").replaceChildren(...cards);
}

function ensureTaskSection(task) {
  let section = document.getElementById(`task-${task}`);
  if (section) return section;
  section = el("div", { class: "task", id: `task-${task}` },
    el("h3", { text: task }),
    el("div", { class: "chart", id: `chart-${task}` }),
    el("div", { class: "row" },
      el("div", { id: `slices-${task}` }),
      el("div", { id: `slice-compare-${task}` })),
    el("div", { id: `alerts-${task}` }));
  document.getElementById("task-sections").append(section);
  return section;
}

async function renderTask(task) {
  ensureTaskSection(task);
  const view = await getJSON(`/api/tasks/${encodeURIComponent(task)}`);
  const chart = document.getElementById(`chart-${task}`);
  await draw(chart, view.figure);
  chart.dataset.alerts = String(view.figure.layout.meta.alerts);
  const slices = document.getElementById(`slices-${task}`);
  const compare = document.getElementById(`slice-compare-${task}`);
  if (view.slices) {
    slices.classList.add("chart", "small");
    compare.classList.add("chart", "small");
    await draw(slices, view.slices);
    await draw(compare, view.slice_comparison);
  }
  const rows = view.alerts.slice(0, 10).map((a) => [
    a.event_time, el("span", { class: `badge ${a.severity}`, text: a.severity }),
    `${a.detector} (${a.signal})`, Object.entries(a.slice).map(([k, v]) => `${k}=${v}`).join(",") || "–",
    `${a.metric} = ${fmt(a.value)} (baseline ${fmt(a.baseline)})`, `v${a.model_version}`, a.alert_id,
  ]);
  document.getElementById(`alerts-${task}`).replaceChildren(
    el("details", view.alerts.length ? { open: "" } : {},
      el("summary", { text: `alerts (${view.alerts.length})` }),
      table(["event time", "severity", "detector", "slice", "value", "version", "alert id"], rows)));
}

function gateCell(update) {
  const lines = [];
  for (const [task, metrics] of Object.entries(update.gate)) {
    const verdict = update.verdicts[task];
    let line = `${task}: ` + Object.entries(metrics)
      .map(([m, v]) => `${m} ${fmt(v.candidate)} vs ${fmt(v.champion)}`).join(", ");
    if (verdict) {
      line += ` — ${verdict.passed ? "pass" : "fail"} (${verdict.rule}, ${verdict.metric} Δ ${fmt(verdict.improvement)}` +
        ` [${fmt(verdict.low)}, ${fmt(verdict.high)}] at ${Math.round(verdict.confidence * 100)}%)`;
    }
    lines.push(el("div", { text: line }));
  }
  return el("div", {}, ...lines);
}

async function renderRetrains() {
  const rows = await getJSON("/api/retrains");
  const cells = [];
  for (const row of rows) {
    const updates = row.updates.length ? row.updates : [null];
    for (const update of updates) {
      cells.push([
        row.requested_at, row.request_id ? row.request_id.slice(0, 12) : "(manual)",
        row.tasks.join(", "), row.reason,
        update && update.version ? (update.registry_link ? el("a", { href: update.registry_link, text: `v${update.version}` }) : `v${update.version}`) : "–",
        update ? gateCell(update) : "waiting for the retrainer",
        el("span", { class: `badge ${update ? update.status : "pending"}`, text: update ? update.status : "pending" }),
      ]);
    }
  }
  document.getElementById("retrain-table").replaceChildren(
    table(["requested", "request", "tasks", "reason", "candidate", "gate (candidate vs champion)", "decision"], cells));
}

async function renderDeadLetters() {
  const view = await getJSON("/api/dead-letters");
  await draw(document.getElementById("dead-figure"), view.figure);
  document.getElementById("dead-table").replaceChildren(
    table(["topic", "stage", "reason", "count"], view.by_reason.map((r) => [r.topic, r.stage, r.reason, r.count])));
}

async function renderLag() {
  const view = await getJSON("/api/lag");
  await draw(document.getElementById("lag-figure"), view.figure);
  const rows = view.rows.map((r) => [r.group, r.topic, r.partition, r.committed ?? "–", r.end, r.lag]);
  const note = view.error ? el("p", { class: "empty", text: `lag not read: ${view.error}` }) : null;
  document.getElementById("lag-table").replaceChildren(
    ...(note ? [note] : []), table(["group", "topic", "partition", "committed", "end", "lag"], rows));
}

async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try {
    const overview = await getJSON("/api/overview");
    renderSummary(overview);
    renderCards(overview);
    for (const t of overview.tasks) await renderTask(t.task);
    await renderRetrains();
    await renderDeadLetters();
    await renderLag();
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  } catch (error) {
    document.getElementById("summary").textContent = `could not refresh: ${error.message}`;
  } finally {
    refreshing = false;
  }
}

document.getElementById("refresh").textContent = String(REFRESH_MS / 1000);
refresh();
setInterval(refresh, REFRESH_MS);
