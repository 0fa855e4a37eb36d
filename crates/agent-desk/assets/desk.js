// The web desk's own script (CSP: script-src 'self', nothing inline). The pages work without
// it; it adds:
// - the live preview, the caller's history and address suggestions, each after a pause in
//   typing and never while an input method is composing a word (an Enter that picks a pinyin
//   candidate is not a submit, and only Ctrl+Enter submits the call);
// - shortcuts: a key press clicks (or focuses) the control carrying its combination in
//   `data-shortcut`, so every shortcut is also a control on the page; the cheat sheet lists them;
// - the half-typed call kept in sessionStorage: a reload or an expired session loses nothing;
// - one event stream per browser: the tab holding the `desk-events` Web Lock opens
//   /desk/events and passes every event on to the other tabs over a BroadcastChannel; lists
//   refresh on events, never under the focus (a live update never replaces what is being typed);
// - a banner while the router is down, countdowns that tick, and a notice when someone else
//   changes the ticket on screen.
(function () {
  "use strict";
  var body = document.body;
  // The page after a successful submit says so: only then is the draft done with.
  if (body.dataset.clearDraft) sessionStorage.removeItem("desk:draft");

  // ------------------------------------------------------------ shortcuts
  var combo = function (e) {
    var key = e.key === "Enter" ? "Enter" : (e.code && e.code.indexOf("Key") === 0 ? e.code.slice(3) : e.key.toUpperCase());
    return (e.ctrlKey ? "Ctrl+" : "") + (e.altKey ? "Alt+" : "") + key;
  };
  var use = function (el) {
    if (el.tagName === "LABEL" && el.htmlFor) { document.getElementById(el.htmlFor).focus(); return; }
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)) { el.focus(); return; }
    el.click();
  };
  document.addEventListener("keydown", function (e) {
    if (e.isComposing || e.keyCode === 229) return;
    if (!e.ctrlKey && !e.altKey) return;
    var keys = combo(e);
    // Ctrl+Enter inside a form submits that form; elsewhere it clicks the page's submit control.
    if (keys === "Ctrl+Enter" && e.target.form && e.target.form.id !== "call") {
      e.preventDefault();
      e.target.form.requestSubmit();
      return;
    }
    var targets = document.querySelectorAll('[data-shortcut="' + keys + '"]');
    for (var i = 0; i < targets.length; i++) {
      if (targets[i].offsetParent !== null || targets[i].tagName === "SUMMARY") {
        e.preventDefault();
        use(targets[i]);
        return;
      }
    }
  });

  // ------------------------------------------------------------ live events
  var emit = function (msg) {
    var data = {};
    try { data = JSON.parse(msg.data); } catch (err) { data = msg.data; }
    if (msg.name === "router") { routerState(data === "up"); return; }
    if (msg.name === "mode" && data === "poll") { startPolling(); return; }
    if (msg.name === "session" && data === "expired") { location.href = "/desk/login?why=expired"; return; }
    if (msg.name === "ticket") staleTicket(data);
    // queue / ticket: the lists on screen refresh (htmx regions listen for desk:changed).
    body.dispatchEvent(new CustomEvent("desk:changed", { detail: data }));
  };
  var polling = null;
  var startPolling = function () {
    if (polling) return;
    polling = setInterval(function () { body.dispatchEvent(new CustomEvent("desk:poll")); }, 5000);
  };
  var routerDown = false;
  var routerState = function (up) {
    routerDown = !up;
    var banner = document.getElementById("router-down");
    if (banner) banner.hidden = up;
    // Back up: refresh what may have been missed meanwhile.
    if (up) body.dispatchEvent(new CustomEvent("desk:changed", { detail: {} }));
  };
  var staleTicket = function (data) {
    var panel = document.getElementById("ticket");
    var stale = document.getElementById("stale");
    if (!panel || !stale || !data || data.ticket_id !== panel.dataset.ticket) return;
    if (Number(data.seq) > Number(panel.dataset.version)) stale.hidden = false;
  };
  var NAMES = ["queue", "ticket", "router", "mode", "session"];
  var channel = window.BroadcastChannel ? new BroadcastChannel("desk-events") : null;
  var lead = function () {
    var source = new EventSource("/desk/events");
    NAMES.forEach(function (name) {
      source.addEventListener(name, function (e) {
        var msg = { name: name, data: e.data };
        emit(msg);
        if (channel) channel.postMessage(msg);
      });
    });
    // The desk itself unreachable (with `hotline serve`, the router too): same banner; the
    // browser reconnects by itself and the router's `up` clears it.
    source.addEventListener("error", function () {
      // CLOSED: the desk refused the stream (no session); only a reconnect means unreachable.
      if (source.readyState !== EventSource.CONNECTING) return;
      var msg = { name: "router", data: "down" };
      emit(msg);
      if (channel) channel.postMessage(msg);
    });
  };
  if (body.dataset.role) {
    if (channel) channel.onmessage = function (e) { emit(e.data); };
    if (navigator.locks && channel) {
      // Held until this tab goes away; then another tab's request is granted and it leads.
      navigator.locks.request("desk-events", function () {
        body.dataset.leader = "1";
        lead();
        return new Promise(function () {});
      });
    } else {
      lead();
    }
  }

  // A live region refreshes only when the person is not working in it: a request for a
  // region holding the focus waits until the focus leaves it.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var region = e.detail.target;
    if (!region || !region.classList || !region.classList.contains("live")) return;
    if (region.contains(document.activeElement) && document.activeElement !== body) {
      e.preventDefault();
      region.addEventListener("focusout", function later() {
        region.removeEventListener("focusout", later);
        setTimeout(function () { body.dispatchEvent(new CustomEvent("desk:changed", { detail: {} })); }, 0);
      });
    }
  });
  document.addEventListener("htmx:sendError", function () { routerState(false); });
  document.addEventListener("htmx:afterRequest", function (e) {
    var xhr = e.detail.xhr;
    if (xhr && (xhr.status === 502 || xhr.status === 503)) routerState(false);
    else if (xhr && xhr.status === 200 && routerDown && !(xhr.responseText || "").includes('id="router-error"')) routerState(true);
  });

  // ------------------------------------------------------------ countdowns
  var left = function (ms) {
    var prefix = ms >= 0 ? "剩 " : "超时 ";
    var s = Math.floor(Math.abs(ms) / 1000), m = Math.floor(s / 60);
    var d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60), mm = m % 60;
    if (d > 0) return prefix + d + "天" + h + "小时";
    if (h > 0) return prefix + h + "小时" + (mm < 10 ? "0" : "") + mm + "分";
    if (m > 0) return prefix + mm + "分";
    return prefix + s + "秒";
  };
  var LIGHTS = { "light-green": "正常", "light-yellow": "黄灯", "light-red": "红灯" };
  var tick = function () {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      if (el.dataset.paused) return;
      var due = Date.parse(el.dataset.due), warn = Date.parse(el.dataset.warn);
      var light = now >= due || el.classList.contains("light-red") ? "light-red"
        : now >= warn || el.classList.contains("light-yellow") ? "light-yellow" : "light-green";
      el.classList.remove("light-green", "light-yellow", "light-red");
      el.classList.add(light);
      el.querySelector(".left").textContent = left(due - now);
      el.querySelector(".light-name").textContent = LIGHTS[light];
    });
  };
  setInterval(tick, 1000);

  // ------------------------------------------------------------ the new-call form
  var form = document.getElementById("call");
  if (!form) return;
  var composing = false;
  var timers = {};
  var later = function (name, ms, fn) {
    clearTimeout(timers[name]);
    timers[name] = setTimeout(fn, ms);
  };
  var preview = function () {
    if (composing) return;
    later("preview", 100, function () { htmx.trigger(form, "desk:preview"); });
  };
  var address = document.getElementById("address");
  var options = document.getElementById("address-options");
  var suggest = function () {
    if (composing) return;
    later("suggest", 150, function () { htmx.trigger(address, "desk:suggest"); });
  };
  var keep = function () {
    var fields = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && el.name !== "csrf" && el.type !== "submit") fields[el.name] = el.type === "checkbox" ? el.checked : el.value;
    });
    sessionStorage.setItem("desk:draft", JSON.stringify(fields));
  };
  var restored = false;
  var draft = sessionStorage.getItem("desk:draft");
  if (draft) {
    try {
      var fields = JSON.parse(draft);
      Object.keys(fields).forEach(function (name) {
        var el = form.elements[name];
        if (!el || el.type === "hidden") return;
        if (el.type === "checkbox") el.checked = !!fields[name];
        else el.value = fields[name];
        restored = restored || !!fields[name];
      });
    } catch (e) { sessionStorage.removeItem("desk:draft"); }
  }
  // htmx processes the page on DOMContentLoaded, after this deferred script has run.
  document.addEventListener("DOMContentLoaded", function () {
    if (!restored) return;
    htmx.trigger(form, "desk:preview");
    htmx.trigger(form.elements.phone, "desk:lookup");
  });
  form.addEventListener("compositionstart", function () { composing = true; });
  form.addEventListener("compositionend", function (e) {
    composing = false;
    preview();
    if (e.target === address) suggest();
    keep();
  });
  form.addEventListener("input", function (e) {
    if (e.isComposing) return;
    preview();
    if (e.target === address) suggest();
    keep();
  });
  // A picker redrawn (a subject or a district chosen): the preview follows the new choice.
  document.addEventListener("htmx:afterSwap", function (e) {
    var id = e.detail.target && e.detail.target.id;
    if (id === "category-picker" || id === "territory-picker") { preview(); keep(); }
    if (id === "address-options") showOptions();
  });

  // The address listbox: ↓/↑ move, Enter takes, Escape closes, a click takes.
  var active = -1;
  var items = function () { return options.querySelectorAll("[role=option]"); };
  var showOptions = function () {
    active = -1;
    var open = items().length > 0 && document.activeElement === address;
    options.hidden = !open;
    address.setAttribute("aria-expanded", open ? "true" : "false");
    address.removeAttribute("aria-activedescendant");
  };
  var mark = function (i) {
    var list = items();
    if (!list.length) return;
    active = (i + list.length) % list.length;
    list.forEach(function (el, j) { el.setAttribute("aria-selected", j === active ? "true" : "false"); });
    address.setAttribute("aria-activedescendant", list[active].id);
  };
  var take = function (el) {
    address.value = el.dataset.value;
    options.hidden = true;
    options.innerHTML = "";
    address.setAttribute("aria-expanded", "false");
    address.removeAttribute("aria-activedescendant");
    preview();
    keep();
  };
  options.hidden = true;
  options.addEventListener("mousedown", function (e) {
    var el = e.target.closest("[role=option]");
    if (el) { e.preventDefault(); take(el); }
  });
  address.addEventListener("blur", function () { options.hidden = true; address.setAttribute("aria-expanded", "false"); });
  form.addEventListener("keydown", function (e) {
    if (e.isComposing || e.keyCode === 229) return;
    if (e.target === address && !options.hidden) {
      if (e.key === "ArrowDown") { e.preventDefault(); mark(active + 1); return; }
      if (e.key === "ArrowUp") { e.preventDefault(); mark(active - 1); return; }
      if (e.key === "Escape") { options.hidden = true; return; }
      if (e.key === "Enter" && !e.ctrlKey && active >= 0) { e.preventDefault(); take(items()[active]); return; }
    }
    // Only Ctrl+Enter submits: a plain Enter in a field is not the end of the call.
    if (e.key === "Enter" && e.target.tagName === "INPUT") e.preventDefault();
  });
})();
