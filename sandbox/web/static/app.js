// recon-bot local sandbox: draws what the Slack stand-in holds and sends what a person does.
// The page never builds a Slack payload: it says "click this button in this message as this
// person" and the server builds Slack's payload with the stand-in's driver.
"use strict";

const params = new URLSearchParams(location.search);
const ui = { as: params.get("as") || "", where: params.get("in") || "home", snap: null, raw: "",
             errors: {}, modalKey: "", busy: false, drawn: null, stick: false };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// The emoji the bot's messages use (a test keeps this list complete); others stay as
// :shortcodes:, as in plain text.
const EMOJI = { link: "\ud83d\udd17", raised_hand: "\u270b", wastebasket: "\ud83d\uddd1\ufe0f",
  white_check_mark: "\u2705", warning: "\u26a0\ufe0f", x: "\u274c", no_entry: "\u26d4",
  large_orange_circle: "\ud83d\udfe0", large_yellow_circle: "\ud83d\udfe1", large_green_circle: "\ud83d\udfe2",
  red_circle: "\ud83d\udd34", rotating_light: "\ud83d\udea8", hourglass: "\u231b", hourglass_flowing_sand: "\u23f3",
  bell: "\ud83d\udd14", lock: "\ud83d\udd12", inbox_tray: "\ud83d\udce5", memo: "\ud83d\udcdd", heavy_check_mark: "\u2714\ufe0f",
  grey_question: "\u2754", arrow_double_up: "\u23eb", alarm_clock: "\u23f0", busts_in_silhouette: "\ud83d\udc65",
  pencil2: "\u270f\ufe0f", double_vertical_bar: "\u23f8\ufe0f", white_circle: "\u26aa", palm_tree: "\ud83c\udf34",
  mag: "\ud83d\udd0d", information_source: "\u2139\ufe0f", busy_in_progress: "\u23f3", bank: "\ud83c\udfe6",
  arrows_counterclockwise: "\ud83d\udd04", arrow_forward: "\u25b6\ufe0f" };

