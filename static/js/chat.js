// An open thread (messaging/thread.html) follows its conversation from the page's socket
// (live.js): a new line arrives rendered for this reader and is added in place, "Seen" moves
// when the other side reads, and the other side's typing shows for a few seconds. Nothing
// here asks the server again except to say a line was shown (it is then read). Without a
// socket the thread polls instead (its hx-trigger), and none of this runs.
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

  function markRead(list, upto) {
    if (document.visibilityState !== "visible" || !window.htmx) return;
    htmx.ajax("POST", list.dataset.readUrl, { swap: "none", values: { upto: upto } });
  }

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
