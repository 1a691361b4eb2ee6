// The chive-admin dashboard: plain DOM, no framework, no build step. Every value from the server is written with
// textContent, never parsed as markup: error messages and URLs come from PDSes we do not control.

const KEY_SLOT = "chive-admin.key";
const ACTIVE_EVERY_MS = 1000;
const OTHERS_EVERY_MS = 3000;
// the form a session starts on: the scan a new operator runs first
const DEFAULT_TYPE = "pds-scan";

const $ = (id) => document.getElementById(id);

class XrpcError extends Error {
  constructor(status, error, message) {
    super(message);
    this.status = status;
    this.error = error;
  }

  toString() {
    return `${this.error}: ${this.message}`;
  }
}

let config = null;

function storedKey() {
  return sessionStorage.getItem(KEY_SLOT);
}

async function call(path, { params, body } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const init = { method: body === undefined ? "GET" : "POST", headers: { Authorization: `Bearer ${storedKey()}` } };
  // every read here refreshes a view, most of them every second or three: the server logs those at DEBUG (its
  // refusals stay at INFO), so an open tab does not fill the log; what the operator does (a POST) stays at INFO
  if (body === undefined) init.headers["Chive-Admin-Poll"] = "1";
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new XrpcError(0, "Unreachable", "the server did not answer");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new XrpcError(response.status, data?.error ?? `HTTP ${response.status}`, data?.message ?? "request failed");
  }
  return data;
}

const xrpc = (method, options) => call(`/xrpc/${method}`, options);

// --- small DOM helpers -------------------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else if (name.startsWith("data-")) node.setAttribute(name, value);
    else node[name] = value;
  }
  node.append(...children);
  return node;
}

const cell = (text, className = "") => el("td", { text: text ?? "", className });

// A table's rows, or one row saying there is nothing (an empty table must not look like a broken one).
function fillTable(table, rows, emptyText) {
  const columns = table.tHead.rows[0].cells.length;
  const empty = el("tr", { className: "empty" }, el("td", { colSpan: columns, className: "muted", text: emptyText }));
  table.tBodies[0].replaceChildren(...(rows.length ? rows : [empty]));
}

// A JSON value from the server as one line of text (objects and arrays as JSON; never markup).
function plain(value) {
  if (value === undefined || value === null) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

function confirmAction(text) {
  const dialog = $("confirm-dialog");
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    const finish = (answer) => {
      $("confirm-yes").onclick = null;
      $("confirm-no").onclick = null;
      dialog.onclose = null;
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    $("confirm-yes").onclick = () => finish(true);
    $("confirm-no").onclick = () => finish(false);
    dialog.onclose = () => finish(false);
    dialog.showModal();
  });
}

function say(id, text, isError = false) {
  const node = $(id);
  node.textContent = text;
  node.className = isError ? "error" : "ok";
}

// A refused key ends the session wherever it is noticed, so a revoked key cannot keep a stale console open.
function handleFailure(err, where) {
  if (err instanceof XrpcError && (err.status === 401 || err.status === 403)) {
    signOut(refusal(err));
    return;
  }
  say(where, String(err), true);
}

function refusal(err) {
  if (err.status === 403) return `This key works, but its DID is not an admin (${err.error}).`;
  return `The server refused this key (${err.error}): ${err.message}`;
}

// --- operations --------------------------------------------------------------------------------------------------

function progressCell(op) {
  const done = op.recordsProcessed ?? 0;
  const total = op.totalRecords;
  const bar = el("progress", { max: total || 1, value: total ? Math.min(done, total) : 0 });
  if (!total) bar.removeAttribute("value"); // indeterminate until the total is known
  const label = el("span", { className: "count", text: total ? `${done} / ${total}` : `${done}` });
  return el("td", { className: "progress" }, bar, label);
}

function rate(op) {
  const started = Date.parse(op.startedAt);
  const seconds = (Date.now() - started) / 1000;
  if (!op.recordsProcessed || !(seconds > 0)) return "";
  return `${Math.round(op.recordsProcessed / seconds).toLocaleString()} rec/s`;
}