// Slack's mrkdwn basics. Slack escapes &, < and > in text; links and mentions use <...>.
function mrkdwn(text) {
  const users = (ui.snap && ui.snap.users) || {};
  const src = String(text || "").replace(/&lt;/g, "\u0001").replace(/&gt;/g, "\u0002").replace(/&amp;/g, "&");
  const tokens = [];
  const stash = (html) => { tokens.push(html); return "\u0000" + (tokens.length - 1) + "\u0000"; };
  let s = src.replace(/<([^<>]+)>/g, (_, inner) => {
    const [target, label] = inner.split("|", 2);
    if (target.startsWith("@")) {
      const id = target.slice(1);
      return stash(`<span class="mention">@${escapeHtml(users[id] || id)}</span>`);
    }
    if (target.startsWith("#")) return stash(`<span class="mention">#${escapeHtml(label || target.slice(1))}</span>`);
    if (target.startsWith("!date^")) return stash(escapeHtml(label || ""));
    if (target.startsWith("!")) return stash(`<span class="mention">@${escapeHtml(label || target.slice(1))}</span>`);
    if (/^(https?|mailto):/.test(target)) {
      return stash(`<a href="${escapeHtml(target)}" rel="noopener noreferrer" target="_blank">${escapeHtml(label || target)}</a>`);
    }
    return stash(escapeHtml("<" + inner + ">"));
  });
  s = s.replace(/`([^`\n]+)`/g, (_, code) => stash(`<code>${escapeHtml(code)}</code>`));
  s = escapeHtml(s.replace(/\u0001/g, "<").replace(/\u0002/g, ">"));
  s = s.replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/g, "$1<b>$2</b>");
  s = s.replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,:;!?])/g, "$1<i>$2</i>");
  s = s.replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,:;!?])/g, "$1<s>$2</s>");
  s = s.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);
  s = s.replace(/\n/g, "<br>");
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => tokens[Number(i)]);
}

function textNode(t) {
  const span = el("span", { class: "text" });
  if (!t) return span;
  if (t.type === "mrkdwn") span.innerHTML = mrkdwn(t.text);
  else span.textContent = t.text || "";
  return span;
}

async function api(path, body) {
  const res = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                  body: JSON.stringify({ as: ui.as, ...body }) });
  const data = await res.json().catch(() => ({ ok: false, error: `HTTP ${res.status}` }));
  if (!data.ok) toast(data.error || "the sandbox refused that");
  return data;
}

function toast(message) {
  const t = document.getElementById("toast");
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}

function askConfirm(confirm) {
  return new Promise((resolve) => {
    const box = document.getElementById("confirm");
    const done = (answer) => { box.hidden = true; box.replaceChildren(); resolve(answer); };
    box.replaceChildren(el("div", { class: "dialog", role: "dialog", "aria-modal": "true" },
      el("h3", {}, (confirm.title && confirm.title.text) || "Are you sure?"),
      el("div", {}, textNode(confirm.text)),
      el("div", { class: "buttons" },
        el("button", { type: "button", class: "deny", onclick: () => done(false) }, (confirm.deny && confirm.deny.text) || "Cancel"),
        el("button", { type: "button", class: confirm.style === "danger" ? "danger confirm" : "primary confirm", onclick: () => done(true) },
           (confirm.confirm && confirm.confirm.text) || "Yes"))));
    box.hidden = false;
  });
}

function buttonEl(block, element, where) {
  const label = (element.text && element.text.text) || "";
  const cls = element.style === "primary" ? "primary" : element.style === "danger" ? "danger" : "";
  return el("button", { type: "button", class: cls, "data-action-id": element.action_id,
                        "data-block-id": block.block_id,
    onclick: async () => {
      if (element.confirm && !(await askConfirm(element.confirm))) return;
      if (element.url) window.open(element.url, "_blank", "noopener");
      await api("/api/click", { label, block_id: block.block_id, action_id: element.action_id, ...where });
      refresh();
    } }, label);
}

function unsupported(what) {
  return el("span", { class: "unsupported" }, `unsupported ${what}`);
}

function interactive(block, element, where) {
  if (element.type === "button") return buttonEl(block, element, where);
  // Only buttons are clickable outside a modal's inputs in the sandbox: say so.
  return unsupported(`element: ${element.type}`);
}

function renderBlock(block, where) {
  switch (block.type) {
    case "header":
      return el("div", { class: "block bk-header" }, textNode(block.text));
    case "divider":
      return el("hr", { class: "block bk-divider" });
    case "context":
      return el("div", { class: "block bk-context" },
        (block.elements || []).map((e) => e.type === "image" ? el("span", {}, e.alt_text || "") : textNode(e)));
    case "section": {
      const body = el("div", { class: "bk-body" });
      if (block.text) body.append(el("div", {}, textNode(block.text)));
      if (block.fields) body.append(el("div", { class: "bk-fields" }, block.fields.map((f) => el("div", {}, textNode(f)))));
      const node = el("div", { class: "block bk-section", "data-block-id": block.block_id }, body);
      if (block.accessory) node.append(interactive(block, block.accessory, where));
      return node;
    }
    case "actions":
      return el("div", { class: "block bk-actions", "data-block-id": block.block_id },
        (block.elements || []).map((e) => interactive(block, e, where)));
    case "input":
      return renderInput(block, where);
    default:
      return el("div", { class: "block" }, unsupported(`block: ${block.type}`));
  }
}

function renderBlocks(blocks, where) {
  const box = el("div", { class: "blocks" });
  for (const block of blocks || []) {
    try {
      box.append(renderBlock(block, where));
    } catch (err) {
      box.append(el("div", { class: "block" }, unsupported(`block: ${block && block.type}`)));
    }
  }
  return box;
}

// --------------------------------------------------------------------------- modal inputs

function optionText(o) { return (o && o.text && o.text.text) || ""; }
function allOptions(e) {
  return [...(e.options || []), ...(e.option_groups || []).flatMap((g) => g.options || [])];
}

function renderInput(block, where) {
  const e = block.element || {};
  const label = (block.label && block.label.text) || "";
  const id = `in-${block.block_id}`;
  let control;
  switch (e.type) {
    case "plain_text_input":
      control = e.multiline ? el("textarea", { id, rows: 3 }) : el("input", { id, type: "text" });
      if (e.initial_value) control.value = e.initial_value;
      if (e.placeholder) control.placeholder = e.placeholder.text;
      if (e.max_length) control.maxLength = e.max_length;
      break;
    case "number_input": case "email_text_input": case "url_text_input":
      control = el("input", { id, type: "text", inputmode: e.type === "number_input" ? "decimal" : null });
      if (e.initial_value) control.value = e.initial_value;
      break;
    case "datepicker":
      control = el("input", { id, type: "date" });
      if (e.initial_date) control.value = e.initial_date;
      break;
    case "static_select": case "users_select": case "conversations_select": case "channels_select": {
      let options = allOptions(e).map(optionText);
      if (e.type === "users_select") options = Object.keys(ui.snap.people);
      if (e.type !== "static_select" && e.type !== "users_select") options = ui.snap.channels.filter((c) => !c.is_im).map((c) => c.id);
      control = el("select", { id }, el("option", { value: "" }, "Choose…"),
        options.map((o) => el("option", { value: o }, e.type === "users_select" ? ui.snap.people[o] : o)));
      const initial = e.initial_option ? optionText(e.initial_option) : e.initial_user || e.initial_conversation || e.initial_channel;
      if (initial) control.value = initial;
      break;
    }
    case "radio_buttons": case "checkboxes": {
      const multi = e.type === "checkboxes";
      const initial = multi ? (e.initial_options || []).map(optionText) : [optionText(e.initial_option)];
      control = el("div", { id, class: "choices", "data-multi": multi ? "1" : "" },
        allOptions(e).map((o) => el("label", {}, el("input", { type: multi ? "checkbox" : "radio", name: id, value: optionText(o),
          checked: initial.includes(optionText(o)) }), " ", optionText(o))));
      break;
    }
    case "multi_static_select": {
      control = el("select", { id, multiple: true }, allOptions(e).map((o) => el("option", { value: optionText(o) }, optionText(o))));
      const initial = (e.initial_options || []).map(optionText);
      for (const opt of control.options) opt.selected = initial.includes(opt.value);
      break;
    }
    default:
      return el("div", { class: "block input-block" }, el("label", {}, label), unsupported(`input: ${e.type}`));
  }
  control.dataset.label = label;
  control.dataset.kind = e.type;
  const error = (ui.errors[where.view_id] || {})[block.block_id];
  return el("div", { class: "block input-block", "data-block-id": block.block_id },
    el("label", { for: id }, label, block.optional ? el("span", { class: "hint" }, " (optional)") : null),
    control,
    block.hint ? el("div", { class: "hint" }, block.hint.text) : null,
    error ? el("div", { class: "field-error", role: "alert" }, error) : null);
}

function collectValues(modalNode) {
  const values = {};
  for (const control of modalNode.querySelectorAll("[data-label]")) {
    const label = control.dataset.label;
    const kind = control.dataset.kind;
    if (kind === "radio_buttons" || kind === "checkboxes") {
      const picked = [...control.querySelectorAll("input:checked")].map((i) => i.value);
      if (picked.length) values[label] = kind === "checkboxes" ? picked : picked[0];
    } else if (kind === "multi_static_select") {
      const picked = [...control.selectedOptions].map((o) => o.value);
      if (picked.length) values[label] = picked;
    } else if (control.tagName === "SELECT" || kind === "datepicker") {
      if (control.value) values[label] = control.value;
    } else {
      values[label] = control.value;
    }
  }
  return values;
}

function viewTitle(view) {
  return (view.spec && view.spec.title && view.spec.title.text) || "";
}

// A person's entries outlive a redraw, as in Slack: when the bot updates the view, when an
// error comes back, and in a view below the top of the stack while they look at another.
function keepEntries(oldNode, newNode) {
  for (const control of oldNode.querySelectorAll("[data-label][data-touched]")) {
    const twin = newNode.querySelector(`#${CSS.escape(control.id)}`);
    if (!twin || twin.dataset.kind !== control.dataset.kind) continue;
    if (control.classList.contains("choices")) {
      const checked = new Set([...control.querySelectorAll("input:checked")].map((i) => i.value));
      for (const box of twin.querySelectorAll("input")) box.checked = checked.has(box.value);
    } else if (control.multiple) {
      const picked = new Set([...control.selectedOptions].map((o) => o.value));
      for (const opt of twin.options) opt.selected = picked.has(opt.value);
    } else {
      twin.value = control.value;
    }
    twin.dataset.touched = "1";
  }
}

