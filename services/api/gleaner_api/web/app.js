// Gleaner's page: submit links, watch each item move through its stages, retry or cancel.
// Plain DOM code, no build step. The API key stays in localStorage and goes out only in the
// Authorization header; the task stream is read with fetch() because EventSource cannot send headers.
"use strict";

const KEY_STORAGE = "gleaner.apiKey";
const FINISHED = new Set(["completed", "failed", "partially_failed", "cancelled"]);
const RECONNECT_LIMIT = 10; // stream re-opens before the page gives up and says so
const REFRESH_MS = 10000; // task list and overview refresh while the page is open

const $ = (id) => document.getElementById(id);
const linkUrls = new Map(); // link id -> URL: the task view carries only link ids
let watcher = null; // {taskId, controller} of the task being followed

class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

function headers(extra) {
  const h = { Accept: "application/json", ...extra };
  if (apiKey()) h.Authorization = `Bearer ${apiKey()}`;
  return h;
}

async function errorOf(response) {
  try {
    const body = await response.json();
    return new ApiError(body.error.message, body.error.code, response.status);
  } catch {
    return new ApiError(`the API answered HTTP ${response.status}`, `http_${response.status}`, response.status);
  }
}

async function api(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body ? { "Content-Type": "application/json" } : {}),
      body: body ? JSON.stringify(body) : undefined,
      cache: "no-store",
    });
  } catch {
    throw new ApiError("cannot reach the Gleaner API", "api_unreachable", 0);
  }
  if (!response.ok) throw await errorOf(response);
  return response.status === 204 ? null : response.json();
}

function describe(error) {
  return error instanceof ApiError ? `${error.message} (${error.code})` : String(error);
}

function say(id, text, isError) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", Boolean(isError));
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// --- the API key ----------------------------------------------------------------------------------

function initKey() {
  $("api-key").value = apiKey();
  say("key-status", apiKey() ? "A key is saved in this browser." : "Paste an API key to start.");
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("api-key").value.trim();
    if (!value) return say("key-status", "The key is empty.", true);
    localStorage.setItem(KEY_STORAGE, value);
    say("key-status", "Key saved in this browser.");
    refreshAll();
  });
  $("forget-key").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORAGE);
    $("api-key").value = "";
    say("key-status", "Key removed from this browser.");
  });
}

function needKey(statusId) {
  if (apiKey()) return false;
  say(statusId, "Save an API key first.", true);
  $("api-key").focus();
  return true;
}

// --- submitting ---------------------------------------------------------------------------------

async function submitLinks(event) {
  event.preventDefault();
  if (needKey("submit-status")) return;
  const urls = $("urls").value.split(/\s+/).map((u) => u.trim()).filter(Boolean);
  if (!urls.length) return say("submit-status", "Paste at least one link.", true);
  const body = { urls, stages: $("stages").value.split(","), priority: $("priority").value };
  const databaseId = $("database-id").value.trim();
  if (databaseId) body.notion = { database_id: databaseId };
  $("submit-button").disabled = true;
  say("submit-status", "Submitting…");
  try {
    const queued = await api("POST", "/api/pipelines", body);
    for (const link of queued.links || []) linkUrls.set(link.id, link.url);
    say("submit-status", `Task ${queued.task_id}: ${queued.message}.`);
    $("urls").value = "";
    location.hash = `#task/${queued.task_id}`;
    loadTasks();
  } catch (error) {
    say("submit-status", describe(error), true);
  } finally {
    $("submit-button").disabled = false;
  }
}

// --- the task list ------------------------------------------------------------------------------

async function loadTasks() {
  if (!apiKey()) return;
  const status = $("task-filter").value;
  const query = new URLSearchParams({ page_size: "20" });
  if (status) query.set("status", status);
  try {
    const page = await api("GET", `/api/tasks?${query}`);
    const list = $("task-list");
    list.replaceChildren(
      ...page.items.map((task) =>
        el(
          "li",
          { className: `task-row status-${task.status}` },
          el("a", { href: `#task/${task.id}`, textContent: `Task ${task.id}` }),
          el("span", { className: "badge", textContent: task.status.replace("_", " ") }),
          el("span", {
            className: "muted",
            textContent: `${task.completed_items}/${task.total_items} done` + (task.failed_items ? `, ${task.failed_items} failed` : ""),
          }),
        ),
      ),
    );
    say("tasks-status", page.total ? "" : "No tasks yet.");
  } catch (error) {
    say("tasks-status", describe(error), true);
  }
}