async function cancelOp(op) {
  const ok = await confirmAction(
    `Cancel ${op.type} operation ${op.id}? It stops at its next checkpoint and keeps what it has committed.`,
  );
  if (!ok) return;
  try {
    await xrpc(config.methods.cancel, { body: { id: op.id } });
    say("banner", "");
    await refreshActive();
  } catch (err) {
    handleFailure(err, "banner");
  }
}

// What an op works on, from its params: the PDS, the DID, the record or the tier (whichever its type takes).
const TARGET_PARAMS = ["pdsUrl", "did", "uri", "tier"];

function opTarget(op) {
  const params = op.params ?? {};
  const key = TARGET_PARAMS.find((name) => params[name] !== undefined && params[name] !== null);
  if (key === undefined) return "";
  return key === "tier" ? `tier ${plain(params[key])}` : plain(params[key]);
}

// what names an op in both tables (the tests find its status by the op-status class); the id opens its details
function identityCells(op) {
  const open = el("button", { type: "button", className: "link mono op-open", text: op.id, title: "Show details" });
  open.addEventListener("click", () => showDetail(op.id));
  return [
    el("td", {}, open),
    cell(op.type),
    cell(op.status, `op-status status-${op.status}`),
    cell(opTarget(op), "mono op-target"),
  ];
}

function activeRow(op) {
  const cancel = el("button", {
    type: "button",
    text: op.status === "cancelling" ? "Cancelling…" : "Cancel",
    className: "danger",
    disabled: op.status === "cancelling",
  });
  cancel.addEventListener("click", () => cancelOp(op));
  return el(
    "tr",
    { "data-op-id": op.id },
    ...identityCells(op),
    cell(op.stage ?? ""),
    progressCell(op),
    cell(rate(op)),
    cell(op.etaSeconds !== undefined ? `${op.etaSeconds}s` : ""),
    el("td", {}, cancel),
  );
}

async function refreshActive() {
  const answer = await xrpc(config.methods.status);
  fillTable($("active-ops"), (answer.operations ?? []).map(activeRow), "No active operations.");
  await refreshDetail();
}

function historyRow(op) {
  const error = op.error ? `${op.errorCode ?? "error"}: ${op.error}` : "";
  return el(
    "tr",
    { "data-op-id": op.id },
    ...identityCells(op),
    cell(String(op.recordsProcessed ?? 0), "op-records"),
    cell(String(op.recordsFailed ?? 0)),
    cell(when(op.startedAt)),
    cell(when(op.completedAt)),
    cell(error, "error-text"),
  );
}

async function refreshHistory() {
  const answer = await xrpc(config.methods.history);
  fillTable($("history-ops"), answer.operations.map(historyRow), "No operation has ended yet.");
}

// --- one operation in detail -------------------------------------------------------------------------------------

let detailId = null;

function counts(op) {
  const records = op.totalRecords !== undefined ? `${op.recordsProcessed} / ${op.totalRecords}` : `${op.recordsProcessed}`;
  const parts = [`records ${records}`, `failed ${op.recordsFailed ?? 0}`];
  if (op.totalRepos !== undefined || op.processedRepos !== undefined) {
    parts.push(`repos ${op.processedRepos ?? 0}${op.totalRepos !== undefined ? ` / ${op.totalRepos}` : ""}`);
  }
  for (const [name, value] of Object.entries(op.counts ?? {})) parts.push(`${name} ${value}`);
  return parts.join(" · ");
}

// name/value pairs of an object from the server (params, error context) as nested dt/dd, all text
function pairs(object) {
  const entries = Object.entries(object ?? {});
  if (!entries.length) return el("span", { className: "muted", text: "none" });
  return el("dl", { className: "pairs" }, ...entries.flatMap(([name, value]) => [
    el("dt", { text: name }),
    el("dd", { className: "mono", text: plain(value) }),
  ]));
}