function modalEl(view, below) {
  const spec = view.spec || {};
  const where = { view_id: view.id };
  const back = async () => { await api("/api/close", {}); refresh(); };
  const node = el("div", { class: "modal", role: "dialog", "aria-modal": "true", "data-view-id": view.id,
                           "data-callback-id": spec.callback_id || "", "data-depth": below.length + 1 },
    el("header", {},
       below.length ? el("button", { type: "button", class: "modal-back", "aria-label": "Back", title: "Back", onclick: back }, "\u2039") : null,
       el("span", { class: "modal-title" }, viewTitle(view)),
       below.length ? el("span", { class: "depth" }, `${below.length + 1} stacked`) : null),
    below.length ? el("div", { class: "crumbs", "aria-label": "Views below this one" },
                      [...below.map(viewTitle), viewTitle(view)].join(" \u203a ")) : null,
    el("div", { class: "body" }, renderBlocks(spec.blocks, where)));
  node.addEventListener("input", (ev) => {
    const control = ev.target.closest("[data-label]");
    if (control) control.dataset.touched = "1";
  });
  // Slack's close button takes the top view off the stack: Back to the one below, if any.
  const footer = el("footer", {},
    el("button", { type: "button", class: "modal-close", onclick: back }, (spec.close && spec.close.text) || "Cancel"));
  if (spec.submit) {
    footer.append(el("button", { type: "button", class: "primary modal-submit", onclick: async () => {
      const data = await api("/api/submit", { view_id: view.id, values: collectValues(node) });
      if (data.ok) ui.errors[view.id] = data.errors || {};
      ui.modalKey = "";
      if (ui.snap) render();  // errors show at once, even when nothing else changed
      refresh();
    } }, spec.submit.text));
  }
  node.append(footer);
  return node;
}