// --- one task, live -----------------------------------------------------------------------------

function stageState(task, item, index) {
  // Where an item stands at each of the task's stages, from its current stage and status.
  const at = task.stages.indexOf(item.stage);
  if (index < at) return "done";
  if (index === at) return item.status === "completed" ? "done" : item.status;
  return ["failed", "cancelled"].includes(item.status) ? "skipped" : "waiting";
}

function retryText(item) {
  // "retrying in 28 s (attempt 2 of 3): dns_error — <message>" while a delayed retry waits
  const when = item.retry_at
    ? `retrying in ${Math.max(0, Math.round((Date.parse(item.retry_at) - Date.now()) / 1000))} s`
    : "retrying now";
  const attempt = `attempt ${item.attempts + 1}${item.max_attempts ? ` of ${item.max_attempts}` : ""}`;
  return `${when} (${attempt}): ${item.error_code} — ${item.error_message || ""}`;
}

// The countdowns move between events (which come only when something changes).
setInterval(() => {
  for (const span of document.querySelectorAll("span.retry")) span.textContent = retryText(JSON.parse(span.dataset.item));
}, 1000);

function itemDetail(item) {
  const notion = (item.result_data || {}).notion;
  if (item.status === "failed") return el("span", { className: "reason", textContent: `${item.error_code}: ${item.error_message}` });
  if (item.status === "queued" && item.attempts && item.error_code) {
    const span = el("span", { className: "reason retry", textContent: retryText(item) });
    span.dataset.item = JSON.stringify(item);
    return span;
  }
  if (item.status === "queued") {
    const where = item.position === null ? "waiting for a retry slot" : `#${item.position + 1} in the ${item.stage} queue`;
    return el("span", { textContent: `queued, ${where}` });
  }
  if (item.status === "running") return el("span", { textContent: `running ${item.stage} (attempt ${item.attempts})` });
  if (item.status === "cancelled") return el("span", { textContent: "cancelled" });
  if (item.status === "completed" && notion) {
    if (notion.page_url) {
      return el("a", { href: notion.page_url, textContent: "Notion page", target: "_blank", rel: "noopener noreferrer" });
    }
    if (notion.state === "dry_run") return el("span", { className: "dry-run", textContent: "dry run: no Notion token, no page made" });
  }
  if (item.status === "completed") return el("span", { textContent: "done" });
  return el("span", { textContent: item.status });
}

function renderItem(task, item) {
  const url = item.link_id && linkUrls.get(item.link_id);
  const title = url
    ? el("a", { className: "url", href: url, textContent: url, target: "_blank", rel: "noopener noreferrer" })
    : el("span", { className: "url", textContent: item.link_id ? `link ${item.link_id}` : item.item_type });
  const trail = el("ol", { className: "trail" });
  trail.setAttribute("aria-label", "stages");
  task.stages.forEach((stage, index) => {
    const state = stageState(task, item, index);
    trail.append(el("li", { className: `chip state-${state}`, textContent: `${stage}: ${state}` }));
  });
  const detail = el("p", { className: "detail" }, itemDetail(item));
  if (item.trace_url) {
    detail.append(" · ", el("a", { className: "trace", href: item.trace_url, textContent: "trace", target: "_blank", rel: "noopener noreferrer" }));
  }
  const li = el("li", { className: `item status-${item.status}` }, title, trail, detail);
  li.dataset.itemId = item.id;
  li.dataset.status = item.status;
  li.dataset.stage = item.stage;
  return li;
}

function stageDetail(counts) {
  const parts = [];
  for (const key of ["running", "queued", "waiting", "failed", "cancelled", "skipped"]) {
    if (counts[key]) parts.push(`${counts[key]} ${key}`);
  }
  return parts.join(", ");
}

