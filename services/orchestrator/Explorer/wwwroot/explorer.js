// The Saga Explorer: lists the orchestrator's sagas and shows one saga's steps, timeline and
// trace, live. Plain JavaScript against the orchestrator's own API: GET /sagas, GET /sagas/{id},
// the server-sent events of GET /sagas/changes, the operator actions, and /explorer/api/*.
"use strict";

const view = document.getElementById("view");
const live = document.getElementById("live");
const untraced = { "X-Untraced": "1" }; // the Explorer's own requests stay out of the sagas' traces
const serviceColours = { order: "#3d5afe", orchestrator: "#00897b", inventory: "#f57c00", payment: "#8e24aa", delivery: "#c2185b" };
const fallbackColours = ["#546e7a", "#5d4037", "#7cb342", "#0097a7"];
// What each step of the order saga does, for the list's introduction; a step not named here is shown by its name.
const stepPhrases = { inventory: "reserve stock", payment: "charge payment", delivery: "schedule delivery", stock: "commit the stock" };
let config = { traces: false, dashboardUrl: null, apiKeyRequired: false, steps: [], statuses: [] };
let current = null; // the view on screen: { kind, refresh(changes), tick() }

// ---------------------------------------------------------------- small helpers

/** Builds an element: h("td", { class: "num" }, "12 ms"). Text is always text, never HTML. */
function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "style" && typeof value === "object")
      for (const [property, setting] of Object.entries(value)) {
        if (property.startsWith("--")) element.style.setProperty(property, setting);
        else element.style[property] = setting;
      }
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json", ...untraced } });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ProblemError(response.status, body);
  return body;
}

class ProblemError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `The orchestrator answered ${status}.`);
    this.status = status;
    this.title = problem?.title ?? `HTTP ${status}`;
  }
}

function statusBadge(status, id) {
  return h("span", { class: `status status-${status}`, id }, status === "NeedsAttention" ? "Needs attention" : status);
}

function formatDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return minutes < 60 ? `${minutes} min ${Math.round((ms % 60_000) / 1000)} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** 14:03:07.215, in the browser's time zone. */
function clockTime(iso) {
  const at = new Date(iso);
  const two = n => String(n).padStart(2, "0");
  return `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}.${String(at.getMilliseconds()).padStart(3, "0")}`;
}

function formatAge(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

/** The saga's steps in order, as the orchestrator declares them (its config). */
const sagaSteps = () => (config.steps?.length ? config.steps : Object.keys(stepPhrases));
const isFinal = status => status === "Completed" || status === "Failed" || status === "Cancelled";
const isCompensation = outcome => /compensat|needs attention/.test(outcome);
const shortId = id => (id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id);

function showError(container, error) {
  container.replaceChildren(h("p", { class: "error", role: "alert" }, `${error.title ?? "Error"}: ${error.message}`));
}

// ---------------------------------------------------------------- the list of sagas

function listView(query) {
  const status = query.get("status") ?? "";
  const orderId = query.get("orderId") ?? "";
  const page = Math.max(1, Number(query.get("page") ?? 1) || 1);
  const pageSize = 25;

  const filter = h("select", { id: "status-filter", "aria-label": "Status", onchange: () => go({ status: filter.value, page: 1 }) },
    h("option", { value: "" }, "All statuses"),
    config.statuses.map(s => h("option", { value: s, selected: s === status }, s === "NeedsAttention" ? "Needs attention" : s)));
  const search = h("input", { id: "order-search", type: "search", placeholder: "Order id", value: orderId, "aria-label": "Find a saga by order id" });
  const find = h("form", { id: "find", class: "controls", onsubmit: event => { event.preventDefault(); go({ orderId: search.value.trim(), page: 1 }, true); } },
    search, h("button", { type: "submit", class: "primary" }, "Find"),
    orderId ? h("button", { type: "button", onclick: () => go({ orderId: "", page: 1 }) }, "Clear") : null);
  const body = h("tbody");
  const summary = h("span", { class: "muted", id: "list-summary" });
  const previous = h("button", { id: "previous-page", disabled: page <= 1, onclick: () => go({ page: page - 1 }) }, "← Newer");
  const next = h("button", { id: "next-page", disabled: true, onclick: () => go({ page: page + 1 }) }, "Older →");
  const message = h("div");

  view.replaceChildren(
    h("h1", {}, "Sagas"),
    h("p", { class: "muted", id: "saga-intro" }, `Every order runs one saga: ${sagaSteps().map(s => stepPhrases[s] ?? s).join(", ")}; a failure compensates the completed steps in reverse order.`),
    h("section", { class: "panel" },
      h("div", { class: "controls" }, h("label", { for: "status-filter" }, "Status"), filter, find),
      message,
      h("table", { id: "sagas" },
        h("thead", {}, h("tr", {}, ["Saga", "Order", "Status", "Step", "Started", "Duration", "Reason"].map(c => h("th", {}, c)))),
        body),
      h("div", { class: "pager" }, previous, next, summary)));

  function go(changes, findOne = false) {
    const params = new URLSearchParams({ status, orderId, page: String(page) });
    for (const [key, value] of Object.entries(changes)) params.set(key, String(value));
    for (const key of [...params.keys()]) if (!params.get(key) || (key === "page" && params.get(key) === "1")) params.delete(key);
    location.hash = `#/?${params}`;
    if (findOne) pendingFind = params.get("orderId");
  }

  let shown = new Map();
  async function load(changedIds = new Set()) {
    const url = new URLSearchParams({ page: String(page), pageSize: String(pageSize) });
    if (status) url.set("status", status);
    if (orderId) url.set("orderId", orderId);
    let result;
    try {
      result = await getJson(`/sagas?${url}`);
    } catch (error) {
      showError(message, error);
      return;
    }
    message.replaceChildren();
    if (orderId && pendingFind === orderId && result.items.length === 1) {
      pendingFind = null;
      location.hash = `#/sagas/${encodeURIComponent(result.items[0].sagaId)}`;
      return;
    }
    pendingFind = null;
    getJson("/sagas/counts").then(showCounts, () => {});
    shown = new Map(result.items.map(s => [s.sagaId, s]));
    body.replaceChildren(...result.items.map(saga => sagaRow(saga, changedIds.has(saga.sagaId))));
    if (result.items.length === 0)
      body.replaceChildren(h("tr", {}, h("td", { colspan: 7, class: "empty" },
        orderId ? `No saga for order “${orderId}”.` : status ? `No saga is ${status}.` : "No sagas yet. Place an order and it appears here.")));
    const pages = Math.max(1, Math.ceil(result.total / pageSize));
    summary.textContent = `Page ${page} of ${pages} · ${result.total} saga${result.total === 1 ? "" : "s"}`;
    next.disabled = page >= pages;
  }

  function showCounts(counts) {
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    for (const option of filter.options)
      option.textContent = `${option.value ? (option.value === "NeedsAttention" ? "Needs attention" : option.value) : "All statuses"} (${option.value ? counts[option.value] ?? 0 : total})`;
  }

  function sagaRow(saga, changed) {
    const open = () => { location.hash = `#/sagas/${encodeURIComponent(saga.sagaId)}`; };
    return h("tr", { class: `saga-row${changed ? " changed" : ""}`, "data-saga-id": saga.sagaId, "data-order-id": saga.orderId, tabindex: 0, onclick: open, onkeydown: e => { if (e.key === "Enter") open(); } },
      h("td", { class: "mono", title: saga.sagaId }, h("a", { href: `#/sagas/${encodeURIComponent(saga.sagaId)}` }, shortId(saga.sagaId))),
      h("td", { class: "mono" }, saga.orderId),
      h("td", { class: "status-cell" }, statusBadge(saga.status)),
      h("td", {}, saga.currentStep),
      h("td", { class: "age", "data-started": saga.startedAt, title: new Date(saga.startedAt).toLocaleString() }, formatAge(saga.startedAt)),
      h("td", { class: "num" }, isFinal(saga.status) ? formatDuration(saga.durationMs) : h("span", { class: "muted" }, "running")),
      h("td", {}, saga.failureReason ?? ""));
  }

  // Under load, changes arrive several times a second: the list reloads at most once a second,
  // with every saga that changed in between highlighted.
  let changedSince = new Set();
  let reloadTimer = null;
  let loadedAt = 0;
  function reloadSoon() {
    if (reloadTimer) return;
    reloadTimer = setTimeout(() => {
      reloadTimer = null;
      loadedAt = Date.now();
      const changed = changedSince;
      changedSince = new Set();
      load(changed);
    }, Math.max(0, loadedAt + 1000 - Date.now()));
  }

  load();
  return {
    kind: "list",
    // A change on this page reloads it; so does a new saga when the newest page is on screen.
    refresh(changes) {
      if (changes !== null && page !== 1 && !changes.some(c => shown.has(c.sagaId))) return;
      for (const change of changes ?? []) changedSince.add(change.sagaId);
      reloadSoon();
    },
    tick() { for (const cell of body.querySelectorAll("td.age")) cell.textContent = formatAge(cell.dataset.started); },
  };
}
let pendingFind = null;

