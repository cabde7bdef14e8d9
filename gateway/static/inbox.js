/* The agent inbox: live conversations by SLA urgency, one conversation's timeline, the agent's actions.
 *
 * Reads /api/inbox and /api/inbox/conversations/{id}; acts through the admin API (/api/conversations/…).
 * Updates arrive on the /inbox/live WebSocket (every conversation event of every gateway process);
 * the page never polls the server. The one-second timer only redraws the SLA countdowns.
 */
"use strict";

const state = {
  filters: {queue: "", tier: "", channel: "", tag: ""},
  selected: null,   // conversation id
  view: null,       // the selected conversation's last view
  skew: 0,          // server clock minus this browser's, in ms (countdowns use the server's time)
  listTimer: null,
  open: new Set(),  // "message id:kind" of the folds an agent opened
};
const $ = (id) => document.getElementById(id);

function toast(message, isError = false) {
  const node = $("toast");
  node.textContent = message;
  node.className = "show" + (isError ? " error" : "");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.className = ""; }, 3500);
}

function syncClock(serverNow) {
  if (serverNow) state.skew = new Date(serverNow).getTime() - Date.now();
}

function countdown(clock) {
  return el("span", {class: "countdown", dataset: {due: clock.due_at, warning: clock.warning_at || ""}});
}

function tick() {
  const now = Date.now() + state.skew;
  for (const node of document.querySelectorAll(".countdown[data-due]")) {
    const due = new Date(node.dataset.due).getTime();
    const warning = node.dataset.warning ? new Date(node.dataset.warning).getTime() : null;
    const left = (due - now) / 1000;
    node.textContent = left < 0 ? `overdue ${duration(-left)}` : duration(left);
    node.classList.toggle("overdue", left < 0);
    node.classList.toggle("warning", left >= 0 && warning !== null && now >= warning);
  }
}

/* -- the list ----------------------------------------------------------------------------- */

function query() {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(state.filters)) if (value) params.set(name, value);
  return params.toString();
}

function fillSelect(select, values, current, label = (v) => v) {
  const options = [el("option", {value: ""}, "all")];
  const all = new Set(values.map(String));
  if (current) all.add(current);
  for (const value of [...all].sort()) options.push(el("option", {value, selected: value === current}, label(value)));
  select.replaceChildren(...options);
}

function renderQueues(queues, total) {
  const button = (name, label, count) => el("button", {
    type: "button", "aria-pressed": String(state.filters.queue === name), dataset: {queue: name},
    onclick: () => { state.filters.queue = name; loadList(); },
  }, label, el("span", {class: "count"}, count));
  const all = queues.reduce((sum, q) => sum + q.count, 0);
  $("queues").replaceChildren(button("", "All", all), ...queues.map((q) => button(q.name, q.name, q.count)));
}

function listRow(c) {
  const deadline = c.next_deadline;
  const row = el("li", {tabindex: "0", role: "option", "aria-selected": String(c.id === state.selected),
                        dataset: {id: c.id}},
    el("div", {class: "line1"},
      el("span", {class: "name"}, c.customer_name || c.subject || c.customer_id),
      deadline ? countdown(deadline) : el("span", {class: "muted countdown"}, "no SLA")),
    el("div", {class: "line2"},
      el("span", {class: "badge"}, `${c.queue || "unrouted"} · T${c.tier}`),
      c.last_inbound_channel ? el("span", {class: "badge channel"}, c.last_inbound_channel) : null,
      c.priority !== "normal" ? el("span", {class: `badge priority-${c.priority}`}, c.priority) : null,
      el("span", {class: "badge"}, c.status),
      ...c.tags.map((t) => el("span", {class: "badge tag"}, t)),
      c.assignee ? ` · ${c.assignee}` : null,
      deadline ? ` · ${deadline.clock.replace("_", " ")}` : null));
  const open = () => select(c.id);
  row.addEventListener("click", open);
  row.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
  return row;
}

