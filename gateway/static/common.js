/* Shared by the inbox and the dashboard: the sign-in, the API call, safe DOM building.
 *
 * The token is entered once per browser tab and kept in sessionStorage (gone when the tab closes);
 * the server checks it on every API call and on the live socket. Every text reaches the page through
 * textContent: nothing a customer wrote (nor a mail's HTML, which arrives as text) is parsed as markup.
 */
"use strict";

const Auth = (() => {
  const TOKEN = "gateway-inbox-token", AGENT = "gateway-inbox-agent";
  // `gateway demo` prints /inbox?token=…: the token leaves the address bar (history, bookmarks) at once.
  const params = new URLSearchParams(location.search);
  if (params.has("token")) {
    sessionStorage.setItem(TOKEN, params.get("token"));
    history.replaceState(null, "", location.pathname);
  }
  return {
    token: () => sessionStorage.getItem(TOKEN) || "",
    agent: () => sessionStorage.getItem(AGENT) || "agent",
    signIn(token, agent) {
      sessionStorage.setItem(TOKEN, token);
      sessionStorage.setItem(AGENT, agent || "agent");
    },
    setAgent(agent) { sessionStorage.setItem(AGENT, agent); },
    signOut() { sessionStorage.removeItem(TOKEN); },
  };
})();

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}) {
  const headers = {"Authorization": "Bearer " + Auth.token()};
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {...options, headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body)});
  let data = null;
  try { data = await response.json(); } catch (error) { data = null; }
  if (!response.ok) {
    if (response.status === 401) document.dispatchEvent(new CustomEvent("gateway:unauthorized"));
    throw new ApiError(response.status, (data && data.error) || response.statusText);
  }
  return data;
}

/* el("div", {class: "x", dataset: {id: 1}, onclick: fn}, "text", childNode, …) */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function duration(seconds) {
  const sign = seconds < 0 ? "-" : "", s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
  if (d) return `${sign}${d}d ${h}h`;
  if (h) return `${sign}${h}h ${String(m).padStart(2, "0")}m`;
  return `${sign}${m}m ${String(r).padStart(2, "0")}s`;
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString([], {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"});
}

/* The sign-in form of both pages: shown until a token the API accepts is stored. */
function setUpSignIn(onReady) {
  const dialog = document.getElementById("signin");
  const form = document.getElementById("signin-form");
  const error = document.getElementById("signin-error");
  const show = (message) => {
    document.body.classList.add("signed-out");
    error.textContent = message || "";
    document.getElementById("signin-agent").value = Auth.agent() === "agent" ? "" : Auth.agent();
    document.getElementById("signin-token").focus();
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    Auth.signIn(document.getElementById("signin-token").value.trim(),
                document.getElementById("signin-agent").value.trim());
    try {
      await api("/api/rules");
    } catch (failure) {
      Auth.signOut();
      show(failure.status === 401 ? "That token is not accepted." : failure.message);
      return;
    }
    document.body.classList.remove("signed-out");
    onReady();
  });
  document.addEventListener("gateway:unauthorized", () => { Auth.signOut(); show("Signed out: the token was refused."); });
  const signOut = document.getElementById("signout");
  if (signOut) signOut.addEventListener("click", () => { Auth.signOut(); location.reload(); });
  if (!dialog) return;
  if (Auth.token()) {
    api("/api/rules").then(() => { document.body.classList.remove("signed-out"); onReady(); },
                           (failure) => show(failure.message));
  } else {
    show("");
  }
}
