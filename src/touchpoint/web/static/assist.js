// Touchpoint agent assist: the side panel's tabs, suggestions and canned responses into the reply box, the
// "/" canned picker, AI drafts and summaries. Text only ever moves with .value / .textContent: customer and
// canned text is never parsed as HTML here. Nothing in this file sends a message; the agent does.
(function () {
  "use strict";

  const page = document.body.dataset.page;

  // Confirmations for destructive plain forms (canned responses page).
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });
  if (page !== "conversation") return;

  const reply = document.getElementById("reply-text");
  const note = document.getElementById("composer-note");
  const picker = document.getElementById("canned-picker");

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; }
    catch (_) { return ""; }
  }

  function showNote(text, kind) {
    if (!note) return;
    note.textContent = text;
    note.dataset.kind = kind || "info";
    note.hidden = !text;
  }

  // Into the reply box: replaces an empty box, otherwise adds below what the agent already wrote.
  function fillReply(text, { replace = false } = {}) {
    if (!reply) return;
    const current = reply.value.trim();
    reply.value = replace || !current ? text : reply.value.replace(/\s+$/, "") + "\n\n" + text;
    reply.focus();
    reply.setSelectionRange(reply.value.length, reply.value.length);
    reply.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // ---- side panel tabs ---------------------------------------------------------------------------------

  const side = document.querySelector(".side");
  if (side) {
    side.classList.add("tabs-ready");
    side.addEventListener("click", (event) => {
      const tab = event.target.closest("[data-side-tab]");
      if (!tab) return;
      side.querySelectorAll("[data-side-tab]").forEach((t) => {
        const on = t === tab;
        t.classList.toggle("active", on);
        t.setAttribute("aria-selected", on ? "true" : "false");
      });
      side.querySelectorAll("[data-side-pane]").forEach((pane) => {
        pane.classList.toggle("active", pane.dataset.sidePane === tab.dataset.sideTab);
      });
    });
  }

  // ---- keeping the panel current -----------------------------------------------------------------------

  let assistTimer = null;
  let assistBusy = false;
  function refreshAssist() {
    clearTimeout(assistTimer);
    assistTimer = setTimeout(async () => {
      const panel = document.getElementById("assist-panel");
      if (!panel) return;
      // Never pull the panel from under an agent typing a rejection reason: try again once they leave it.
      if (assistBusy || panel.contains(document.activeElement)) { refreshAssist(); return; }
      assistBusy = true;
      try {
        const response = await fetch(panel.dataset.assistUrl, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
        if (!response.ok) return;
        const template = document.createElement("template");
        template.innerHTML = await response.text(); // server-rendered, escaped fragment
        const fresh = template.content.getElementById("assist-panel");
        const now = document.getElementById("assist-panel");
        if (fresh && now) {
          const summary = now.querySelector(".ai-summary");
          const freshSummary = fresh.querySelector(".ai-summary");
          if (summary && freshSummary && !summary.hidden) freshSummary.replaceWith(summary); // keep what was fetched
          now.replaceWith(fresh);
          if (window.htmx) window.htmx.process(fresh);
        }
      } catch (error) {
        console.warn("assist:", error);
      } finally {
        assistBusy = false;
      }
    }, 400);
  }
  document.addEventListener("tp:assist-stale", refreshAssist);
  document.body.addEventListener("tp:changed", (event) => {
    const action = event.detail && event.detail.action;
    if (action === "reply") { showNote(""); closePicker(); }
    refreshAssist();
  });

  // ---- suggestions -------------------------------------------------------------------------------------

  document.addEventListener("click", (event) => {
    const use = event.target.closest("[data-use-suggestion]");
    if (!use) return;
    const item = use.closest(".suggestion");
    const text = item && item.querySelector(".suggestion-text");
    if (!text) return;
    fillReply(text.textContent.trim());
    showNote("Suggestion added to your reply: edit it as you like, then send.", "info");
  });

  // ---- canned responses: "/" picker --------------------------------------------------------------------

  let matches = [];
  let selected = 0;
  let slashMode = false; // the picker filters on "/query" typed into an otherwise empty box

  function cannedItems() {
    return [...document.querySelectorAll("#canned-data li")].map((li) => ({
      shortcut: li.dataset.shortcut || "", title: li.dataset.title || "", text: li.textContent,
    }));
  }

  function renderPicker(query) {
    const list = picker.querySelector(".picker-list");
    const q = query.toLowerCase();
    matches = cannedItems().filter((c) => !q || c.shortcut.includes(q) || c.title.toLowerCase().includes(q))
      .sort((a, b) => Number(!a.shortcut.startsWith(q)) - Number(!b.shortcut.startsWith(q)));
    selected = Math.min(selected, Math.max(matches.length - 1, 0));
    list.replaceChildren(...matches.map((c, index) => {
      const li = document.createElement("li");
      li.className = "picker-item" + (index === selected ? " active" : "");
      li.setAttribute("role", "option");
      li.dataset.index = String(index);
      const head = document.createElement("div");
      const code = document.createElement("code");
      code.textContent = "/" + c.shortcut;
      const title = document.createElement("strong");
      title.textContent = c.title;
      head.append(code, " ", title);
      const body = document.createElement("div");
      body.className = "picker-text";
      body.textContent = c.text;
      li.append(head, body);
      return li;
    }));
    picker.querySelector(".picker-empty").hidden = matches.length > 0;
  }

  function openPicker(query, slash) {
    if (!picker) return;
    slashMode = slash;
    selected = 0;
    renderPicker(query);
    picker.hidden = false;
  }

  function closePicker() {
    if (picker) picker.hidden = true;
    slashMode = false;
  }

  function insertCanned(index) {
    const choice = matches[index];
    if (!choice) return;
    if (slashMode) reply.value = "";
    closePicker();
    fillReply(choice.text);
  }

  if (reply && picker) {
    reply.addEventListener("input", () => {
      const slash = /^\/([\w-]*)$/.exec(reply.value);
      if (slash) openPicker(slash[1].toLowerCase(), true);
      else if (slashMode) closePicker();
    });
    reply.addEventListener("keydown", (event) => {
      if (picker.hidden) return;
      const handled = { ArrowDown: 1, ArrowUp: -1 };
      if (event.key in handled) {
        selected = (selected + handled[event.key] + matches.length) % Math.max(matches.length, 1);
        renderPicker(slashMode ? reply.value.slice(1) : "");
      } else if ((event.key === "Enter" || event.key === "Tab") && !event.ctrlKey && !event.metaKey && matches.length) {
        insertCanned(selected);
      } else if (event.key === "Escape") {
        closePicker();
      } else {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
    });
    picker.addEventListener("mousedown", (event) => {
      const item = event.target.closest(".picker-item");
      if (!item) return;
      event.preventDefault(); // keep the focus in the reply box
      insertCanned(Number(item.dataset.index));
    });
    reply.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== reply) closePicker(); }, 150));
  }

  function startCanned() {
    if (!reply) return;
    if (!reply.value.trim()) { reply.value = "/"; openPicker("", true); } else { openPicker("", false); }
    reply.focus();
  }
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-open-canned]")) startCanned();
  });
  // "/" anywhere on the page (not while typing elsewhere) opens the picker on the reply box.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
    event.preventDefault();
    startCanned();
  });

  // ---- AI drafts and summaries -------------------------------------------------------------------------

  async function askAi(url) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), "HX-Request": "true", Accept: "application/json" },
    });
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    if (!response.ok || !body || body.error) {
      const message = body && body.error && body.error.message;
      throw new Error(message || `Drafting is unavailable right now (HTTP ${response.status}).`);
    }
    return body;
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-draft-url], [data-ai-summary-url]");
    if (!button || button.disabled) return;
    const drafting = button.hasAttribute("data-draft-url");
    const label = button.textContent;
    button.disabled = true;
    button.textContent = drafting ? "Drafting…" : "Summarising…";
    if (drafting) showNote("Writing a draft…", "info");
    try {
      if (drafting) {
        const body = await askAi(button.dataset.draftUrl);
        fillReply(body.draft);
        showNote("AI draft: check the facts and edit before sending. Nothing has been sent.", "ai");
      } else {
        const body = await askAi(button.dataset.aiSummaryUrl);
        const box = document.querySelector("#assist-panel .ai-summary");
        if (box) { box.querySelector(".ai-summary-text").textContent = body.summary; box.hidden = false; }
      }
    } catch (error) {
      if (drafting) showNote(error.message, "error");
      else {
        const box = document.querySelector("#assist-panel .ai-summary");
        if (box) { box.querySelector(".ai-summary-text").textContent = error.message; box.hidden = false; box.dataset.kind = "error"; }
      }
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  });
})();
