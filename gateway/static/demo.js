/* The demo page's small agent panel (the full one is /inbox). No inline script: the page sends a strict CSP. */
"use strict";

const tokenInput = document.getElementById("token");
tokenInput.value = new URLSearchParams(location.search).get("token") || localStorage.getItem("gw-admin") || "";
// The token leaves the address bar at once: not in history, bookmarks, or a later request's Referer.
if (location.search.includes("token=")) {
  localStorage.setItem("gw-admin", tokenInput.value);
  history.replaceState(null, "", location.pathname);
}
let selected = null;
async function api(path, options = {}) {
  localStorage.setItem("gw-admin", tokenInput.value);
  const response = await fetch(path, {...options, headers: {"Authorization": "Bearer " + tokenInput.value,
    "Content-Type": "application/json"}});
  if (!response.ok) throw new Error((await response.json()).error);
  return response.json();
}
function text(tag, value, cls) { const n = document.createElement(tag); n.textContent = value; if (cls) n.className = cls; return n; }
async function refresh() {
  if (!tokenInput.value) return;
  try {
    const {conversations} = await api("/api/conversations");
    const list = document.getElementById("list");
    list.replaceChildren(...conversations.map(c => {
      const row = text("div", `${c.queue || "unrouted"} · ${c.status} · ${c.last_inbound_channel || ""}`);
      row.appendChild(text("div", c.id, "meta"));
      if (c.id === selected) row.className = "sel";
      row.onclick = () => { selected = c.id; refresh(); };
      return row;
    }));
    if (selected) {
      const view = await api("/api/conversations/" + selected);
      const c = view.conversation;
      document.getElementById("header").textContent =
        `${view.customer.name || view.customer.id} · ${c.queue} tier ${c.tier} · ${c.priority} · rule: ${c.routing.rule}`;
      document.getElementById("timeline").replaceChildren(...view.messages.map(m => {
        const row = text("div", m.text, "m " + m.direction);
        row.prepend(text("div", `${m.direction} · ${m.author}${m.channel ? " · " + m.channel : ""}${m.delivery ? " · " + m.delivery : ""}`, "meta"));
        return row;
      }));
    }
  } catch (error) { document.getElementById("header").textContent = error.message; }
}
document.getElementById("reply").onsubmit = async (event) => {
  event.preventDefault();
  const input = document.getElementById("text");
  if (!selected || !input.value) return;
  await api(`/api/conversations/${selected}/messages`, {method: "POST",
    body: JSON.stringify({text: input.value, author: "Demo agent", kind: document.getElementById("kind").value})});
  input.value = "";
  refresh();
};
setInterval(refresh, 2000);
refresh();
