// The web desk's own script (CSP: script-src 'self', nothing inline).
// - The live preview waits for the operator to pause typing, and never fires while an input
//   method is composing a word (an Enter that picks a pinyin candidate is not a submit).
// - Ctrl+Enter submits the call; Alt+P focuses the phone field. The cheat sheet lists them.
// - A half-typed call is kept in sessionStorage: a reload or an expired session loses nothing.
(function () {
  "use strict";
  // The page after a successful submit says so: only then is the draft done with.
  if (document.body.dataset.clearDraft) sessionStorage.removeItem("desk:draft");
  var form = document.getElementById("call");
  if (!form) return;
  var composing = false;
  var timer = null;
  var preview = function () {
    if (composing) return;
    clearTimeout(timer);
    timer = setTimeout(function () {
      htmx.trigger(form, "desk:preview");
    }, 100);
  };
  var keep = function () {
    var fields = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && el.name !== "csrf") fields[el.name] = el.type === "checkbox" ? el.checked : el.value;
    });
    sessionStorage.setItem("desk:draft", JSON.stringify(fields));
  };
  var draft = sessionStorage.getItem("desk:draft");
  if (draft) {
    try {
      var fields = JSON.parse(draft);
      Object.keys(fields).forEach(function (name) {
        var el = form.elements[name];
        if (!el) return;
        if (el.type === "checkbox") el.checked = !!fields[name];
        else el.value = fields[name];
      });
    } catch (e) { sessionStorage.removeItem("desk:draft"); }
  }
  form.addEventListener("compositionstart", function () { composing = true; });
  form.addEventListener("compositionend", function () { composing = false; preview(); keep(); });
  form.addEventListener("input", function (e) {
    if (e.isComposing) return;
    preview();
    keep();
  });
  form.addEventListener("keydown", function (e) {
    if (e.isComposing || e.keyCode === 229) return;
    if (e.key === "Enter" && e.ctrlKey) { e.preventDefault(); form.requestSubmit(); }
  });
  document.addEventListener("keydown", function (e) {
    if (e.altKey && (e.key === "p" || e.key === "P")) { e.preventDefault(); form.elements.phone.focus(); }
  });
})();