// Slack shows the top view of a modal's stack; the views below wait, entries intact, and
// come back when the top one closes. All of them stay in the page, the ones below hidden.
function renderModals(modals) {
  const root = document.getElementById("modals");
  const key = JSON.stringify([modals, ui.errors]);
  if (key === ui.modalKey) return;
  ui.modalKey = key;
  const drawn = new Map([...root.querySelectorAll("[data-view-id]")].map((n) => [n.dataset.viewId, n]));
  if (!modals.length) { root.replaceChildren(); return; }
  const backdrop = el("div", { class: "modal-backdrop" });
  modals.forEach((view, i) => {
    const node = modalEl(view, modals.slice(0, i));
    if (drawn.has(view.id)) keepEntries(drawn.get(view.id), node);
    if (i < modals.length - 1) {  // below the top: kept, not shown
      node.className = "modal-below";
      node.hidden = true;
    }
    backdrop.append(node);
  });
  root.replaceChildren(backdrop);
}

// --------------------------------------------------------------------------- the page

function messageEl(m, channel) {
  const users = ui.snap.users;
  const where = { channel: channel.id, ts: m.ts };
  const body = m.blocks && m.blocks.length ? renderBlocks(m.blocks, where) : el("div", { class: "text", html: null });
  if (!(m.blocks && m.blocks.length)) body.innerHTML = mrkdwn(m.text);
  return el("div", { class: m.ephemeral ? "message ephemeral" : "message", "data-ts": m.ts },
    el("div", {}, el("span", { class: "who" }, users[m.user] || m.user),
       el("span", { class: "meta" }, m.ephemeral ? "Only visible to you" : m.edited ? "(edited)" : "")),
    body);
}

function renderChannel(channel) {
  const pane = el("div", { class: "channel", "data-channel": channel.id });
  const replies = {};
  for (const m of channel.messages) {
    if (m.thread_ts && m.thread_ts !== m.ts) (replies[m.thread_ts] = replies[m.thread_ts] || []).push(m);
  }
  for (const m of channel.messages) {
    if (m.thread_ts && m.thread_ts !== m.ts && channel.messages.some((p) => p.ts === m.thread_ts)) continue;
    const node = messageEl(m, channel);
    const thread = replies[m.ts];
    if (thread) node.append(el("div", { class: "thread" }, el("div", { class: "meta" }, `${thread.length} repl${thread.length === 1 ? "y" : "ies"}`),
      thread.map((r) => messageEl(r, channel))));
    pane.append(node);
  }
  if (!channel.messages.length) pane.append(el("p", { class: "meta" }, "No messages yet."));
  return pane;
}