// ---------------------------------------------------------------- one saga

function sagaView(sagaId) {
  const header = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const steps = h("div", { class: "steps", id: "steps" });
  const actions = h("div", { class: "actions", id: "actions" });
  const timeline = h("tbody");
  const trace = h("div", { id: "trace" });
  const feedback = h("span", { id: "action-result", role: "status" }); // outlives the reload an action causes
  view.replaceChildren(
    h("p", {}, h("a", { href: "#/" }, "← All sagas")),
    header,
    h("section", { class: "panel" }, h("h2", { style: { marginTop: 0 } }, "Steps"), steps),
    h("section", { class: "panel" }, h("h2", { style: { marginTop: 0 } }, "Operator actions"), actions),
    h("section", { class: "panel" }, h("h2", { style: { marginTop: 0 } }, "Timeline"),
      h("table", { id: "timeline" }, h("thead", {}, h("tr", {}, ["At", "+", "Step", "Outcome", "Reason"].map(c => h("th", {}, c)))), timeline)),
    h("section", { class: "panel" }, h("h2", { style: { marginTop: 0 } }, "Trace"), trace));

  let saga = null;
  let traceSpans = -1;
  let traceSettled = 0;

  async function load() {
    try {
      saga = await getJson(`/sagas/${encodeURIComponent(sagaId)}`);
    } catch (error) {
      showError(header, error.status === 404 ? { title: "Saga not found", message: `There is no saga “${sagaId}”.` } : error);
      return;
    }
    renderHeader();
    renderSteps();
    renderActions();
    renderTimeline();
    traceSettled = 0;
    await loadTrace();
  }

  function renderHeader() {
    const s = saga.saga;
    const dashboard = config.dashboardUrl && s.traceId
      ? h("a", { id: "dashboard-link", href: `${config.dashboardUrl}/traces/detail/${s.traceId}`, target: "_blank", rel: "noopener" }, "Open in the Aspire dashboard")
      : null;
    header.replaceChildren(
      h("h1", {}, "Saga ", h("span", { class: "mono" }, s.sagaId), " ", statusBadge(s.status, "saga-status")),
      h("dl", { class: "facts" },
        h("dt", {}, "Order"), h("dd", { class: "mono" }, s.orderId),
        h("dt", {}, "Started"), h("dd", {}, new Date(s.startedAt).toLocaleString(), " ", h("span", { class: "muted" }, `(${formatAge(s.startedAt)})`)),
        h("dt", {}, isFinal(s.status) ? "Duration" : "Running for"), h("dd", { id: "saga-duration" }, formatDuration(isFinal(s.status) ? s.durationMs : Date.now() - Date.parse(s.startedAt))),
        h("dt", {}, "Current step"), h("dd", {}, s.currentStep),
        s.failureReason ? [h("dt", {}, "Reason"), h("dd", { id: "failure-reason" }, s.failureReason)] : null,
        h("dt", {}, "Trace"), h("dd", {}, s.traceId ? [h("code", { id: "trace-id" }, s.traceId), " ", dashboard] : h("span", { class: "muted" }, "none recorded"))));
  }

  function renderSteps() {
    const items = [];
    saga.steps.forEach((step, index) => {
      if (index > 0) items.push(h("span", { class: "step-arrow", "aria-hidden": "true" }, "→"));
      items.push(h("div", { class: `step step-${step.status}`, "data-step": step.name, "data-status": step.status },
        h("div", { class: "name" }, step.name),
        h("div", { class: "muted" }, step.status, step.status.startsWith("Compensat") ? h("span", { class: "tag-comp" }, " · compensation") : null)));
    });
    steps.replaceChildren(...items);
  }

  // The actions depend on the saga's status alone; rendered again only when it changes, so that a
  // key being typed survives the saga's other changes (a running saga's timeline grows meanwhile).
  let actionsStatus = null;
  function renderActions() {
    const status = saga.saga.status;
    if (status === actionsStatus) return;
    actionsStatus = status;
    const key = config.apiKeyRequired
      ? h("input", { id: "api-key", type: "password", placeholder: "Operator API key", "aria-label": "Operator API key", value: sessionStorage.getItem("sagaaspire.apiKey") ?? "" })
      : null;
    const act = async (action) => {
      if (action === "cancel" && !confirm("Cancel this saga? Its completed steps will be compensated.")) return;
      if (key) sessionStorage.setItem("sagaaspire.apiKey", key.value);
      feedback.className = "muted";
      feedback.textContent = "Sending…";
      const response = await fetch(`/sagas/${encodeURIComponent(sagaId)}/${action}`, {
        method: "POST", headers: { ...untraced, ...(key ? { "X-Api-Key": key.value } : {}) },
      });
      const problem = response.ok ? null : await response.json().catch(() => null);
      feedback.className = response.ok ? "notice" : "error";
      feedback.textContent = response.ok
        ? (action === "retry" ? "Retry accepted." : "Cancel accepted; compensation follows.")
        : `${problem?.title ?? `HTTP ${response.status}`}${problem?.detail ? `: ${problem.detail}` : ""}`;
      load();
    };
    actions.replaceChildren(
      key,
      h("button", { id: "retry", disabled: status !== "NeedsAttention", title: "Send the stuck compensation again", onclick: () => act("retry") }, "Retry"),
      h("button", { id: "cancel", class: "danger", disabled: isFinal(status), title: "Stop the saga and compensate what it did", onclick: () => act("cancel") }, "Cancel saga"),
      h("span", { class: "muted" }, isFinal(status) ? "The saga is final; nothing to do." : status === "NeedsAttention" ? "A compensation got no answer: retry it once the cause is fixed." : ""),
      feedback);
  }

  function renderTimeline() {
    const start = Date.parse(saga.saga.startedAt);
    timeline.replaceChildren(...saga.timeline.map(entry => {
      const kind = isCompensation(entry.outcome) ? "compensation" : entry.outcome === "ignored" ? "ignored" : "";
      return h("tr", { class: kind, "data-outcome": entry.outcome },
        h("td", { class: "mono", title: new Date(entry.at).toLocaleString() }, clockTime(entry.at)),
        h("td", { class: "num muted" }, `+${formatDuration(Date.parse(entry.at) - start)}`),
        h("td", {}, entry.step),
        h("td", { class: "outcome" }, entry.outcome, kind === "compensation" ? h("span", { class: "tag-comp" }, " · compensation") : null),
        h("td", {}, entry.reason ?? ""));
    }));
  }

  async function loadTrace() {
    const traceId = saga?.saga.traceId;
    if (!traceId) { trace.replaceChildren(h("p", { class: "muted" }, "This saga has no trace.")); return; }
    if (!config.traces) {
      trace.replaceChildren(h("p", { class: "muted", id: "no-trace" },
        "No waterfall here: the orchestrator knows no Aspire dashboard (Explorer:DashboardUrl) to read the trace from. " +
        "The steps and the timeline above are the saga’s whole record; its trace id finds the trace in whatever receives the services’ telemetry."));
      traceSettled = 99;
      return;
    }
    let spans;
    try {
      spans = await getJson(`/explorer/api/traces/${traceId}`);
    } catch (error) {
      if (error.status === 404) trace.replaceChildren(h("p", { class: "muted" }, "Waiting for the trace’s spans to arrive…"));
      else showError(trace, error);
      return;
    }
    traceSettled = spans.length === traceSpans ? traceSettled + 1 : 0;
    traceSpans = spans.length;
    renderWaterfall(spans);
  }

  function renderWaterfall(spans) {
    const total = Math.max(1, ...spans.map(s => s.offsetMs + s.durationMs));
    // Everything that starts once the first compensation was requested is compensation work.
    const compensationFrom = saga.timeline.find(e => e.outcome === "compensation requested");
    const compensationAt = compensationFrom ? Date.parse(compensationFrom.at) : Infinity;
    const services = [...new Set(spans.map(s => s.service))];
    const colour = service => serviceColours[service] ?? fallbackColours[services.indexOf(service) % fallbackColours.length];
    const rows = spans.map(span => {
      const compensation = Date.parse(span.start) >= compensationAt;
      const details = h("div", { class: "attributes", hidden: true },
        h("table", {}, h("tbody", {},
          h("tr", {}, h("td", {}, "span id"), h("td", { class: "mono" }, span.spanId)),
          h("tr", {}, h("td", {}, "kind"), h("td", {}, span.kind)),
          Object.entries(span.attributes ?? {}).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "mono" }, String(v)))))));
      const row = h("div", {
        class: `row${compensation ? " compensation" : ""}${span.status === "Error" ? " error" : ""}`,
        "data-service": span.service, "data-name": span.name, role: "button", tabindex: 0,
        onclick: () => { details.hidden = !details.hidden; },
      },
        h("span", { class: "service", style: { color: colour(span.service) } }, span.service),
        h("span", { class: "name", style: { paddingLeft: `${Math.min(span.depth, 30) * 10}px` }, title: span.name }, span.name),
        h("span", { class: "track" }, h("span", {
          class: "span-bar",
          style: { left: `${(span.offsetMs / total) * 100}%`, width: `${Math.max(0.2, (span.durationMs / total) * 100)}%`, background: colour(span.service) },
        })),
        h("span", { class: "num" }, formatDuration(span.durationMs)),
        details);
      return row;
    });
    trace.replaceChildren(
      h("div", { class: "legend" }, services.map(s => h("span", { style: { "--swatch": colour(s) } }, s)),
        h("span", { class: "muted" }, `${spans.length} spans · ${formatDuration(total)}`)),
      h("div", { class: "waterfall", id: "waterfall" }, rows));
  }

  load();
  return {
    kind: "saga",
    refresh(changes) { if (changes === null || changes.some(c => c.sagaId === sagaId)) load(); },
    // Spans reach the trace store a second or so after they end; keep fetching until the trace
    // stops growing after the saga is final.
    tick(seconds) {
      if (!saga) return;
      if (!isFinal(saga.saga.status)) {
        const element = document.getElementById("saga-duration");
        if (element) element.textContent = formatDuration(Date.now() - Date.parse(saga.saga.startedAt));
      }
      if (seconds % 2 === 0 && (traceSettled < 3 || !isFinal(saga.saga.status))) loadTrace();
    },
  };
}

// ---------------------------------------------------------------- routing and live updates

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, search] = hash.split("?");
  const match = path.match(/^\/sagas\/(.+)$/);
  current = match ? sagaView(decodeURIComponent(match[1])) : listView(new URLSearchParams(search ?? ""));
  document.title = match ? `Saga ${decodeURIComponent(match[1])} · Saga Explorer` : "Saga Explorer · SagaAspire";
}

function connectLive() {
  const source = new EventSource("/sagas/changes");
  source.addEventListener("ready", () => { live.dataset.state = "live"; live.textContent = "live"; });
  source.addEventListener("sagas", event => current?.refresh(JSON.parse(event.data)));
  source.addEventListener("reload", () => current?.refresh(null));
  source.addEventListener("error", () => { live.dataset.state = "reconnecting"; live.textContent = "reconnecting"; });
}

async function start() {
  try {
    config = await getJson("/explorer/api/config");
  } catch (error) {
    showError(view, error);
    return;
  }
  window.addEventListener("hashchange", route);
  route();
  connectLive();
  let seconds = 0;
  setInterval(() => current?.tick(++seconds), 1000);
}

start();