function renderTask(task) {
  $("task-title").textContent = `Task ${task.id}`;
  const eta = !FINISHED.has(task.status) && task.eta_seconds ? `, about ${Math.round(task.eta_seconds)} s left` : "";
  $("task-summary").textContent =
    `${task.status.replace("_", " ")}: ${task.completed_items} done, ${task.failed_items} failed, ` +
    `${task.cancelled_items} cancelled of ${task.total_items} (${task.progress}%)${eta}`;
  $("task-view").dataset.status = task.status;
  $("stage-bars").replaceChildren(
    ...task.stages.map((stage) => {
      const counts = task.stage_progress[stage];
      const finished = counts.done + counts.failed + counts.cancelled + counts.skipped;
      const bar = el("progress", { id: `bar-${stage}`, max: task.total_items, value: finished });
      bar.setAttribute("aria-valuetext", `${counts.done} of ${task.total_items} done`);
      return el(
        "div",
        { className: "stage" },
        el("label", { htmlFor: `bar-${stage}`, textContent: stage }),
        bar,
        el("span", { className: "count", textContent: `${counts.done}/${task.total_items} done` }),
        el("span", { className: "muted", textContent: stageDetail(counts) }),
      );
    }),
  );
  $("item-list").replaceChildren(...(task.items || []).map((item) => renderItem(task, item)));
  $("retry-button").disabled = !(task.failed_items > 0 && task.status !== "cancelled");
  $("cancel-button").disabled = FINISHED.has(task.status);
}

async function fillLinkUrls(task) {
  const missing = [...new Set((task.items || []).map((i) => i.link_id).filter((id) => id && !linkUrls.has(id)))];
  await Promise.all(
    missing.slice(0, 100).map((id) =>
      api("GET", `/api/links/${id}`).then((link) => linkUrls.set(id, link.url), () => null),
    ),
  );
  return missing.length > 0;
}

function parseEvents(buffer, onEvent) {
  // Server-Sent Events: blocks split by a blank line, `event:` and `data:` fields; `:` lines are pings.
  const blocks = buffer.split("\n\n");
  const rest = blocks.pop();
  for (const block of blocks) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) name = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (data.length) onEvent(name, JSON.parse(data.join("\n")));
  }
  return rest;
}

async function streamTask(taskId, signal, onEvent) {
  // Returns true after `end`, false when the stream closed early.
  const response = await fetch(`/api/tasks/${taskId}/events`, {
    headers: headers({ Accept: "text/event-stream" }),
    cache: "no-store",
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let ended = false;
  while (!ended) {
    const { value, done } = await reader.read();
    if (done) return false;
    // JSON data never holds a raw CR, so dropping them turns CRLF framing into LF framing.
    buffer = parseEvents(buffer + value.replace(/\r/g, ""), (name, data) => {
      if (name === "end") ended = true;
      else onEvent(data);
    });
  }
  await reader.cancel();
  return true;
}

async function watchTask(taskId) {
  if (watcher) watcher.controller.abort();
  const controller = new AbortController();
  watcher = { taskId, controller };
  let failures = 0;
  let last = null;
  // The first event of a stream has the first page of items; later ones only the items that changed
  // (delta): merge them by id.
  const items = new Map();
  const onProgress = async (event) => {
    if (!event.delta) items.clear();
    for (const item of event.items || []) items.set(item.id, item);
    const task = { ...event, items: [...items.values()].sort((a, b) => a.id - b.id) };
    last = task;
    renderTask(task);
    if (await fillLinkUrls(task)) renderTask(last);
  };
  while (!controller.signal.aborted) {
    try {
      if (await streamTask(taskId, controller.signal, onProgress)) break;
    } catch (error) {
      if (controller.signal.aborted) return;
      if (error instanceof ApiError && error.status && error.status < 500) {
        say("task-action-status", describe(error), true);
        return;
      }
    }
    failures += 1;
    if (failures > RECONNECT_LIMIT) {
      say("task-action-status", "Lost the live stream of this task; reload to try again.", true);
      return;
    }
    say("task-action-status", "Reconnecting to the live stream…");
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * failures, 5000)));
  }
  if (controller.signal.aborted) return;
  say("task-action-status", last && last.failed_items ? "Finished. Failed items can be retried." : "Finished.");
  loadTasks();
  loadOverview();
}