function detailFields(op) {
  return [
    ["Operation", el("span", { className: "mono", text: op.id })],
    ["Type", op.type],
    ["Status", el("span", { className: `op-status status-${op.status}`, text: op.status })],
    ["Target", el("span", { className: "mono", text: opTarget(op) || "—" })],
    ["Stage", op.stage ?? "—"],
    ["Counts", counts(op)],
    ["Parameters", pairs(op.params)],
    ["Error code", el("span", { className: "mono error-code", text: op.errorCode ?? "—" })],
    ["Error", el("span", { className: "error-text", text: op.error ?? "—" })],
    ["Error context", pairs(op.errorContext)],
    ["Attempts", String(op.attempts ?? 0)],
    ["Started by", el("span", { className: "mono", text: op.startedBy ?? "—" })],
    ["Triggered", when(op.startedAt)],
    ["Updated", when(op.updatedAt)],
    ["Ended", when(op.completedAt) || "—"],
  ];
}

function renderDetail(op) {
  $("detail-fields").replaceChildren(
    ...detailFields(op).flatMap(([name, value]) => [
      el("dt", { text: name }),
      typeof value === "string" ? el("dd", { text: value }) : el("dd", {}, value),
    ]),
  );
  $("op-detail").dataset.opId = op.id;
}

async function refreshDetail() {
  if (detailId === null) return;
  try {
    const answer = await xrpc(config.methods.status, { params: { id: detailId } });
    renderDetail(answer.operation);
    say("detail-message", "");
  } catch (err) {
    if (err instanceof XrpcError && err.status !== 401 && err.status !== 403) say("detail-message", String(err), true);
    else throw err;
  }
}

async function showDetail(id) {
  detailId = id;
  $("detail-fields").replaceChildren();
  $("op-detail").hidden = false;
  try {
    await refreshDetail();
  } catch (err) {
    handleFailure(err, "detail-message");
  }
  $("op-detail").scrollIntoView({ block: "nearest" });
}

function hideDetail() {
  detailId = null;
  $("op-detail").hidden = true;
  delete $("op-detail").dataset.opId;
}

// --- trigger forms -----------------------------------------------------------------------------------------------

function fieldInput(field) {
  const id = `field-${field.name}`;
  let input;
  if (field.options) {
    input = el("select", { id });
    if (!field.required) input.append(el("option", { value: "", text: `(default${field.default ? `: ${field.default}` : ""})` }));
    for (const option of field.options) input.append(el("option", { value: option, text: option }));
  } else if (field.kind === "integer") {
    input = el("input", { id, type: "number", step: 1, inputMode: "numeric" });
    if (field.minimum !== undefined) input.min = field.minimum;
    if (field.maximum !== undefined) input.max = field.maximum;
    if (field.default !== undefined) input.placeholder = `default ${field.default}`;
  } else {
    input = el("input", { id, type: "text", spellcheck: false });
  }
  input.required = field.required;
  input.dataset.field = field.name;
  input.dataset.kind = field.kind;
  const label = el("label", { htmlFor: id, text: field.required ? `${field.name} (required)` : field.name });
  const hint = el("small", { className: "muted", text: field.description });
  const problem = el("span", { className: "field-error", id: `${id}-error`, role: "alert" });
  return el("div", { className: "field" }, label, input, hint, problem);
}

function showFields() {
  const form = config.triggers.find((t) => t.type === $("trigger-type").value);
  $("trigger-fields").replaceChildren(...(form?.fields ?? []).map(fieldInput));
  say("trigger-message", "");
}

// The browser's own constraint checks (required, min, max, integer step) give the first message; the server's
// lexicon validation gives the rest, shown under the form as it was answered.
function collect(form) {
  const body = form.typeField ? { type: form.name } : {};
  let valid = true;
  for (const input of $("trigger-fields").querySelectorAll("[data-field]")) {
    const problem = $(`${input.id}-error`);
    problem.textContent = input.checkValidity() ? "" : input.validationMessage;
    valid = valid && input.checkValidity();
    const raw = input.value.trim();
    if (raw === "") continue;
    body[input.dataset.field] = input.dataset.kind === "integer" ? Number(raw) : raw;
  }
  return valid ? body : null;
}

