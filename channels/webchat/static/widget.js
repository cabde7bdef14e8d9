/* Gateway web chat widget: one <script> tag, no build step.
 *
 *   <script src="https://HOST/webchat/widget.js" defer
 *           data-name="Ada" data-identifier="ada@example.com"
 *           data-identifier-hash="HMAC-SHA256 hex computed by your backend"></script>
 *
 * Protocol: docs/WEBCHAT.md. The visitor token is kept in localStorage so a
 * reload continues the same conversation; unacknowledged messages are resent
 * with the same client_id after a reconnect (or after an "unavailable" error,
 * while the gateway's Redis restarts), and the gateway stores them once. Each
 * welcome redraws the conversation from the gateway's history, so whatever
 * arrived while the socket was down (another web process may answer the
 * reconnect) is shown once, in order, followed by the messages still unacked.
 * Every agent message shown is answered with a "delivered" frame: only that
 * makes the gateway mark it delivered. A message with "csat": true is a
 * satisfaction survey: shown with 1-5 buttons, a press sends the number.
 * Files (an image or a PDF) go over HTTP to /webchat/upload with the visitor
 * token, never through the socket. data-lang="de" (en, de, es, fr) picks the
 * widget's own words; any other value, or none, is English.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(script.src, window.location.href);
  var wsUrl = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/webchat/ws";
  var uploadUrl = base.protocol + "//" + base.host + "/webchat/upload";
  var ACCEPT = "image/png,image/jpeg,image/gif,image/webp,application/pdf";
  var storeKey = "gateway-webchat:" + base.host;
  var data = script.dataset || {};
  // The widget's own words per language; "de-AT" counts as "de", anything unknown is English.
  var STRINGS = {
    en: {bubble: "Chat with us", panel: "Chat", title: "How can we help?", connecting: "connecting\u2026",
      reconnecting: "reconnecting\u2026", placeholder: "Write a message\u2026", send: "Send",
      attach: "Attach an image or PDF", notConnected: "the chat is not connected yet; try again in a moment",
      fileRefused: "the file was not accepted", fileFailed: "the file could not be sent; check the connection and try again",
      file: "file", rateGroup: "Rate this conversation from 1 to 5", rate: "Rate {n} of 5"},
    de: {bubble: "Chatten Sie mit uns", panel: "Chat", title: "Wie k\u00f6nnen wir helfen?", connecting: "verbinde\u2026",
      reconnecting: "verbinde erneut\u2026", placeholder: "Nachricht schreiben\u2026", send: "Senden",
      attach: "Bild oder PDF anh\u00e4ngen", notConnected: "der Chat ist noch nicht verbunden; bitte gleich noch einmal versuchen",
      fileRefused: "die Datei wurde nicht angenommen",
      fileFailed: "die Datei konnte nicht gesendet werden; bitte die Verbindung pr\u00fcfen und erneut versuchen",
      file: "Datei", rateGroup: "Bewerten Sie dieses Gespr\u00e4ch von 1 bis 5", rate: "{n} von 5"},
    es: {bubble: "Chatea con nosotros", panel: "Chat", title: "\u00bfEn qu\u00e9 podemos ayudarte?", connecting: "conectando\u2026",
      reconnecting: "reconectando\u2026", placeholder: "Escribe un mensaje\u2026", send: "Enviar",
      attach: "Adjuntar una imagen o un PDF", notConnected: "el chat a\u00fan no est\u00e1 conectado; int\u00e9ntalo de nuevo en un momento",
      fileRefused: "el archivo no fue aceptado",
      fileFailed: "no se pudo enviar el archivo; comprueba la conexi\u00f3n e int\u00e9ntalo de nuevo",
      file: "archivo", rateGroup: "Valora esta conversaci\u00f3n de 1 a 5", rate: "{n} de 5"},
    fr: {bubble: "Discutez avec nous", panel: "Chat", title: "Comment pouvons-nous vous aider ?", connecting: "connexion\u2026",
      reconnecting: "reconnexion\u2026", placeholder: "\u00c9crivez un message\u2026", send: "Envoyer",
      attach: "Joindre une image ou un PDF", notConnected: "le chat n\u2019est pas encore connect\u00e9 ; r\u00e9essayez dans un instant",
      fileRefused: "le fichier n\u2019a pas \u00e9t\u00e9 accept\u00e9",
      fileFailed: "le fichier n\u2019a pas pu \u00eatre envoy\u00e9 ; v\u00e9rifiez la connexion et r\u00e9essayez",
      file: "fichier", rateGroup: "Notez cette conversation de 1 \u00e0 5", rate: "{n} sur 5"}
  };
  var lang = String(data.lang || "").toLowerCase().split(/[-_]/)[0];
  if (!Object.prototype.hasOwnProperty.call(STRINGS, lang)) lang = "en";
  var words = STRINGS[lang];
  var pending = {};   // client_id -> text, until acked
  var shown = {};     // message id -> true
  var socket = null, retry = 0, ready = false, resendTimer = null, resendDelay = 500, conversationId = null;

  var css = "#gw-chat-bubble{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;" +
    "background:#3b5bdb;color:#fff;border:0;cursor:pointer;display:flex;align-items:center;justify-content:center;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}" +
    "#gw-chat-panel{position:fixed;right:20px;bottom:88px;width:340px;max-width:calc(100vw - 40px);height:460px;" +
    "max-height:calc(100vh - 120px);background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);" +
    "display:none;flex-direction:column;font:14px/1.4 system-ui,sans-serif;z-index:2147483000;overflow:hidden}" +
    "#gw-chat-panel.open{display:flex}#gw-chat-head{background:#3b5bdb;color:#fff;padding:12px 14px;font-weight:600}" +
    "#gw-chat-log{flex:1;overflow-y:auto;padding:10px;background:#f8f9fa}" +
    ".gw-msg{max-width:80%;margin:4px 0;padding:7px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}" +
    ".gw-in{margin-left:auto;background:#3b5bdb;color:#fff}.gw-out{background:#e9ecef;color:#212529}" +
    ".gw-author{font-size:11px;opacity:.7;margin-bottom:2px}.gw-pending{opacity:.6}" +
    "#gw-chat-form{display:flex;border-top:1px solid #dee2e6}#gw-chat-input{flex:1;border:0;padding:12px;font:inherit;outline:none}" +
    "#gw-chat-send{border:0;background:none;color:#3b5bdb;font-weight:600;padding:0 14px;cursor:pointer}" +
    "#gw-chat-status{font-size:12px;color:#868e96;padding:2px 10px}" +
    ".gw-csat{display:flex;gap:6px;margin-top:8px}.gw-csat button{width:32px;height:32px;border-radius:50%;" +
    "border:1px solid #3b5bdb;background:#fff;color:#3b5bdb;font:inherit;font-weight:600;cursor:pointer}" +
    ".gw-csat button:disabled{opacity:.45;cursor:default}.gw-csat button.gw-chosen{background:#3b5bdb;color:#fff;opacity:1}" +
    "#gw-chat-attach{border:0;background:none;color:#495057;padding:0 6px 0 12px;cursor:pointer}" +
    ".gw-file{display:block;margin-top:4px;color:inherit;text-decoration:underline}";
  // A constructed style sheet where the browser has them: a page with a strict Content-Security-Policy
  // (style-src without 'unsafe-inline', like the gateway's own pages) refuses a <style> element.
  if (window.CSSStyleSheet && "adoptedStyleSheets" in document && "replaceSync" in CSSStyleSheet.prototype) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
  } else {
    var style = document.createElement("style");
    style.textContent = css;
    document.head.appendChild(style);
  }

  var bubble = el("button", {id: "gw-chat-bubble", "aria-label": words.bubble, type: "button"});
  // An inline SVG, not an emoji: it renders the same without any emoji font installed.
  bubble.innerHTML = '<svg width="26" height="26" viewBox="0 0 24 24" fill="none" stroke="currentColor" ' +
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">' +
    '<path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"/></svg>';
  var panel = el("div", {id: "gw-chat-panel", role: "dialog", "aria-label": words.panel, lang: lang});
  var log = el("div", {id: "gw-chat-log", "aria-live": "polite"});
  var status = el("div", {id: "gw-chat-status"}, words.connecting);
  var input = el("input", {id: "gw-chat-input", placeholder: words.placeholder, maxlength: "4000", autocomplete: "off"});
  var form = el("form", {id: "gw-chat-form"});
  var attach = el("button", {id: "gw-chat-attach", type: "button", "aria-label": words.attach});
  attach.innerHTML = '<svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" ' +
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">' +
    '<path d="M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66L9.41 17.41a2 2 0 0 1-2.83-2.83l8.49-8.48"/></svg>';
  var picker = el("input", {id: "gw-chat-file", type: "file", accept: ACCEPT, hidden: ""});
  form.appendChild(attach);
  form.appendChild(picker);
  form.appendChild(input);
  form.appendChild(el("button", {id: "gw-chat-send", type: "submit"}, words.send));
  panel.appendChild(el("div", {id: "gw-chat-head"}, data.title || words.title));
  panel.appendChild(log);
  panel.appendChild(status);
  panel.appendChild(form);
  document.body.appendChild(panel);
  document.body.appendChild(bubble);

  bubble.addEventListener("click", function () {
    panel.classList.toggle("open");
    if (panel.classList.contains("open")) input.focus();
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    sendText(text);
  });

  function sendText(text) {
    var clientId = newClientId();
    pending[clientId] = text;
    render({id: "pending:" + clientId, direction: "inbound", text: text}, true);
    send({type: "message", client_id: clientId, text: text});
  }

  attach.addEventListener("click", function () { picker.click(); });
  picker.addEventListener("change", function () {
    var file = picker.files && picker.files[0];
    picker.value = "";
    if (file) upload(file);
  });

  function newClientId() {
    return (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
  }

  function upload(file) {
    var token = localStorage.getItem(storeKey);
    if (!token) { status.textContent = words.notConnected; return; }
    var clientId = newClientId();
    var caption = input.value.trim();
    input.value = "";
    render({id: "pending:" + clientId, direction: "inbound", text: caption, attachments: [{name: file.name}]}, true);
    var body = new FormData();
    body.append("visitor_token", token);
    body.append("client_id", clientId);
    if (caption) body.append("text", caption);
    if (data.identifier) { body.append("identifier", data.identifier); body.append("identifier_hash", data.identifierHash || ""); }
    if (data.name) body.append("name", data.name);
    body.append("file", file, file.name);
    fetch(uploadUrl, {method: "POST", body: body, credentials: "omit"}).then(function (response) {
      return response.json().then(function (answer) { return {ok: response.ok, answer: answer}; });
    }).then(function (result) {
      var node = log.querySelector('[data-id="pending:' + clientId + '"]');
      if (node) node.parentNode.removeChild(node);
      delete shown["pending:" + clientId];
      if (!result.ok) { status.textContent = result.answer.error || words.fileRefused; return; }
      status.textContent = "";
      render({id: result.answer.message_id, direction: "inbound", text: caption, attachments: [result.answer.attachment]});
      // The upload opened a conversation this socket has not joined: reconnect to follow its replies.
      if (result.answer.conversation_id !== conversationId && socket) socket.close();
    }).catch(function () {
      var node = log.querySelector('[data-id="pending:' + clientId + '"]');
      if (node) node.classList.add("gw-failed");
      status.textContent = words.fileFailed;
    });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var key in attrs || {}) node.setAttribute(key, attrs[key]);
    if (text) node.textContent = text;
    return node;
  }

  function render(message, isPending) {
    if (shown[message.id]) return;
    shown[message.id] = true;
    var node = el("div", {"class": "gw-msg " + (message.direction === "inbound" ? "gw-in" : "gw-out") +
      (isPending ? " gw-pending" : ""), "data-id": message.id});
    if (message.direction !== "inbound" && message.author) node.appendChild(el("div", {"class": "gw-author"}, message.author));
    if (message.text) node.appendChild(document.createTextNode(message.text));
    (message.attachments || []).forEach(function (file) {
      // Only http(s) links: a file's URL is the gateway's signed one; anything else is shown as a name.
      var link = file.url && /^https?:\/\//.test(file.url) ?
        el("a", {"class": "gw-file", href: file.url, target: "_blank", rel: "noopener noreferrer"}) :
        el("span", {"class": "gw-file"});
      link.textContent = "\ud83d\udcce " + (file.name || words.file);
      node.appendChild(link);
    });
    // The visitor wrote after it: an earlier survey is answered (or passed over).
    if (message.direction === "inbound") closeSurveys(message.text);
    if (message.csat === true && message.direction === "outbound") node.appendChild(survey());
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
  }

  // A satisfaction survey: 1-5 buttons; a press sends the number as the visitor's message.
  function survey() {
    var row = el("div", {"class": "gw-csat", role: "group", "aria-label": words.rateGroup});
    [1, 2, 3, 4, 5].forEach(function (n) {
      var button = el("button", {type: "button", "aria-label": words.rate.replace("{n}", String(n)), "data-rating": String(n)},
        String(n));
      button.addEventListener("click", function () {
        if (button.disabled) return;
        button.classList.add("gw-chosen");
        sendText(String(n));
      });
      row.appendChild(button);
    });
    return row;
  }

  // The open survey's button matching the answer stays highlighted (also when a reload replays both).
  function closeSurveys(answer) {
    var rating = /^\s*([1-5])(?![0-9])/.exec(answer || "");
    var buttons = log.querySelectorAll(".gw-csat button:not(:disabled)");
    for (var i = 0; i < buttons.length; i++) {
      if (rating && buttons[i].getAttribute("data-rating") === rating[1]) buttons[i].classList.add("gw-chosen");
      buttons[i].disabled = true;
    }
  }

  function send(frame) {
    if (socket && ready) socket.send(JSON.stringify(frame));
  }

  function resendPending() {
    for (var id in pending) send({type: "message", client_id: id, text: pending[id]});
  }

  // The gateway could not store a message now (its Redis is restarting): try again, backing off.
  function resendLater() {
    if (resendTimer) return;
    resendTimer = setTimeout(function () {
      resendTimer = null;
      resendPending();
    }, resendDelay);
    resendDelay = Math.min(resendDelay * 2, 8000);
  }

  // The gateway's history is the truth: redraw it, then the messages it has not acknowledged yet.
  function redraw(messages) {
    log.textContent = "";
    shown = {};
    messages.forEach(function (m) { render(m); });
    for (var id in pending) render({id: "pending:" + id, direction: "inbound", text: pending[id]}, true);
  }

  function connect() {
    socket = new WebSocket(wsUrl);
    socket.onopen = function () {
      retry = 0;
      var hello = {type: "hello", visitor_token: localStorage.getItem(storeKey) || undefined, name: data.name};
      if (data.identifier) { hello.identifier = data.identifier; hello.identifier_hash = data.identifierHash; }
      socket.send(JSON.stringify(hello));
    };
    socket.onmessage = function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === "welcome") {
        ready = true;
        status.textContent = "";
        localStorage.setItem(storeKey, frame.visitor_token);
        conversationId = frame.conversation_id;
        redraw(frame.messages);
        var agents = frame.messages.filter(function (m) { return m.direction === "outbound"; });
        // The server wants at most 500 ids a frame; a welcome longer than that acknowledges its newest.
        if (agents.length) send({type: "delivered", message_ids: agents.slice(-500).map(function (m) { return m.id; })});
        resendPending();
      } else if (frame.type === "ack") {
        delete pending[frame.client_id];
        resendDelay = 500;
        if (Object.keys(pending).length === 0) status.textContent = "";
        var node = log.querySelector('[data-id="pending:' + frame.client_id + '"]');
        if (node && shown[frame.message_id]) {
          node.parentNode.removeChild(node);  // stored before the socket dropped: the history shows it already
        } else if (node) {
          node.classList.remove("gw-pending");
          node.setAttribute("data-id", frame.message_id);
        }
        conversationId = frame.conversation_id;
        shown[frame.message_id] = true;
      } else if (frame.type === "message") {
        render(frame.message);
        if (frame.message.direction === "outbound") send({type: "delivered", message_ids: [frame.message.id]});
      } else if (frame.type === "error") {
        status.textContent = frame.detail;
        if (frame.code === "invalid_token" || frame.code === "token_expired") {
          localStorage.removeItem(storeKey); socket.close();
        }
        // Not stored (Redis restarting) or dropped (too many frames at once): send the pending ones again later.
        if ((frame.code === "unavailable" && frame.client_id) || frame.code === "rate_limited") resendLater();
      }
    };
    socket.onclose = function () {
      ready = false;
      status.textContent = words.reconnecting;
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 500 * Math.pow(2, retry));
    };
  }
  connect();
})();
