// Touchpoint inbox: realtime refresh over one WebSocket, keyboard shortcuts, and small comforts.
// The server renders every piece of HTML (escaped); this file only decides when to fetch which fragment.
(function () {
  "use strict";

  const page = document.body.dataset.page;
  // Other signed-in pages (canned responses) only keep the live indicator honest.
  if (page !== "list" && page !== "conversation" && page !== "canned") return;

  const layout = document.querySelector("[data-conversation-id]");
  const conversationId = layout ? Number(layout.dataset.conversationId) : null;

  // ---- fragments ---------------------------------------------------------------------------------------

  async function fetchFragment(url) {
    const response = await fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    const redirect = response.headers.get("HX-Redirect");
    if (redirect) { window.location.href = redirect; throw new Error("signed out"); }
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.text();
  }

  function parse(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  // One refresh at a time per key; a request made meanwhile runs once more afterwards.
  const running = {};
  function serial(key, work) {
    const state = running[key] || (running[key] = { busy: false, again: false });
    if (state.busy) { state.again = true; return; }
    state.busy = true;
    Promise.resolve().then(work).catch((error) => console.warn("inbox:", key, error)).finally(() => {
      state.busy = false;
      if (state.again) { state.again = false; serial(key, work); }
    });
  }

  // ---- the list ----------------------------------------------------------------------------------------

  let listTimer = null;
  function refreshList() {
    clearTimeout(listTimer);
    // Bursts of events (a handoff touches several rows) become one request.
    listTimer = setTimeout(() => serial("list", async () => {
      const panel = document.getElementById("inbox-list");
      if (!panel) return;
      const before = new Set([...panel.querySelectorAll(".conv-row")].map((row) => row.dataset.id));
      const focused = document.activeElement && document.activeElement.closest(".conv-row");
      const focusedId = focused ? focused.dataset.id : null;
      const fresh = parse(await fetchFragment(panel.dataset.refreshUrl)).getElementById("inbox-list");
      if (!fresh) return;
      panel.replaceWith(fresh);
      fresh.querySelectorAll(".conv-row").forEach((row) => {
        if (!before.has(row.dataset.id)) row.classList.add("fresh");
        if (row.dataset.id === focusedId) row.focus();
      });
      updateTitleCount(fresh);
    }), 150);
  }

  function updateTitleCount(panel) {
    const active = panel.querySelector(".tab.active .count");
    if (active) document.title = document.title.replace(/\(\d+\)/, "(" + active.textContent.trim() + ")");
  }

  // ---- one conversation --------------------------------------------------------------------------------

  const transcript = document.getElementById("transcript");

  function lastMessageId() {
    const items = transcript.querySelectorAll(".msg[data-id]");
    let last = 0;
    items.forEach((item) => { last = Math.max(last, Number(item.dataset.id)); });
    return last;
  }

  function nearBottom() {
    return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 120;
  }

  function scrollToBottom() { transcript.scrollTop = transcript.scrollHeight; }

  function loadNewer() {
    serial("messages", async () => {
      const stick = nearBottom();
      const url = `/inbox/conversations/${conversationId}/messages?after=${lastMessageId()}`;
      const fragment = parse(await fetchFragment(url));
      fragment.querySelectorAll(".msg[data-id]").forEach((item) => {
        const existing = document.getElementById(item.id);
        if (existing) existing.replaceWith(item); else transcript.appendChild(item);
      });
      if (stick) scrollToBottom();
      // A status change may have been announced while its message was still on the way here.
      pendingStatus.forEach((id) => {
        if (document.getElementById("m-" + id)) { pendingStatus.delete(id); refreshMessage(id); }
      });
    });
  }

  // A receipt announced between the page's render and its subscription was missed: ask again for every
  // line whose status could still move.
  function refreshUnsettled() {
    if (!transcript) return;
    transcript.querySelectorAll(".msg[data-id]").forEach((item) => {
      const state = item.querySelector(".dstatus");
      if (state && ["queued", "deferred"].includes(state.textContent.trim())) refreshMessage(item.dataset.id);
    });
  }

  const pendingStatus = new Set();
  function refreshMessage(messageId) {
    const current = document.getElementById("m-" + messageId);
    if (!current) { pendingStatus.add(messageId); loadNewer(); return; }
    serial("message-" + messageId, async () => {
      const url = `/inbox/conversations/${conversationId}/messages/${messageId}`;
      const item = parse(await fetchFragment(url)).querySelector(".msg[data-id]");
      const now = document.getElementById("m-" + messageId);
      if (item && now) now.replaceWith(item);
    });
  }

  function refreshPanel() {
    serial("panel", async () => {
      const panel = document.getElementById("conv-panel");
      if (!panel) return;
      const fresh = parse(await fetchFragment(panel.dataset.panelUrl)).getElementById("conv-panel");
      if (!fresh) return;
      panel.replaceWith(fresh);
      if (window.htmx) window.htmx.process(fresh);
    });
  }

  // assist.js keeps the agent-assist panel current from the same signals.
  function assistStale() { document.dispatchEvent(new CustomEvent("tp:assist-stale")); }

  function refreshConversation() { refreshPanel(); loadNewer(); assistStale(); }

  // ---- realtime ----------------------------------------------------------------------------------------

  const live = document.getElementById("live");
  function setLive(state, text) { if (live) { live.dataset.state = state; live.textContent = text; } }

  let socket = null;
  let attempts = 0;
  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${window.location.host}/inbox/ws`);
    socket.addEventListener("open", () => {
      attempts = 0;
      if (conversationId) socket.send(JSON.stringify({ subscribe: "conv:" + conversationId }));
    });
    socket.addEventListener("message", (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (_) { return; }
      onEvent(event);
    });
    socket.addEventListener("close", (close) => {
      if (close.code === 4401) {
        window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname + window.location.search);
        return;
      }
      setLive("offline", "Reconnecting…");
      attempts += 1;
      setTimeout(connect, Math.min(15000, 400 * 2 ** Math.min(attempts, 6)));
    });
  }

  function onEvent(event) {
    switch (event.type) {
      case "ready":
        // Connected (again): whatever happened while we were away is in the database, so reload it.
        setLive("live", "Live");
        document.body.dataset.realtime = "ready";
        if (page === "list") refreshList();
        break;
      case "subscribed":
        document.body.dataset.realtime = "subscribed";
        refreshConversation();
        refreshUnsettled();
        break;
      case "resync":
        if (page === "list") refreshList(); else if (conversationId) refreshConversation();
        break;
      case "conversation":
        if (page === "list") refreshList();
        else if (event.conversation_id === conversationId && event.topic === "conv:" + conversationId) refreshConversation();
        break;
      case "message":
        if (conversationId && event.topic === "conv:" + conversationId) { loadNewer(); assistStale(); }
        break;
      case "payment":
        if (conversationId && event.topic === "conv:" + conversationId) assistStale();
        break;
      case "status":
        if (conversationId && event.topic === "conv:" + conversationId) refreshMessage(event.message_id);
        break;
      default:
        break;
    }
  }

  // ---- actions (HTMX) ----------------------------------------------------------------------------------

  function newKey() {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  document.body.addEventListener("tp:changed", (event) => {
    const action = event.detail && event.detail.action;
    if (action === "reply" || action === "note") {
      const composer = document.getElementById("composer");
      if (composer) {
        composer.elements.text.value = "";
        composer.elements.idempotency_key.value = newKey();
        composer.elements.text.focus();
      }
      loadNewer();
      if (action === "reply") refreshPanel();
    } else {
      refreshConversation();
    }
  });

  function toast(html, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const node = parse(html).firstElementChild || parse(`<div class="toast"></div>`).firstElementChild;
    node.classList.add("toast", kind || "toast-error");
    box.appendChild(node);
    setTimeout(() => node.remove(), 6000);
  }

  document.body.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    if (xhr.getResponseHeader("HX-Redirect")) return;
    const body = xhr.responseText || "";
    if (body.includes("toast")) { toast(body); return; }
    const node = document.createElement("div");
    node.textContent = `Something went wrong (HTTP ${xhr.status}).`;
    toast(node.outerHTML);
  });
  document.body.addEventListener("htmx:sendError", () => {
    const node = document.createElement("div");
    node.textContent = "Network error: the action was not sent. Check your connection and try again.";
    toast(node.outerHTML);
  });

  // ---- keyboard ----------------------------------------------------------------------------------------

  function typing(target) {
    return target && (target.closest("input, textarea, select, [contenteditable]") !== null);
  }

  document.addEventListener("keydown", (event) => {
    if (event.target.id === "reply-text" && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      const which = event.shiftKey ? "note" : "reply";
      const button = document.querySelector(`#composer button[data-action="${which}"]`);
      if (button && event.target.value.trim()) button.click();
      return;
    }
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (page === "list" && (event.key === "j" || event.key === "k")) {
      const rows = [...document.querySelectorAll(".conv-row")];
      if (!rows.length) return;
      const index = rows.indexOf(document.activeElement);
      const next = event.key === "j" ? Math.min(rows.length - 1, index + 1) : Math.max(0, index - 1);
      rows[index < 0 ? 0 : next].focus();
      event.preventDefault();
    } else if (page === "conversation" && event.key === "r") {
      const text = document.getElementById("reply-text");
      if (text) { text.focus(); event.preventDefault(); }
    } else if (page === "conversation" && event.key === "u") {
      window.location.href = "/inbox";
    }
  });

  // Team filter: pick a team, see its list.
  document.addEventListener("change", (event) => {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
  });

  // ---- relative times ----------------------------------------------------------------------------------

  function ago(iso) {
    const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
    if (seconds < 60) return seconds + "s";
    if (seconds < 3600) return Math.floor(seconds / 60) + "m";
    if (seconds < 86400) return Math.floor(seconds / 3600) + "h";
    return Math.floor(seconds / 86400) + "d";
  }
  setInterval(() => {
    document.querySelectorAll("[data-since]").forEach((node) => { node.textContent = ago(node.dataset.since); });
  }, 30000);

  if (transcript) scrollToBottom();
  connect();
})();