function openTask(taskId) {
  $("task-view").hidden = false;
  $("task-title").textContent = `Task ${taskId}`;
  $("task-summary").textContent = "Loading…";
  say("task-action-status", "");
  $("stage-bars").replaceChildren();
  $("item-list").replaceChildren();
  $("task-view").dataset.taskId = taskId;
  $("task-title").focus();
  if (!needKey("task-action-status")) watchTask(taskId);
}

async function taskAction(method, verb) {
  const taskId = $("task-view").dataset.taskId;
  try {
    const answer = await api(method, `/api/parsing/async/${verb}/${taskId}`);
    say("task-action-status", answer.message);
    watchTask(taskId);
    loadTasks();
  } catch (error) {
    say("task-action-status", describe(error), true);
  }
}

// --- queues and workers ---------------------------------------------------------------------------

function cells(values) {
  return el("tr", {}, ...values.map((v, i) => el(i === 0 ? "th" : "td", { textContent: String(v), scope: i === 0 ? "row" : undefined })));
}

async function loadOverview() {
  if (!apiKey()) return;
  try {
    const [queues, workers] = await Promise.all([api("GET", "/api/monitoring/queues"), api("GET", "/api/monitoring/workers")]);
    $("queues-table").tBodies[0].replaceChildren(
      ...Object.values(queues.queues).map((q) =>
        cells([q.name, q.count, q.started_job_registry, q.scheduled_job_registry, q.finished_job_registry, q.failed_job_registry]),
      ),
    );
    $("workers-table").tBodies[0].replaceChildren(
      ...workers.workers.map((w) => cells([w.name, w.queues.join(", "), w.state, w.successful_job_count, w.failed_job_count])),
    );
    say("overview-status", `${workers.total_workers} worker${workers.total_workers === 1 ? "" : "s"}`);
  } catch (error) {
    say("overview-status", describe(error), true);
  }
}

// --- schedules ----------------------------------------------------------------------------------

function timingOf(s) {
  return s.cron ? `cron ${s.cron} (${s.timezone})` : `every ${s.interval_seconds} s`;
}

function runsOf(s) {
  if (s.feed_url) return `feed ${s.feed_url}`;
  const count = (s.pipeline.urls || []).length + (s.pipeline.link_ids || []).length;
  return `${count} link${count === 1 ? "" : "s"}`;
}

function outcomeText(outcome, taskId, error) {
  const said = {
    created: `task ${taskId}`,
    no_new_entries: "no new entries",
    fetching: "reading the feed",
    fetched: "making the task",
  };
  return said[outcome] || `failed: ${error}`;
}

function lastFiringOf(s) {
  if (!s.last_outcome) return "never fired";
  const when = new Date(s.last_fired_at).toLocaleString();
  return `${when}: ${outcomeText(s.last_outcome, s.last_task_id, s.last_error)}`;
}

function scheduleRow(s) {
  const action = (label, method, path) =>
    el("button", {
      type: "button",
      className: "secondary",
      textContent: label,
      onclick: async () => {
        try {
          const answer = await api(method, `/api/schedules/${s.id}${path}`);
          if (answer && answer.outcome) say("schedule-status", `${s.name}: ${outcomeText(answer.outcome, answer.task_id, answer.error)}`);
          loadSchedules();
          loadTasks();
        } catch (error) {
          say("schedule-status", describe(error), true);
        }
      },
    });
  const next = s.paused ? "paused" : new Date(s.next_fire_at).toLocaleString();
  return el(
    "tr",
    {},
    el("th", { scope: "row", textContent: `${s.id} ${s.name}` }),
    el("td", { textContent: runsOf(s) }),
    el("td", { textContent: timingOf(s) }),
    el("td", { textContent: next }),
    el("td", { textContent: lastFiringOf(s) }),
    el(
      "td",
      {},
      action("Run now", "POST", "/run"),
      s.paused ? action("Resume", "POST", "/resume") : action("Pause", "POST", "/pause"),
      action("Delete", "DELETE", ""),
    ),
  );
}

async function loadSchedules() {
  if (!apiKey()) return;
  try {
    const page = await api("GET", "/api/schedules?page_size=200");
    $("schedules-table").tBodies[0].replaceChildren(...page.items.map(scheduleRow));
  } catch (error) {
    say("schedule-status", describe(error), true);
  }
}