async function startOp(event) {
  event.preventDefault();
  const form = config.triggers.find((t) => t.type === $("trigger-type").value);
  if (!form) return;
  const body = collect(form);
  if (body === null) {
    say("trigger-message", "Fix the highlighted fields first.", true);
    return;
  }
  try {
    const answer = await xrpc(form.method, { body });
    const id = answer.operationId ?? answer.operation?.id;
    say("trigger-message", `Started ${form.type} operation ${id}.`);
    await refreshActive();
  } catch (err) {
    handleFailure(err, "trigger-message");
  }
}

// --- dead-letter queue and PDS registry --------------------------------------------------------------------------

async function dlqAction(method, index, verb) {
  try {
    const answer = await xrpc(method, { body: { index } });
    say("dlq-message", answer.message ?? `${verb} entry ${index}.`, !answer.success);
    await refreshDlq();
  } catch (err) {
    handleFailure(err, "dlq-message");
  }
}

function dlqRow(entry, index) {
  const retry = el("button", { type: "button", text: "Retry" });
  retry.addEventListener("click", () => dlqAction(config.methods.retryDlq, index, "Retried"));
  const dismiss = el("button", { type: "button", text: "Dismiss", className: "danger" });
  dismiss.addEventListener("click", async () => {
    if (await confirmAction(`Dismiss dead-letter entry ${index} (${entry.errorType})? It will not be retried.`)) {
      await dlqAction(config.methods.dismissDlq, index, "Dismissed");
    }
  });
  return el(
    "tr",
    { "data-dlq-id": entry.id },
    cell(String(index)),
    cell(entry.errorType),
    cell(entry.errorMessage ?? "", "error-text"),
    cell(entry.uri ?? entry.did ?? "", "mono"),
    cell(String(entry.retryCount)),
    cell(when(entry.createdAt)),
    el("td", {}, retry, dismiss),
  );
}

async function refreshDlq() {
  const answer = await xrpc(config.methods.listDlq, { params: { limit: 100 } });
  fillTable($("dlq"), answer.entries.map(dlqRow), "The dead-letter queue is empty.");
  $("dlq-total").textContent = `(${answer.total})`;
}

function pdsRow(pds) {
  const rescan = el("button", { type: "button", text: "Rescan" });
  rescan.addEventListener("click", async () => {
    try {
      await xrpc(config.methods.rescanPds, { body: { pdsUrl: pds.url } });
      await refreshActive();
    } catch (err) {
      handleFailure(err, "banner");
    }
  });
  return el(
    "tr",
    { "data-pds": pds.url },
    cell(pds.url, "mono"),
    cell(pds.status ?? ""),
    cell(String(pds.recordCount ?? 0)),
    cell(String(pds.errorCount ?? 0)),
    cell(when(pds.lastScan)),
    cell(pds.lastError ?? "", "error-text"),
    el("td", {}, rescan),
  );
}

async function refreshPdses() {
  const answer = await xrpc(config.methods.listPdses, { params: { limit: 100 } });
  const stats = answer.stats ?? { total: 0, items: [] };
  fillTable($("pdses"), stats.items.map(pdsRow), "No PDS registered yet: a pds-scan registers the PDS it reads.");
  $("pds-total").textContent = `(${stats.total})`;
}

// --- the live indexer's sources (absent when it is off) -----------------------------------------------------------

function firehoseRow(source) {
  const lag = source.lagMs === undefined ? "unknown" : `${(source.lagMs / 1000).toFixed(1)} s`;
  return el(
    "tr",
    { "data-source": source.url },
    cell(source.url, "mono"),
    cell(source.connected ? "connected" : "disconnected", `firehose-state ${source.connected ? "ok" : "error-text"}`),
    cell(when(source.since)),
    cell(source.cursor ?? "none", "firehose-cursor"),
    cell(lag, "firehose-lag"),
    cell((source.eventsLastMinute / 60).toFixed(1), "firehose-rate"),
    cell(source.problem ?? "", "error-text firehose-problem"),
  );
}