function render() {
  const snap = ui.snap;
  const sw = document.getElementById("as");
  if (sw.options.length !== Object.keys(snap.people).length) {
    sw.replaceChildren(...Object.entries(snap.people).map(([id, label]) => el("option", { value: id }, label)));
  }
  sw.value = ui.as;
  const nav = document.getElementById("sidebar");
  const link = (id, label) => el("a", { class: ui.where === id ? "active" : "", "data-target": id,
                                        onclick: () => go(id) }, label);
  nav.replaceChildren(...[
    link("home", "Home (recon-bot)"),
    el("h2", {}, "Channels"), snap.channels.filter((c) => !c.is_im).map((c) => link(c.id, `# ${c.name}`)),
    el("h2", {}, "Direct messages"), snap.channels.filter((c) => c.is_im).map((c) => link(c.id, c.name)),
  ].flat());
  const pane = document.getElementById("pane");
  const title = document.getElementById("title");
  // As in Slack: a conversation opens at its newest message, and stays there as messages
  // come while the person is at the bottom; scrolled up, they stay where they are.
  const scrolled = pane.scrollTop;
  const atBottom = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 40;
  const toBottom = ui.where !== "home" && (ui.drawn !== ui.where || atBottom || ui.stick);
  if (ui.where === "home") {
    title.textContent = "recon-bot · Home";
    pane.replaceChildren(snap.home ? el("div", { class: "home", "data-view-id": snap.home.id },
      renderBlocks(snap.home.spec.blocks, { view_id: snap.home.id })) : el("p", {}, "Opening the App Home…"));
  } else {
    const channel = snap.channels.find((c) => c.id === ui.where);
    title.textContent = channel ? (channel.is_im ? channel.name : `# ${channel.name}`) : "";
    pane.replaceChildren(channel ? renderChannel(channel) : el("p", {}, "No such conversation."));
  }
  pane.scrollTop = toBottom ? pane.scrollHeight : scrolled;
  ui.drawn = ui.where;
  ui.stick = false;
  renderModals(snap.modals);
}

function syncUrl() {
  const q = new URLSearchParams({ as: ui.as });
  if (ui.where !== "home") q.set("in", ui.where);
  history.replaceState(null, "", `?${q}`);
}

async function go(where) {
  ui.where = where;
  syncUrl();
  if (where === "home") await api("/api/home", {});
  ui.raw = "";
  refresh();
}

async function refresh() {
  try {
    const res = await fetch(`/api/state?as=${encodeURIComponent(ui.as)}`, { cache: "no-store" });
    const text = await res.text();
    if (text === ui.raw) return;
    ui.raw = text;
    ui.snap = JSON.parse(text);
    if (ui.as !== ui.snap.as) { ui.as = ui.snap.as; syncUrl(); }
    render();
    document.body.dataset.ready = "1";
  } catch (err) {
    toast("the sandbox is not answering (stopped?)");
  }
}

document.getElementById("as").addEventListener("change", (ev) => {
  ui.as = ev.target.value;
  ui.errors = {};
  ui.modalKey = "";
  go(ui.where);
});

document.getElementById("composer").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = document.getElementById("command");
  const text = input.value.trim();
  if (!text) return;
  const channel = ui.where === "home" ? null : ui.where;
  const data = await api("/api/command", { text, channel });
  if (data.ok) { input.value = ""; ui.stick = true; }  // the answer shows at the bottom
  // Typed on the Home tab, the command runs in the app's DM, where its answer shows.
  const dm = ui.snap && ui.snap.channels.find((c) => c.is_im);
  if (data.ok && !channel && dm) { ui.where = dm.id; syncUrl(); }
  ui.raw = "";
  refresh();
});

// Live updates: the bot edits cards after its ack; poll the local endpoint.
setInterval(refresh, 700);
go(ui.where);