async function createSchedule(event) {
  event.preventDefault();
  if (needKey("schedule-status")) return;
  const urls = $("schedule-urls").value.split(/\s+/).map((u) => u.trim()).filter(Boolean);
  const every = $("schedule-every").value.trim();
  const feed = $("schedule-feed").value.trim();
  const pipeline = { stages: $("stages").value.split(",") };
  if (urls.length || !feed) pipeline.urls = urls;
  const body = {
    name: $("schedule-name").value.trim(),
    cron: $("schedule-cron").value.trim() || null,
    interval_seconds: every ? Number(every) : null,
    timezone: $("schedule-timezone").value.trim() || "UTC",
    feed_url: feed || null,
    pipeline,
  };
  try {
    const made = await api("POST", "/api/schedules", body);
    say("schedule-status", `Schedule ${made.id} fires next at ${new Date(made.next_fire_at).toLocaleString()}.`);
    loadSchedules();
  } catch (error) {
    say("schedule-status", describe(error), true);
  }
}

// --- webhooks -----------------------------------------------------------------------------------

function deliveriesText(page) {
  if (!page.items.length) return "none yet";
  return page.items
    .slice(0, 3)
    .map((d) => `${d.event} ${d.state} (${d.log.map((a) => a.status_code || a.error).join(", ") || "not tried"})`)
    .join("; ");
}

async function webhookRow(hook) {
  const deliveries = await api("GET", `/api/webhooks/${hook.id}/deliveries?page_size=3`);
  const remove = el("button", {
    type: "button",
    className: "secondary",
    textContent: "Delete",
    onclick: async () => {
      try {
        await api("DELETE", `/api/webhooks/${hook.id}`);
        loadWebhooks();
      } catch (error) {
        say("webhook-status", describe(error), true);
      }
    },
  });
  return el(
    "tr",
    {},
    el("th", { scope: "row", textContent: `${hook.id} ${hook.url}` }),
    el("td", { textContent: (hook.task_id ? `task ${hook.task_id}` : "every task") + (hook.per_item ? ", per item" : "") }),
    el("td", { textContent: hook.disabled_at ? `disabled: ${hook.disabled_reason}` : "active" }),
    el("td", { textContent: deliveriesText(deliveries) }),
    el("td", {}, remove),
  );
}

async function loadWebhooks() {
  if (!apiKey()) return;
  try {
    const page = await api("GET", "/api/webhooks?page_size=50");
    $("webhooks-table").tBodies[0].replaceChildren(...(await Promise.all(page.items.map(webhookRow))));
  } catch (error) {
    say("webhook-status", describe(error), true);
  }
}

async function createWebhook(event) {
  event.preventDefault();
  if (needKey("webhook-status")) return;
  try {
    const made = await api("POST", "/api/webhooks", { url: $("webhook-url").value.trim(), per_item: $("webhook-per-item").checked });
    say("webhook-status", `Webhook ${made.id} added. Its signing secret, shown only now: ${made.secret}`);
    loadWebhooks();
  } catch (error) {
    say("webhook-status", describe(error), true);
  }
}

// --- wiring -------------------------------------------------------------------------------------

function route() {
  const match = location.hash.match(/^#task\/(\d+)$/);
  if (match) openTask(match[1]);
}

function refreshAll() {
  loadTasks();
  loadOverview();
  loadSchedules();
  loadWebhooks();
  route();
}

document.addEventListener("DOMContentLoaded", () => {
  initKey();
  $("submit-form").addEventListener("submit", submitLinks);
  $("refresh-tasks").addEventListener("click", loadTasks);
  $("task-filter").addEventListener("change", loadTasks);
  $("refresh-overview").addEventListener("click", loadOverview);
  $("schedule-form").addEventListener("submit", createSchedule);
  $("webhook-form").addEventListener("submit", createWebhook);
  $("retry-button").addEventListener("click", () => taskAction("POST", "retry"));
  $("cancel-button").addEventListener("click", () => taskAction("DELETE", "cancel"));
  window.addEventListener("hashchange", route);
  setInterval(() => {
    if (document.visibilityState === "visible") {
      loadTasks();
      loadOverview();
      loadSchedules();
      loadWebhooks();
    }
  }, REFRESH_MS);
  refreshAll();
});