async function loadList() {
  let data;
  try {
    data = await api("/api/inbox?" + query());
  } catch (error) {
    if (error.status !== 401) toast(error.message, true);
    return;
  }
  syncClock(data.now);
  renderQueues(data.queues, data.total);
  fillSelect($("f-tier"), data.facets.tiers, state.filters.tier, (t) => `tier ${t}`);
  fillSelect($("f-channel"), data.facets.channels, state.filters.channel);
  fillSelect($("f-tag"), data.facets.tags, state.filters.tag);
  $("list-summary").textContent = data.total === 1 ? "1 live conversation, most urgent first"
    : `${data.total} live conversations, most urgent first`;
  $("list").replaceChildren(...data.conversations.map(listRow));
  tick();
}

// Events that change nothing the list shows (its rows, order or counts).
const LIST_QUIET = new Set(["delivery", "noted"]);

function scheduleList() {
  // A burst of events becomes one reload: at most one every half second.
  if (state.listTimer) return;
  state.listTimer = setTimeout(() => { state.listTimer = null; loadList(); }, 500);
}

/* -- one conversation --------------------------------------------------------------------- */

function timelineEntry(m) {
  if (m.direction === "event") {
    return el("li", {class: "event", dataset: {kind: m.kind || ""}},
      el("span", {class: "kind"}, (m.kind || "event").replaceAll("_", " ")), m.text, ` · ${when(m.created_at)}`);
  }
  const meta = [m.author || m.direction];
  if (m.channel) meta.push(m.direction === "outbound" ? `via ${m.channel}` : m.channel);
  meta.push(when(m.created_at));
  const metaLine = el("div", {class: "meta"}, meta.join(" · "));
  if (m.direction === "outbound") {
    metaLine.append(" · ", el("span", {class: `delivery ${m.delivery || "queued"}`}, m.delivery || "queued"));
    if (m.delivery_error) metaLine.append(` (${m.delivery_error})`);
  }
  const behind = m.meta || {};
  return el("li", {class: `msg ${m.direction}`, dataset: {id: m.id}}, metaLine, el("div", {class: "body"}, m.text),
    behind.signature ? fold(m.id, "signature", "Signature", behind.signature) : null,
    behind.full_text && behind.full_text !== m.text
      ? fold(m.id, "full", m.channel === "email" ? "Show full email" : "Show full message", behind.full_text) : null);
}

/* What is behind a customer message (the signature, the whole mail with its quoted history), folded;
 * kept open across the live redraws of the timeline. */
function fold(id, kind, label, text) {
  const key = `${id}:${kind}`;
  return el("details", {class: `fold ${kind}`, open: state.open.has(key),
    ontoggle: (event) => { if (event.target.open) state.open.add(key); else state.open.delete(key); }},
  el("summary", {}, label), el("div", {class: "folded"}, text));
}

function definitionList(node, pairs) {
  if (!pairs.length) { node.replaceChildren(el("dd", {class: "muted"}, "none")); return; }
  node.replaceChildren(...pairs.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value ?? "—")]));
}