async function refreshFirehose() {
  const answer = await xrpc(config.methods.firehoseStatus);
  const sources = answer.sources ?? [];
  $("firehose-panel").hidden = sources.length === 0;
  fillTable($("firehose"), sources.map(firehoseRow), "No firehose source.");
  $("firehose-cursor").textContent = answer.cursor === undefined ? "" : `(cursor ${answer.cursor})`;
}

// --- the local moderation record (read-only: the CLI writes it) ---------------------------------------------------

const account = (item) => (item.handle ? `${item.handle} (${item.did})` : item.did);

function warningRow(warning) {
  return el(
    "tr",
    { "data-warning-id": warning.id },
    cell(warning.id),
    cell(account(warning), "mono"),
    cell(warning.reason, "warning-reason"),
    cell(warning.issuedBy, "mono"),
    cell(when(warning.createdAt)),
    cell(warning.expiresAt ? when(warning.expiresAt) : "never"),
  );
}

function violationRow(violation) {
  const resolved = violation.resolvedAt
    ? `${when(violation.resolvedAt)}${violation.resolvedBy ? ` by ${violation.resolvedBy}` : ""}`
    : "open";
  return el(
    "tr",
    { "data-violation-id": violation.id },
    cell(violation.id),
    cell(account(violation), "mono"),
    cell(violation.type),
    cell(violation.severity, `severity severity-${violation.severity}`),
    cell(violation.description ?? "", "violation-description"),
    cell(violation.subjectUri ?? "", "mono"),
    cell(when(violation.createdAt)),
    cell(resolved, "violation-resolved"),
  );
}

async function refreshModeration() {
  const [warnings, violations] = await Promise.all([
    xrpc(config.methods.listWarnings, { params: { limit: 100 } }),
    xrpc(config.methods.listViolations, { params: { limit: 100 } }),
  ]);
  fillTable($("warnings"), warnings.warnings.map(warningRow), "No active warning.");
  $("warnings-total").textContent = `(${warnings.total})`;
  fillTable($("violations"), violations.violations.map(violationRow), "No violation recorded.");
  $("violations-total").textContent = `(${violations.total})`;
}

// --- engagement: the time series as an inline SVG chart, and the trending list ------------------------------------

const SVG = "http://www.w3.org/2000/svg";
const CHART = { width: 720, height: 220, left: 48, right: 12, top: 12, bottom: 28 };

function svg(tag, attrs = {}, text = undefined) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// Two lines (views, downloads) over the buckets, oldest left; the y axis from 0 to the largest count.
function drawSeries(buckets) {
  const { width, height, left, right, top, bottom } = CHART;
  const most = Math.max(1, ...buckets.map((b) => Math.max(b.views, b.downloads)));
  const x = (i) => left + (buckets.length > 1 ? (i * (width - left - right)) / (buckets.length - 1) : 0);
  const y = (v) => top + (height - top - bottom) * (1 - v / most);
  const line = (key, className) =>
    svg("polyline", { class: className, points: buckets.map((b, i) => `${x(i)},${y(b[key])}`).join(" ") });
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "engagement-caption" });
  chart.append(
    svg("line", { class: "chart-axis", x1: left, y1: top, x2: left, y2: height - bottom }),
    svg("line", { class: "chart-axis", x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }),
    svg("text", { class: "chart-label", x: left - 6, y: top + 10, "text-anchor": "end" }, String(most)),
    svg("text", { class: "chart-label", x: left - 6, y: height - bottom, "text-anchor": "end" }, "0"),
    line("views", "chart-views"),
    line("downloads", "chart-downloads"),
  );
  if (buckets.length) {
    const first = when(buckets[0].timestamp);
    const last = when(buckets[buckets.length - 1].timestamp);
    chart.append(
      svg("text", { class: "chart-label", x: left, y: height - 8 }, first),
      svg("text", { class: "chart-label", x: width - right, y: height - 8, "text-anchor": "end" }, last),
    );
  }
  return chart;
}

