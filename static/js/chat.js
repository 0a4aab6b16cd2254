// An open thread (messaging/thread.html) follows its conversation from the page's socket
// (live.js): a new line arrives rendered for this reader and is added in place, "Seen" moves
// when the other side reads, and the other side's typing shows for a few seconds. A line
// sent, and one shown (it is then read), go over the socket too when it follows this
// conversation; else over HTTP, as without a socket, when the thread polls and the form
// posts (their htmx).
(function () {
  "use strict";
  var body = document.body;
  var TYPING_SHOWN_MS = 4000;
  var TYPING_SENT_EVERY_MS = 3000;

  function liveThread(conversation) {
    return document.querySelector('[data-live-thread="' + Number(conversation) + '"]');
  }

  function parse(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  // Whether the page's socket follows this conversation (the room's panel may have begun
  // one after the socket connected): only then can it carry the conversation's lines.
  function followed(conversation) {
    return !!window.hseLive && !!window.hseSend && window.hseConversation === Number(conversation);
  }

  function markRead(list, upto) {
    if (document.visibilityState !== "visible") return;
    var read = { type: "read", upto: Number(upto), conversation: Number(list.dataset.liveThread) };
    if (followed(read.conversation) && window.hseSend(read)) return;
    if (window.htmx) htmx.ajax("POST", list.dataset.readUrl, { swap: "none", values: { upto: upto } });
  }

  // Sending: while the socket is up the thread's form goes over it (the line then comes
  // back as a pushed message, as it does to the other side); else htmx posts the form.
  var sending = {};
  var sent = 0;
  var waiting = null; // shows a line's fate unknown when no answer comes
  var ANSWER_MS = 10000;
  function formError(form, text) {
    var field = form.querySelector(".chat-field");
    var box = form.querySelector("#chat-body");
    field.querySelectorAll(".errorlist").forEach(function (list) { list.remove(); });
    field.classList.toggle("has-error", !!text);
    if (!text) { box.removeAttribute("aria-invalid"); return; }
    var list = document.createElement("ul");
    var item = document.createElement("li");
    list.className = "errorlist";
    item.textContent = text;
    list.appendChild(item);
    field.appendChild(list);
    box.setAttribute("aria-invalid", "true");
  }
  body.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (!form || form.id !== "chat-form" || !followed(form.dataset.conversation)) return;
    if (Object.keys(sending).length) { event.preventDefault(); return; } // one line at a time
    var box = form.querySelector("#chat-body");
    var ref = "line-" + (++sent);
    var line = { type: "say", body: box.value, ref: ref, conversation: Number(form.dataset.conversation) };
    if (!window.hseSend(line)) return;
    event.preventDefault();
    sending[ref] = box.value;
    form.setAttribute("aria-busy", "true");
    clearTimeout(waiting);
    waiting = setTimeout(function () { unknown("No answer yet: check the thread before sending again."); }, ANSWER_MS);
  });
  function answered(ref) {
    var form = document.getElementById("chat-form");
    var text = sending[ref];
    delete sending[ref];
    clearTimeout(waiting);
    if (form) form.removeAttribute("aria-busy");
    return text === undefined ? null : form;
  }
  // A line in flight whose answer did not come: not known to be sent. The text stays in the
  // box; the thread reads again when the socket is back, which shows whether it arrived.
  function unknown(text) {
    var form = document.getElementById("chat-form");
    if (!form || !Object.keys(sending).length) return;
    sending = {};
    form.removeAttribute("aria-busy");
    formError(form, text);
  }
  body.addEventListener("hse:said", function (event) {
    var form = answered((event.detail || {}).ref);
    if (!form) return;
    var box = form.querySelector("#chat-body");
    box.value = "";
    formError(form, "");
    box.focus();
  });
  body.addEventListener("hse:error", function (event) {
    var detail = event.detail || {};
    if (detail.about !== "say") return;
    var form = answered(detail.ref);
    if (form) formError(form, detail.error);
  });
  body.addEventListener("hse:offline", function () {
    clearTimeout(waiting);
    unknown("The connection dropped: check the thread before sending again.");
  });

  function readWhenVisible() {
    if (document.visibilityState !== "visible") return;
    document.querySelectorAll("[data-live-thread][data-unread-upto]").forEach(function (list) {
      markRead(list, list.dataset.unreadUpto);
      delete list.dataset.unreadUpto;
    });
  }

  body.addEventListener("hse:message", function (event) {
    var detail = event.detail || {};
    var list = detail.html && liveThread(detail.conversation);
    if (!list || document.getElementById("message-" + Number(detail.id))) return;
    var fragment = parse(detail.html);
    var day = fragment.querySelector(".chat-day");
    var days = list.querySelectorAll(".chat-day");
    var lastDay = days.length ? days[days.length - 1].textContent.trim() : null;
    if (day && day.textContent.trim() === lastDay) day.remove();
    var empty = list.querySelector(".chat-empty");
    if (empty) empty.remove();
    var line = fragment.querySelector(".chat-message");
    list.appendChild(fragment);
    if (line && line.classList.contains("chat-theirs")) {
      hideTyping(list);
      list.dataset.unreadUpto = detail.id;
      readWhenVisible();
    }
  });

  body.addEventListener("hse:read", function (event) {
    var detail = event.detail || {};
    var list = detail.upto && liveThread(detail.conversation);
    if (!list) return;
    var own = list.querySelectorAll(".chat-own");
    var last = own.length ? own[own.length - 1] : null;
    if (!last || Number(last.id.replace("message-", "")) > Number(detail.upto)) return;
    list.querySelectorAll(".chat-seen-note").forEach(function (note) { note.remove(); });
    var note = document.createElement("span");
    var seen = document.createElement("span");
    note.className = "chat-seen-note";
    seen.className = "chat-seen";
    seen.textContent = "Seen";
    note.append(" · ", seen);
    last.querySelector(".chat-meta").appendChild(note);
  });

  // Typing: the other side's, shown under the thread; ours, sent at most every few seconds.
  var typingTimer = null;
  function hideTyping(list) {
    var note = list.parentElement.querySelector(".chat-typing");
    if (note) note.hidden = true;
  }
  body.addEventListener("hse:typing", function (event) {
    var detail = event.detail || {};
    var list = document.querySelector("[data-live-thread]");
    if (!list || String(detail.by) === list.dataset.viewer) return;
    var note = list.parentElement.querySelector(".chat-typing");
    if (!note) return;
    note.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { note.hidden = true; }, TYPING_SHOWN_MS);
  });
  var lastSent = 0;
  body.addEventListener("input", function (event) {
    if (event.target.id !== "chat-body" || !window.hseSend) return;
    var now = Date.now();
    if (now - lastSent < TYPING_SENT_EVERY_MS) return;
    if (window.hseSend({ type: "typing" })) lastSent = now;
  });

  document.addEventListener("visibilitychange", readWhenVisible);
})();
