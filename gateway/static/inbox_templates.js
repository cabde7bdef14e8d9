/* The inbox's template picker: pick a response template, fill its variables, see it rendered for this
 * conversation and the chosen reply channel, then put it into the reply box to edit, or send it as is.
 *
 * The list comes from GET /api/templates (read again whenever a conversation opens, so an edit of the
 * file shows without reloading the page); every preview is the server's rendering
 * (POST /api/templates/{name}/preview), so what the agent sees is what the customer would get.
 * Uses common.js (api, el) and inbox.js ($, state, act, toast).
 */
"use strict";

const TemplatePicker = (() => {
  const picker = {templates: [], seq: 0, ready: false, timer: null};

  const chosen = () => picker.templates.find((t) => t.name === $("template-name").value) || null;

  function variables() {
    // An empty box is left out, so a placeholder's fallback ({until|later today}) applies.
    const values = {};
    for (const input of document.querySelectorAll("#template-vars input")) {
      if (input.value.trim()) values[input.dataset.var] = input.value;
    }
    return values;
  }

  function request() {
    const kind = $("composer-kind").value;
    const body = {conversation_id: state.selected, variables: variables(), kind, author: Auth.agent()};
    if (kind === "reply" && $("composer-channel").value) body.channel = $("composer-channel").value;
    return body;
  }

  function setReady(ready) {
    picker.ready = ready;
    $("template-insert").disabled = !ready;
    $("template-send").disabled = !ready;
  }

  function showPreview(text, isError) {
    const node = $("template-preview");
    node.textContent = text;
    node.classList.toggle("error", isError);
    node.classList.toggle("hidden", !text);
  }

  /* The server's rendering for the current inputs, or null (the reason is shown under the picker). */
  async function render() {
    const template = chosen();
    if (!template || !state.selected) return null;
    const seq = ++picker.seq;
    let rendered;
    try {
      rendered = await api(`/api/templates/${encodeURIComponent(template.name)}/preview`,
                           {method: "POST", body: request()});
    } catch (error) {
      if (seq === picker.seq) { showPreview(error.message, true); setReady(false); }
      return null;
    }
    if (seq !== picker.seq) return null;  // the inputs changed meanwhile: a newer preview is on its way
    showPreview(rendered.text, false);
    setReady(true);
    return rendered;
  }

  function schedule() {
    // Typing in a variable's box becomes one preview a quarter of a second after the last key.
    setReady(false);
    clearTimeout(picker.timer);
    picker.timer = setTimeout(render, 250);
  }

  function showVariables() {
    const template = chosen();
    $("template-vars").replaceChildren(...(template ? template.variables : []).map((name) =>
      el("input", {dataset: {var: name}, placeholder: name, "aria-label": `Template variable ${name}`,
                   maxlength: "1000", autocomplete: "off", oninput: schedule})));
    $("template-actions").classList.toggle("hidden", !template);
    showPreview("", false);
    setReady(false);
    if (template) render();
  }

  function reset() {
    picker.seq += 1;  // a preview still on its way is for the previous choice
    clearTimeout(picker.timer);
    $("template-name").value = "";
    showVariables();
  }

  async function load() {
    let status;
    try {
      status = await api("/api/templates");
    } catch (error) {
      return;  // the page works without templates; a bad token is handled by the page
    }
    picker.templates = status.templates || [];
    const current = $("template-name").value;
    $("template-name").replaceChildren(el("option", {value: ""}, "Template…"),
      ...picker.templates.map((t) => el("option", {value: t.name, selected: t.name === current},
                                        t.description ? `${t.name} — ${t.description}` : t.name)));
    $("template-picker").classList.toggle("hidden", picker.templates.length === 0);
    if ($("template-name").value !== current) reset();  // the chosen one left the file
  }

  async function insert() {
    const rendered = await render();  // the text for the inputs as they are now
    if (!rendered) return;
    const box = $("composer-text");
    box.value = box.value.trim() ? `${box.value.replace(/\s+$/, "")}\n\n${rendered.text}` : rendered.text;
    reset();
    box.focus();
  }

  async function send() {
    const template = chosen();
    if (!template || !(await render())) return;
    const {variables: values, kind, channel, author} = request();
    const body = {template: template.name, variables: values, kind, author};
    if (channel) body.channel = channel;
    $("template-send").disabled = true;
    if (await act("messages", body, kind === "note" ? "Note added" : "Reply queued")) reset();
    else setReady(picker.ready);
  }

  function setUp() {
    $("template-name").addEventListener("change", showVariables);
    // The text depends on the channel (a short SMS, a long email) and on the kind (a note gets `default`).
    $("composer-channel").addEventListener("change", () => { if (chosen()) schedule(); });
    $("composer-kind").addEventListener("change", () => { if (chosen()) schedule(); });
    $("template-insert").addEventListener("click", insert);
    $("template-send").addEventListener("click", send);
  }

  return {setUp, load, reset};
})();
