/*
 * Touchpoint web chat widget. A brand embeds it with one tag:
 *
 *   <script src="https://HOST/static/widget.js" data-account="ACCOUNT_KEY" async></script>
 *
 * Optional attributes: data-user-id + data-user-hash for signed-in users (the hash is the hex
 * HMAC-SHA256 of the user id with the workspace's widget secret, computed on the brand's server, never in
 * the browser), data-user-name, data-user-email, data-open="true" to start open.
 *
 * No dependencies. The UI lives in a shadow root so the host page's CSS and ours never mix. Every text
 * that comes from the network is inserted with textContent, never innerHTML.
 *
 * Transport: a WebSocket for live messages, with an HTTP fallback (POST to send, GET to poll) whenever
 * the socket cannot connect; reconnects back off exponentially and re-read what was missed from the
 * server, which holds the record. Each message carries a UUID made here, so a retry is never a duplicate.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[data-account][src*="widget.js"]');
  if (!script || window.TouchpointWidget) return;

  var data = script.dataset || {};
  var ACCOUNT = data.account;
  if (!ACCOUNT) { if (window.console) console.warn("Touchpoint widget: data-account is missing"); return; }
  var BASE = new URL(script.src, location.href).origin;
  var API = BASE + "/widget/v1";
  var USER = data.userId ? { id: data.userId, hash: data.userHash || "", name: data.userName || "",
                             email: data.userEmail || "" }
                         : null;
  var KEY = "touchpoint:" + ACCOUNT + ":";
  var ACK_TIMEOUT = 8000, POLL_OPEN = 3000, POLL_CLOSED = 15000, MAX_BACKOFF = 30000;
  // After a message is accepted, the answer normally arrives pushed within a second. Pushes are hints,
  // so if none has arrived the transcript is read again at these delays (ms) until something does.
  var CATCH_UP = [2500, 5000, 10000, 20000, 40000];

  var CSS = [
    ":host { all: initial; }",
    "*, *::before, *::after { box-sizing: border-box; }",
    "[hidden] { display: none !important; }",
    ".tp { --accent: #0f5c7a; font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;",
    "  color: #1f2933; }",
    ".launcher { position: fixed; right: 22px; bottom: 22px; z-index: 2147483000; width: 60px; height: 60px;",
    "  border-radius: 50%; border: 0; background: var(--accent); color: #fff; cursor: pointer;",
    "  box-shadow: 0 8px 24px rgba(0,0,0,.22); display: grid; place-items: center; transition: transform .15s; }",
    ".launcher:hover { transform: scale(1.05); }",
    ".launcher:focus-visible, button:focus-visible, .log:focus-visible {",
    "  outline: 3px solid #f0b429; outline-offset: 2px; }",
    ".launcher svg { width: 28px; height: 28px; }",
    ".badge { position: absolute; top: -2px; right: -2px; min-width: 22px; height: 22px; padding: 0 6px;",
    "  border-radius: 11px; background: #d64545; color: #fff; font-size: 12px; font-weight: 700;",
    "  line-height: 22px; text-align: center; border: 2px solid #fff; }",
    ".panel { position: fixed; right: 22px; bottom: 96px; z-index: 2147483000; width: 370px;",
    "  height: min(600px, calc(100vh - 120px)); display: flex; flex-direction: column; background: #fff;",
    "  border-radius: 16px; overflow: hidden; box-shadow: 0 18px 50px rgba(0,0,0,.28); }",
    "@media (max-width: 480px) { .panel { right: 0; bottom: 0; width: 100vw; height: 100vh; border-radius: 0; }",
    "  .tp.is-open .launcher { display: none; } }",
    ".head { display: flex; align-items: center; gap: 12px; padding: 14px 14px 14px 18px; background: var(--accent);",
    "  color: #fff; }",
    ".head .who { flex: 1; min-width: 0; }",
    ".head h2 { margin: 0; font-size: 16px; font-weight: 650; }",
    ".head p { margin: 2px 0 0; font-size: 12.5px; opacity: .9; display: flex; align-items: center; gap: 6px; }",
    ".dot { width: 8px; height: 8px; border-radius: 50%; background: #9ae6b4; display: inline-block; }",
    ".dot.off { background: #f6c177; }",
    ".icon-btn { border: 0; background: transparent; color: inherit; width: 36px; height: 36px; border-radius: 8px;",
    "  cursor: pointer; display: grid; place-items: center; }",
    ".icon-btn:hover { background: rgba(255,255,255,.15); }",
    ".icon-btn svg { width: 20px; height: 20px; }",
    ".log { flex: 1; overflow-y: auto; padding: 16px 14px 8px; background: #f7f8fa; display: flex;",
    "  flex-direction: column; gap: 8px; }",
    ".row { display: flex; flex-direction: column; max-width: 82%; }",
    ".row.mine { align-self: flex-end; align-items: flex-end; }",
    ".row.theirs { align-self: flex-start; align-items: flex-start; }",
    ".label { font-size: 11.5px; color: #616e7c; margin: 0 0 3px 4px; }",
    ".bubble { padding: 9px 13px; border-radius: 16px; white-space: pre-wrap; overflow-wrap: anywhere; }",
    ".mine .bubble { background: var(--accent); color: #fff; border-bottom-right-radius: 5px; }",
    ".bot .bubble { background: #fff; border: 1px solid #e4e7eb; border-bottom-left-radius: 5px; }",
    ".agent .bubble { background: #e6f4ea; border: 1px solid #c6e5cf; border-bottom-left-radius: 5px; }",
    ".agent .label { color: #276749; font-weight: 600; }",
    ".state { font-size: 11.5px; color: #7b8794; margin: 3px 4px 0; display: flex; gap: 6px; align-items: center; }",
    ".state.failed { color: #c53030; }",
    ".retry { border: 0; background: none; color: #c53030; text-decoration: underline; cursor: pointer;",
    "  font: inherit; padding: 0; }",
    ".system { align-self: center; text-align: center; font-size: 12.5px; color: #52606d; max-width: 90%;",
    "  padding: 4px 10px; }",
    ".system.joined { display: flex; align-items: center; gap: 8px; color: #276749; font-weight: 600; }",
    ".system.joined::before, .system.joined::after { content: ''; height: 1px; width: 28px; background: #c6e5cf; }",
    ".quick { display: flex; flex-wrap: wrap; gap: 6px; padding: 6px 14px 2px; background: #f7f8fa; }",
    ".quick button { border: 1px solid var(--accent); color: var(--accent); background: #fff; border-radius: 999px;",
    "  padding: 6px 12px; font: inherit; font-size: 13.5px; cursor: pointer; }",
    ".quick button:hover { background: var(--accent); color: #fff; }",
    ".notice { margin: 0; padding: 8px 14px; font-size: 13px; background: #fff8e1; color: #7c5e10;",
    "  border-top: 1px solid #f5e3a3; }",
    ".compose { display: flex; align-items: flex-end; gap: 8px; padding: 10px 10px 10px 14px;",
    "  border-top: 1px solid #e4e7eb; background: #fff; }",
    ".compose textarea { flex: 1; resize: none; border: 1px solid #cbd2d9; border-radius: 12px; padding: 9px 12px;",
    "  font: inherit; color: inherit; max-height: 120px; min-height: 40px; }",
    ".compose textarea:focus { outline: none; border-color: var(--accent);",
    "  box-shadow: 0 0 0 3px rgba(15, 92, 122, .18); }",
    ".send { border: 0; width: 40px; height: 40px; border-radius: 50%; background: var(--accent); color: #fff;",
    "  cursor: pointer; display: grid; place-items: center; flex: none; }",
    ".send:disabled { opacity: .45; cursor: default; }",
    ".send svg { width: 18px; height: 18px; }",
    ".sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); clip-path: inset(50%);",
    "  white-space: nowrap; }",
    ".foot { text-align: center; font-size: 11px; color: #9aa5b1; padding: 0 0 8px; background: #fff; }"
  ].join("\n");

  // ---------------------------------------------------------------- small helpers

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  function icon(paths) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("fill", "none");
    svg.setAttribute("stroke", "currentColor");
    svg.setAttribute("stroke-width", "2");
    svg.setAttribute("stroke-linecap", "round");
    svg.setAttribute("stroke-linejoin", "round");
    paths.forEach(function (d) {
      var p = document.createElementNS(ns, "path");
      p.setAttribute("d", d);
      svg.appendChild(p);
    });
    return svg;
  }

  // Storage can throw (private modes, blocked cookies): the chat then works for this page view only.
  function store(area, name, value) {
    try {
      if (value == null) window[area].removeItem(KEY + name);
      else window[area].setItem(KEY + name, String(value));
    } catch (e) { /* not persisted */ }
  }
  function recall(area, name) {
    try { return window[area].getItem(KEY + name); } catch (e) { return null; }
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function timeOf(iso) {
    var d = iso ? new Date(iso) : new Date();
    return isNaN(d) ? "" : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }

  // ---------------------------------------------------------------- state

  var state = {
    token: null, tokenUntil: 0, sessionPromise: null, config: null, fatal: null,
    started: false, open: false,
    ws: null, wsReady: false, wsFailures: 0, backoff: 1000, reconnectTimer: null,
    polling: false, pollTimer: null, syncing: null,
    lastId: 0, maxOutId: 0, readSent: 0, deliveredSent: 0,
    seen: Number(recall("localStorage", "seen")) || 0,
    rendered: {}, pending: {}, quickFor: 0,
    catchUpTimer: null
  };

  // ---------------------------------------------------------------- UI

  var host = el("div");
  host.id = "touchpoint-chat";
  var root = host.attachShadow({ mode: "open" });
  var style = el("style");
  style.textContent = CSS;
  var ui = el("div", "tp");

  var launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Open chat");
  launcher.setAttribute("aria-haspopup", "dialog");
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "tp-panel");
  launcher.appendChild(icon(["M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z"]));
  var badge = el("span", "badge");
  badge.hidden = true;
  badge.setAttribute("aria-hidden", "true");
  launcher.appendChild(badge);

  var panel = el("div", "panel");
  panel.id = "tp-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-modal", "false");
  panel.setAttribute("aria-labelledby", "tp-title");

  var head = el("div", "head");
  var who = el("div", "who");
  var title = el("h2", null, "Chat");
  title.id = "tp-title";
  var status = el("p");
  var dot = el("span", "dot off");
  dot.setAttribute("aria-hidden", "true");
  var statusText = el("span", null, "Connecting…");
  status.appendChild(dot);
  status.appendChild(statusText);
  who.appendChild(title);
  who.appendChild(status);
  var closeBtn = el("button", "icon-btn");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", "Close chat");
  closeBtn.appendChild(icon(["M6 6l12 12", "M18 6L6 18"]));
  head.appendChild(who);
  head.appendChild(closeBtn);

  var log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Conversation");
  log.tabIndex = 0;

  var quick = el("div", "quick");
  quick.setAttribute("role", "group");
  quick.setAttribute("aria-label", "Suggested replies");
  quick.hidden = true;

  var notice = el("p", "notice");
  notice.setAttribute("role", "status");
  notice.hidden = true;

  var form = el("form", "compose");
  var inputLabel = el("label", "sr", "Your message");
  inputLabel.htmlFor = "tp-input";
  var input = el("textarea");
  input.id = "tp-input";
  input.rows = 1;
  input.placeholder = "Write a message…";
  input.setAttribute("autocomplete", "off");
  var sendBtn = el("button", "send");
  sendBtn.type = "submit";
  sendBtn.setAttribute("aria-label", "Send message");
  sendBtn.appendChild(icon(["M22 2L11 13", "M22 2l-7 20-4-9-9-4 20-7z"]));
  form.appendChild(inputLabel);
  form.appendChild(input);
  form.appendChild(sendBtn);
  var foot = el("div", "foot", "Chat by Touchpoint");

  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(quick);
  panel.appendChild(notice);
  panel.appendChild(form);
  panel.appendChild(foot);
  ui.appendChild(panel);
  ui.appendChild(launcher);
  root.appendChild(style);
  root.appendChild(ui);

  function setConnection(online, text) {
    dot.className = online ? "dot" : "dot off";
    statusText.textContent = text;
  }

  function showNotice(text) {
    notice.textContent = text || "";
    notice.hidden = !text;
  }

  function applyConfig(config) {
    state.config = config;
    title.textContent = config.title || "Chat";
    if (config.accent_color) ui.style.setProperty("--accent", config.accent_color);
    if (config.max_chars) input.maxLength = config.max_chars;
    if (config.greeting && !log.querySelector("[data-greeting]")) {
      var row = theirsRow("bot", config.title || "", config.greeting, null);
      row.setAttribute("data-greeting", "1");
      log.insertBefore(row, log.firstChild);
    }
  }

  function updateBadge() {
    var unread = 0;
    Object.keys(state.rendered).forEach(function (id) {
      var m = state.rendered[id];
      if (m.direction === "out" && m.id > state.seen) unread += 1;
    });
    badge.hidden = state.open || unread === 0;
    badge.textContent = unread > 9 ? "9+" : String(unread);
    launcher.setAttribute("aria-label", unread && !state.open ? "Open chat, " + unread + " unread" : "Open chat");
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  // Rows are kept in server order (data-id); rows still being sent have no id yet and stay where they are.
  function place(node, id) {
    if (id) {
      node.setAttribute("data-id", String(id));
      var rows = log.children;
      for (var i = 0; i < rows.length; i++) {
        var other = Number(rows[i].getAttribute("data-id"));
        if (other && other > id) { log.insertBefore(node, rows[i]); return; }
      }
    }
    log.appendChild(node);
  }

  function theirsRow(kind, label, text, iso) {
    var row = el("div", "row theirs " + kind);
    if (label) row.appendChild(el("span", "label", label));
    var bubble = el("div", "bubble", text);
    if (iso) bubble.title = timeOf(iso);
    row.appendChild(bubble);
    return row;
  }

  function mineRow(text, iso) {
    var row = el("div", "row mine");
    var bubble = el("div", "bubble", text);
    bubble.title = timeOf(iso);
    row.appendChild(bubble);
    // Inside the log (a live region), so a change such as "Not sent" is announced without a region of its own.
    row.appendChild(el("div", "state"));
    return row;
  }

  function setDelivery(entry, value, reason) {
    entry.status = value;
    var line = entry.row.querySelector(".state");
    while (line.firstChild) line.removeChild(line.firstChild);
    line.className = value === "failed" ? "state failed" : "state";
    if (value === "sending") line.appendChild(el("span", null, "Sending…"));
    if (value === "sent") line.appendChild(el("span", null, "Sent"));
    if (value === "failed") {
      line.appendChild(el("span", null, reason ? "Not sent: " + reason : "Not sent."));
      var retry = el("button", "retry", "Retry");
      retry.type = "button";
      retry.setAttribute("aria-label", "Retry sending this message");
      retry.addEventListener("click", function () { deliver(entry); });
      line.appendChild(retry);
    }
  }

  function renderQuick(message) {
    while (quick.firstChild) quick.removeChild(quick.firstChild);
    var replies = message && message.content && message.content.quick_replies;
    if (!replies || !replies.length) { quick.hidden = true; state.quickFor = 0; return; }
    state.quickFor = message.id;
    replies.forEach(function (text) {
      var b = el("button", null, String(text));
      b.type = "button";
      b.addEventListener("click", function () { sendText(String(text)); input.focus(); });
      quick.appendChild(b);
    });
    quick.hidden = false;
  }

  function ownMessage(clientId, text, iso, value) {
    var entry = clientId && state.pending[clientId];
    if (entry) {
      if (entry.status !== "sent") { clearTimeout(entry.timer); setDelivery(entry, "sent"); }
      return entry;
    }
    entry = { clientId: clientId, text: text, row: mineRow(text, iso), status: "" };
    if (clientId) state.pending[clientId] = entry;
    setDelivery(entry, value);
    return entry;
  }

  function render(message) {
    if (!message || !message.id || state.rendered[message.id]) return;
    state.rendered[message.id] = message;
    state.lastId = Math.max(state.lastId, message.id);
    var node = null;
    if (message.direction === "in") {
      var known = message.client_id && state.pending[message.client_id];
      var entry = ownMessage(message.client_id, message.text, message.created_at, "sent");
      if (!known) place(entry.row, message.id);
      else entry.row.setAttribute("data-id", String(message.id));
    } else {
      state.maxOutId = Math.max(state.maxOutId, message.id);
      var content = message.content || {};
      if (message.sender === "system" && content.event === "agent_joined") {
        node = el("div", "system joined", (content.agent_name || "An agent") + " joined the conversation");
      } else if (message.sender === "system") {
        node = el("div", "system", message.text);
      } else if (message.sender === "agent") {
        node = theirsRow("agent", message.agent_name || "Agent", message.text, message.created_at);
      } else {
        node = theirsRow("bot", "Assistant", message.text, message.created_at);
      }
      place(node, message.id);
    }
    if (message.id >= state.lastId) renderQuick(message.direction === "out" ? message : null);
  }

  function renderUnprocessed(list) {
    (list || []).forEach(function (item) {
      if (item.client_id && state.pending[item.client_id]) return;
      var entry = ownMessage(item.client_id, item.text, item.created_at, "sent");
      log.appendChild(entry.row);
    });
  }

  function afterRender() {
    scrollDown();
    updateBadge();
    acknowledge();
  }

  // ---------------------------------------------------------------- HTTP

  function request(method, path, body, token) {
    var headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(API + path, {
      method: method, headers: headers, credentials: "omit", mode: "cors",
      body: body ? JSON.stringify(body) : undefined
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (payload) {
        if (res.ok) return payload;
        var err = new Error((payload.error && payload.error.message) || ("HTTP " + res.status));
        err.status = res.status;
        err.code = payload.error && payload.error.code;
        err.retryAfter = Number(res.headers.get("Retry-After")) || 0;
        throw err;
      });
    });
  }

  function ensureSession() {
    if (state.fatal) return Promise.reject(state.fatal);
    if (state.token && Date.now() < state.tokenUntil) return Promise.resolve(state.token);
    if (state.sessionPromise) return state.sessionPromise;
    var body = { account: ACCOUNT };
    if (USER) {
      body.user_id = USER.id;
      body.user_hash = USER.hash;
      if (USER.name) body.name = USER.name;
      if (USER.email) body.email = USER.email;
    } else {
      body.visitor_token = recall("localStorage", "visitor");
    }
    state.sessionPromise = request("POST", "/session", body).then(function (res) {
      state.token = res.session_token;
      // Renew a minute early, so a long-open page never sends with an expired token.
      state.tokenUntil = Date.now() + Math.max(res.expires_in - 60, 30) * 1000;
      if (res.visitor_token) store("localStorage", "visitor", res.visitor_token);
      applyConfig(res.config || {});
      return state.token;
    }, function (err) {
      if (err.status === 403 || err.status === 404) {
        state.fatal = err;
        showNotice(err.status === 404 ? "This chat is not available." : "Chat is not available here: " + err.message);
        setConnection(false, "Unavailable");
        input.disabled = true;
        sendBtn.disabled = true;
      }
      throw err;
    }).then(function (token) { state.sessionPromise = null; return token; },
            function (err) { state.sessionPromise = null; throw err; });
    return state.sessionPromise;
  }

  function api(method, path, body, retried) {
    return ensureSession().then(function (token) {
      return request(method, path, body, token);
    }).catch(function (err) {
      if (err.status === 401 && !retried) {
        state.token = null;
        return api(method, path, body, true);
      }
      throw err;
    });
  }

  // Reads what the visitor has not seen yet from the server (the record), page by page.
  function sync() {
    if (state.syncing) return state.syncing;
    var after = state.lastId;
    state.syncing = api("GET", "/messages" + (after ? "?after=" + after : "")).then(function (res) {
      (res.messages || []).forEach(render);
      renderUnprocessed(res.unprocessed);
      afterRender();
      state.syncing = null;
      if (res.more) return sync();
    }, function (err) {
      state.syncing = null;
      throw err;
    });
    return state.syncing;
  }

  // ---------------------------------------------------------------- sending

  function sendText(text) {
    if (!text || !text.trim() || state.fatal) return;
    var max = (state.config && state.config.max_chars) || 4000;
    if (text.length > max) { showNotice("That message is too long (at most " + max + " characters)."); return; }
    showNotice("");
    renderQuick(null);
    var entry = ownMessage(uuid(), text, null, "sending");
    log.appendChild(entry.row);
    scrollDown();
    store("localStorage", "active", "1");
    if (!state.started) start();
    deliver(entry);
  }

  function deliver(entry) {
    setDelivery(entry, "sending");
    clearTimeout(entry.timer);
    if (wsReady()) {
      state.ws.send(JSON.stringify({ type: "message", client_id: entry.clientId, text: entry.text }));
      // No ack in time: the same message (same client_id) over HTTP; the server keeps one.
      entry.timer = setTimeout(function () { if (entry.status === "sending") sendHttp(entry); }, ACK_TIMEOUT);
    } else {
      sendHttp(entry);
    }
  }

  function sendHttp(entry) {
    api("POST", "/messages", { client_id: entry.clientId, text: entry.text }).then(function () {
      setDelivery(entry, "sent");
      expectAnswer();
      if (state.polling) schedulePoll(1000);
    }, function (err) {
      failed(entry, err.code, err.message, err.retryAfter);
    });
  }

  // Reads the transcript again while an accepted message has had no answer (see CATCH_UP).
  function expectAnswer() {
    var since = state.maxOutId;
    var step = 0;
    clearTimeout(state.catchUpTimer);
    function check() {
      if (state.maxOutId > since || step >= CATCH_UP.length || state.fatal) return;
      state.catchUpTimer = setTimeout(function () {
        step += 1;
        if (state.maxOutId > since) return;
        sync().catch(function () { /* the next check, reconnect or poll reads it */ }).then(check);
      }, CATCH_UP[step]);
    }
    check();
  }

  function failed(entry, code, message, retryAfter) {
    if (!entry || entry.status === "sent") return;
    clearTimeout(entry.timer);
    // Without a code the request never got an answer (offline, blocked): say so in plain words.
    var reason = code === "rate_limited" ? "too many messages, wait " + (retryAfter || 10) + " s" :
      (code && message && message.length < 90 ? message : "check your connection");
    setDelivery(entry, "failed", reason);
  }

  // ---------------------------------------------------------------- receipts

  // Tells the server how far the visitor has got: "read" while the chat is open and visible,
  // "delivered" otherwise. One frame covers every message up to that id.
  function acknowledge() {
    var top = state.maxOutId;
    if (!top) return;
    var visible = state.open && document.visibilityState === "visible";
    if (visible && top > state.readSent) {
      state.readSent = top;
      state.deliveredSent = Math.max(state.deliveredSent, top);
      state.seen = Math.max(state.seen, top);
      store("localStorage", "seen", state.seen);
      receipt("read", top);
    } else if (!visible && top > state.deliveredSent) {
      state.deliveredSent = top;
      receipt("delivered", top);
    }
    updateBadge();
  }

  function receipt(kind, id) {
    if (wsReady()) state.ws.send(JSON.stringify({ type: kind, message_id: id }));
    else api("POST", "/receipts", { message_id: id, status: kind }).catch(function () { /* best effort */ });
  }

  // ---------------------------------------------------------------- live connection

  function wsReady() { return state.ws && state.wsReady && state.ws.readyState === 1; }

  function connect() {
    clearTimeout(state.reconnectTimer);
    if (!("WebSocket" in window)) { startPolling(); return; }
    setConnection(false, "Connecting…");
    ensureSession().then(function (token) {
      var ws = new WebSocket(API.replace(/^http/, "ws") + "/ws?token=" + encodeURIComponent(token));
      var opened = false;
      var guard = setTimeout(function () { if (!opened) ws.close(); }, 8000);
      state.ws = ws;
      ws.onopen = function () { opened = true; clearTimeout(guard); };
      ws.onmessage = function (event) {
        var frame;
        try { frame = JSON.parse(event.data); } catch (e) { return; }
        onFrame(frame);
      };
      ws.onclose = function (event) {
        clearTimeout(guard);
        var wasReady = state.wsReady;
        if (state.ws === ws) { state.ws = null; state.wsReady = false; }
        var reason = event.reason || "";
        if (/^session_/.test(reason)) state.token = null;
        if (reason === "origin_not_allowed" || reason === "verification_required") {
          state.fatal = new Error(reason);
          showNotice("Chat is not available here.");
          setConnection(false, "Unavailable");
          return;
        }
        if (!wasReady) state.wsFailures += 1;
        // Keep the chat working over plain HTTP while the socket is down.
        if (state.wsFailures >= 2 || wasReady) startPolling();
        setConnection(false, state.polling ? "Online (slow connection)" : "Reconnecting…");
        if (event.code === 1008 && reason.indexOf("slow down") >= 0) {
          showNotice("You're sending messages very fast; please wait a moment.");
        }
        reconnectLater(event.code === 1008 && !/^session_/.test(reason) ? 30000 : 0);
      };
    }, function (err) {
      if (!state.fatal) { startPolling(); reconnectLater(err.retryAfter ? err.retryAfter * 1000 : 0); }
    });
  }

  function reconnectLater(atLeast) {
    var delay = Math.max(atLeast, state.backoff * (0.5 + Math.random()));
    state.backoff = Math.min(state.backoff * 2, MAX_BACKOFF);
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = setTimeout(connect, delay);
  }

  function onFrame(frame) {
    var entry;
    switch (frame.type) {
      case "ready":
        state.wsReady = true;
        state.wsFailures = 0;
        state.backoff = 1000;
        stopPolling();
        setConnection(true, "Online");
        // The socket is subscribed: now read whatever was missed while it was down. A read already in
        // flight started before the subscription and may miss what was pushed in between: read again after it.
        (state.syncing || Promise.resolve()).catch(function () { /* read again below */ }).then(sync)
          .catch(function () { /* the next reconnect or poll reads it */ });
        Object.keys(state.pending).forEach(function (id) {
          var p = state.pending[id];
          if (p.status === "sending" && !p.timer) deliver(p);
        });
        break;
      case "message":
        render(frame.message);
        afterRender();
        break;
      case "ack":
        entry = state.pending[frame.client_id];
        if (entry) { clearTimeout(entry.timer); setDelivery(entry, "sent"); expectAnswer(); }
        break;
      case "echo":
        if (frame.client_id && !state.pending[frame.client_id]) {
          entry = ownMessage(frame.client_id, frame.text || "", null, "sent");
          log.appendChild(entry.row);
          scrollDown();
        }
        break;
      case "error":
        if (frame.client_id) failed(state.pending[frame.client_id], frame.code, frame.message, frame.retry_after);
        break;
      default:
        break;
    }
  }

  function startPolling() {
    if (state.polling) return;
    state.polling = true;
    schedulePoll(0);
  }

  function stopPolling() {
    state.polling = false;
    clearTimeout(state.pollTimer);
  }

  function schedulePoll(delay) {
    clearTimeout(state.pollTimer);
    if (!state.polling) return;
    state.pollTimer = setTimeout(function () {
      sync().then(function () {
        if (!state.wsReady) setConnection(true, "Online");
      }, function () {
        if (!state.wsReady) setConnection(false, "Offline, retrying…");
      }).then(function () {
        schedulePoll(state.open ? POLL_OPEN : POLL_CLOSED);
      });
    }, delay);
  }

  function start() {
    if (state.started) return;
    state.started = true;
    ensureSession().then(function () {
      return sync();
    }).catch(function () { /* shown by ensureSession, or read again once connected */ }).then(function () {
      if (!state.fatal) connect();
    });
  }

  // ---------------------------------------------------------------- open / close

  function openPanel() {
    state.open = true;
    panel.hidden = false;
    ui.classList.add("is-open");
    launcher.setAttribute("aria-expanded", "true");
    store("sessionStorage", "open", "1");
    start();
    scrollDown();
    input.focus();
    acknowledge();
    if (state.polling) schedulePoll(0);
  }

  function closePanel(returnFocus) {
    state.open = false;
    panel.hidden = true;
    ui.classList.remove("is-open");
    launcher.setAttribute("aria-expanded", "false");
    store("sessionStorage", "open", null);
    updateBadge();
    if (returnFocus) launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (state.open) closePanel(true); else openPanel();
  });
  closeBtn.addEventListener("click", function () { closePanel(true); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.stopPropagation(); closePanel(true); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    grow();
    sendText(text);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  function grow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
  }
  input.addEventListener("input", grow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") acknowledge();
  });

  function mount() {
    document.body.appendChild(host);
    var returning = recall("localStorage", "active") || (!USER && recall("localStorage", "visitor"));
    if (recall("sessionStorage", "open") || data.open === "true") openPanel();
    // A returning visitor reconnects at once, so the launcher can show unread replies.
    else if (returning) start();
  }

  window.TouchpointWidget = {
    open: openPanel,
    close: function () { closePanel(false); },
    send: sendText
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