function renderConversation(view) {
  const c = view.conversation, customer = view.customer;
  $("conv-title").textContent = customer.name || c.subject || customer.id;
  $("conv-meta").textContent = [c.status, `${c.queue || "unrouted"} tier ${c.tier}`, c.priority,
    c.assignee ? `assigned to ${c.assignee}` : "unassigned", c.subject ? `“${c.subject}”` : null]
    .filter(Boolean).join(" · ");
  $("clocks").replaceChildren(...view.clocks.map((clock) =>
    el("span", {class: "clock"}, `${clock.clock.replace("_", " ")}: `, countdown(clock))));
  const timeline = $("timeline");
  const atBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 40;
  timeline.replaceChildren(...view.messages.map(timelineEntry));
  if (atBottom || state.view === null || state.view.conversation.id !== c.id) timeline.scrollTop = timeline.scrollHeight;

  const channelSelect = $("composer-channel");
  const current = channelSelect.value && view.reply_channels.includes(channelSelect.value) && state.view
    && state.view.conversation.id === c.id ? channelSelect.value : view.default_channel;
  channelSelect.replaceChildren(...view.reply_channels.map((ch) =>
    el("option", {value: ch, selected: ch === current}, `via ${ch}`)));
  const transfer = $("transfer-queue");
  transfer.replaceChildren(...view.queues.filter((q) => q !== c.queue).map((q) => el("option", {value: q}, `to ${q}`)));
  $("transfer").disabled = transfer.options.length === 0;
  const resolved = c.status === "resolved";
  $("resolve").classList.toggle("hidden", resolved);
  $("reopen").classList.toggle("hidden", !resolved);
  if (!$("assign-agent").value) $("assign-agent").value = Auth.agent();

  $("cust-name").textContent = customer.name || "(no name)";
  const optedOut = new Set(customer.opt_outs.map((o) => `${o.channel}:${o.address}`));
  $("cust-identities").replaceChildren(...customer.identities.map((i) => el("li", {},
    el("span", {class: "badge channel"}, i.channel), i.address,
    optedOut.has(`${i.channel}:${i.address}`) ? el("span", {class: "badge priority-urgent"}, "opted out") : null)));
  definitionList($("cust-attributes"), Object.entries(customer.attributes));
  definitionList($("routing"), [["rule", view.routing.rule], ["queue", view.routing.queue], ["tier", String(view.routing.tier)],
    ["priority", view.routing.priority], ["SLA policy", view.routing.sla_policy], ["tags", view.routing.tags.join(", ") || null]]);
  $("cust-history").replaceChildren(...view.history.map((h) => el("li", {tabindex: "0", dataset: {id: h.id},
    onclick: () => select(h.id)}, `${when(h.created_at)} · ${h.status} · ${h.queue || "unrouted"} · ${h.message_count} messages`)));
  if (!view.history.length) $("cust-history").replaceChildren(el("li", {class: "muted empty"}, "none"));
}