function trendingRow(item) {
  const thousandths = (v) => (v === undefined || v === null ? "" : (v / 1000).toFixed(2));
  return el(
    "tr",
    {},
    cell(item.title || item.uri, "trending-title"),
    cell(`${thousandths(item.velocity)}×`),
    cell(thousandths(item.acceleration)),
    cell(String(item.views ?? 0)),
    cell(String(item.downloads ?? 0)),
  );
}

async function refreshEngagement() {
  const granularity = $("engagement-granularity").value;
  const [series, trending] = await Promise.all([
    xrpc(config.methods.timeSeries, { params: { granularity } }),
    xrpc(config.methods.trending, { params: { window: "24h", limit: 10 } }),
  ]);
  const buckets = series.buckets ?? [];
  $("engagement-chart").replaceChildren(drawSeries(buckets));
  const views = buckets.reduce((sum, b) => sum + b.views, 0);
  const downloads = buckets.reduce((sum, b) => sum + b.downloads, 0);
  $("engagement-caption").replaceChildren(
    el("span", { className: "legend-views", text: `■ views ${views}` }),
    " · ",
    el("span", { className: "legend-downloads", text: `■ downloads ${downloads}` }),
  );
  fillTable($("trending"), trending.items.map(trendingRow), "Nothing viewed in the last 24 hours.");
}

// --- session -----------------------------------------------------------------------------------------------------

function every(ms, refresh) {
  let stopped = false;
  let timer = null;
  const loop = async () => {
    try {
      await refresh();
    } catch (err) {
      handleFailure(err, "banner");
    }
    if (!stopped) timer = setTimeout(loop, ms);
  };
  loop();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

let stoppers = [];

function startConsole() {
  $("signin").hidden = true;
  $("console").hidden = false;
  $("sign-out").hidden = false;
  $("server-info").textContent = `${config.serviceDid} · version ${config.version}`;
  $("trigger-type").replaceChildren(...config.triggers.map((t) => el("option", { value: t.type, text: t.type })));
  if (config.triggers.some((t) => t.type === DEFAULT_TYPE)) $("trigger-type").value = DEFAULT_TYPE;
  showFields();
  stoppers = [
    every(ACTIVE_EVERY_MS, refreshActive),
    every(OTHERS_EVERY_MS, async () => {
      await Promise.all([
        refreshHistory(),
        refreshDlq(),
        refreshPdses(),
        refreshModeration(),
        refreshFirehose(),
        refreshEngagement(),
      ]);
    }),
  ];
}

function signOut(message = "") {
  sessionStorage.removeItem(KEY_SLOT);
  for (const stop of stoppers) stop();
  stoppers = [];
  config = null;
  hideDetail();
  $("console").hidden = true;
  $("sign-out").hidden = true;
  $("signin").hidden = false;
  $("server-info").textContent = "";
  $("signin-error").textContent = message;
}

async function signIn() {
  try {
    config = await call("/admin/config.json");
  } catch (err) {
    signOut(err instanceof XrpcError && (err.status === 401 || err.status === 403) ? refusal(err) : String(err));
    return;
  }
  $("signin-error").textContent = "";
  startConsole();
}

function main() {
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    $("api-key").value = "";
    if (!key) return;
    sessionStorage.setItem(KEY_SLOT, key);
    signIn();
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("detail-close").addEventListener("click", hideDetail);
  $("trigger-type").addEventListener("change", showFields);
  $("trigger-form").addEventListener("submit", startOp);
  $("engagement-granularity").addEventListener("change", () => refreshEngagement().catch((err) => handleFailure(err, "banner")));
  if (storedKey()) signIn();
}

main();