async function loadConversation() {
  const id = state.selected;
  if (!id) return;
  let view;
  try {
    view = await api(`/api/inbox/conversations/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error.status !== 401) toast(error.message, true);
    return;
  }
  if (state.selected !== id) return;  // another one was picked meanwhile
  syncClock(view.now);
  renderConversation(view);
  state.view = view;
  tick();
}

function select(id) {
  state.selected = id;
  state.view = null;
  $("assign-agent").value = "";
  TemplatePicker.reset();  // a preview is for one conversation
  TemplatePicker.load();
  document.body.classList.add("viewing");
  $("empty").classList.add("hidden");
  $("conversation").classList.remove("hidden");
  $("pane-customer").classList.remove("hidden");
  for (const row of document.querySelectorAll("#list li")) row.setAttribute("aria-selected", String(row.dataset.id === id));
  if (location.hash !== "#" + id) history.replaceState(null, "", "#" + id);
  loadConversation();
}

/* -- actions ------------------------------------------------------------------------------ */

async function act(path, body, done) {
  if (!state.selected) return;
  try {
    await api(`/api/conversations/${encodeURIComponent(state.selected)}/${path}`, {method: "POST", body});
    if (done) toast(done);
  } catch (error) {
    toast(error.message, true);
    return false;
  }
  loadConversation();
  scheduleList();
  return true;
}

function setUpActions() {
  TemplatePicker.setUp();
  $("composer-kind").addEventListener("change", () => {
    const note = $("composer-kind").value === "note";
    $("composer-channel").disabled = note;
    $("composer-text").placeholder = note ? "Internal note (the customer never sees it)…" : "Write a reply…";
  });
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("composer-text").value;
    if (!text.trim()) return;
    const kind = $("composer-kind").value;
    const body = {text, kind, author: Auth.agent()};
    if (kind === "reply" && $("composer-channel").value) body.channel = $("composer-channel").value;
    $("composer-send").disabled = true;
    if (await act("messages", body, kind === "note" ? "Note added" : "Reply queued")) $("composer-text").value = "";
    $("composer-send").disabled = false;
  });
  $("composer-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("composer").requestSubmit();
  });
  const reason = () => $("reason").value.trim() || undefined;
  $("transfer").addEventListener("click", () =>
    act("transfer", {queue: $("transfer-queue").value, reason: reason(), author: Auth.agent()}, "Transferred"));
  $("escalate").addEventListener("click", () => act("escalate", {reason: reason(), author: Auth.agent()}, "Escalated"));
  $("assign").addEventListener("click", () =>
    act("assign", {agent: $("assign-agent").value.trim() || null, author: Auth.agent()}, "Assigned"));
  $("resolve").addEventListener("click", () => act("resolve", {author: Auth.agent()}, "Resolved"));
  $("reopen").addEventListener("click", () => act("reopen", {author: Auth.agent()}, "Reopened"));
  $("back").addEventListener("click", () => {
    document.body.classList.remove("viewing");
    history.replaceState(null, "", location.pathname);
  });
  for (const name of ["tier", "channel", "tag"]) {
    $("f-" + name).addEventListener("change", () => { state.filters[name] = $("f-" + name).value; loadList(); });
  }
}

/* -- live updates ------------------------------------------------------------------------- */

const live = {socket: null, attempts: 0, timer: null};

function setLive(stateName, label) {
  $("live").dataset.state = stateName;
  $("live").textContent = label;
}

function retryLater() {
  live.attempts += 1;
  const delay = Math.min(30000, 500 * 2 ** Math.min(live.attempts, 6));
  setLive("connecting", "reconnecting…");
  live.timer = setTimeout(connect, delay);
}

async function connect() {
  if (live.socket || !Auth.token()) return;
  setLive("connecting", "connecting…");
  live.socket = "pending";
  // The socket signs in with a single-use ticket from the API (which checks the token), not the token itself.
  let grant;
  try {
    grant = await api("/api/inbox/ticket", {method: "POST", body: {}});
  } catch (error) {
    live.socket = null;
    if (error.status === 401) { setLive("off", "signed out"); return; }
    retryLater();
    return;
  }
  if (grant.agent) {  // an agent's own token: the page acts under that agent's name
    Auth.setAgent(grant.agent);
    $("whoami").textContent = grant.agent;
  }
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/inbox/live`);
  live.socket = socket;
  socket.addEventListener("open", () => socket.send(JSON.stringify({type: "auth", ticket: grant.ticket})));
  socket.addEventListener("message", (message) => {
    let frame;
    try { frame = JSON.parse(message.data); } catch (error) { return; }
    if (frame.type === "ready") {
      const reconnected = live.attempts > 0;
      live.attempts = 0;
      setLive("live", "live");
      if (reconnected) { scheduleList(); loadConversation(); }  // what happened while away
    } else if (frame.type === "reload") {
      scheduleList();
      loadConversation();
    } else if (frame.type === "event") {
      if (!LIST_QUIET.has(frame.event.kind)) scheduleList();
      if (frame.event.conversation_id === state.selected) loadConversation();
    }
  });
  socket.addEventListener("close", (event) => {
    live.socket = null;
    retryLater();  // a refused ticket too: the next one comes from the API, which tells a bad token apart
  });
}

/* -- start -------------------------------------------------------------------------------- */

function start() {
  $("whoami").textContent = Auth.agent();
  connect();
  loadList();
  TemplatePicker.load();
  const fromHash = location.hash.slice(1);
  if (fromHash) select(fromHash);
}

document.addEventListener("gateway:unauthorized", () => {
  clearTimeout(live.timer);
  if (live.socket instanceof WebSocket) live.socket.close();
});

document.addEventListener("DOMContentLoaded", () => {
  setUpActions();
  setInterval(tick, 1000);
  setUpSignIn(start);
});
