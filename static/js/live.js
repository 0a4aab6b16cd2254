// One WebSocket per page (marketplace/live.py): what the page waits for arrives as an event
// "hse:<type>" on <body> (room, signal, pending, payment, message, read, typing, unread,
// said and error: the answers to a chat line sent over it).
// Parts of pages refresh on those events, or take what the event carries (a chat line:
// chat.js); while window.hseLive is false (no socket yet, a server without WebSockets, a
// network that blocks them) they poll instead, as before, and nothing polls while it is true.
(function () {
  "use strict";
  var body = document.body;
  window.hseLive = false;
  if (!body.dataset.signedIn || !("WebSocket" in window)) return;
  var ids = {};
  var session = document.querySelector("[data-live-session]");
  var conversation = document.querySelector("[data-live-conversation]");
  if (session) ids.session = session.dataset.liveSession;
  if (conversation) ids.conversation = conversation.dataset.liveConversation;
  var query = new URLSearchParams(ids).toString();
  var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
    "/ws/live/" + (query ? "?" + query : "");
  var socket = null;
  var wait = 1000;
  var opened = 0;

  function fire(type, detail) {
    body.dispatchEvent(new CustomEvent("hse:" + type, { detail: detail || { type: type } }));
  }

  // The header's unread count, from the count an "unread" event carries. Pending actions
  // count unread messages as one (marketplace.selectors.header_counts): that badge moves
  // only when the unread count leaves or reaches zero.
  function showUnread(count) {
    var badge = document.getElementById("unread-count");
    if (!badge || !badge.firstChild) return;
    var before = Number(badge.dataset.count) || 0;
    badge.dataset.count = count;
    badge.firstChild.nodeValue = String(count);
    badge.hidden = !count;
    var pending = document.getElementById("pending-actions");
    var shown = pending && pending.querySelector(".count");
    if (!shown || (before > 0) === (count > 0)) return;
    var now = Math.max(0, (Number(shown.textContent) || 0) + (count > 0 ? 1 : -1));
    shown.textContent = String(now);
    pending.hidden = !now;
    pending.setAttribute("aria-label", now + " pending action" + (now === 1 ? "" : "s"));
  }

  function connect() {
    try { socket = new WebSocket(url); } catch (error) { return; }
    socket.onopen = function () {
      window.hseLive = true;
      wait = 1000;
      opened += 1;
      // What changed between the page's own reading and now (or while offline) is read again.
      (opened > 1 ? ["room", "payment", "message", "pending"] : ["room", "payment", "message"])
        .forEach(function (type) { fire(type); });
      fire("live");
    };
    socket.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (error) { return; }
      if (!event || typeof event.type !== "string") return;
      if (event.type === "unread" && typeof event.count === "number") showUnread(event.count);
      else if (event.type === "unread") fire("counts");
      fire(event.type, event);
      // A new line to this person carries their unread total: what an "unread" event says.
      if (event.type === "message" && typeof event.unread === "number") {
        showUnread(event.unread);
        fire("unread", { type: "unread", count: event.unread });
      }
      if (event.type === "pending") body.dispatchEvent(new CustomEvent("pending-changed"));
    };
    socket.onclose = function (event) {
      window.hseLive = false;
      fire("offline");
      if (event.code === 4403) return; // refused: this page polls
      // 4401, its sign-in ended: connecting again with the cookie as it is now is answered
      // by the sign-in that holds (a new password's), or refused.
      setTimeout(connect, wait);
      wait = Math.min(wait * 2, 30000);
    };
  }

  // For the page's own scripts: a message to the server (a call's signal, a chat line, a
  // read, typing). Returns whether it went, so the caller can take another way.
  // hseConversation: the conversation this socket follows (it joined it on connecting).
  window.hseConversation = ids.conversation ? Number(ids.conversation) : null;
  window.hseSend = function (data) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(data));
    return true;
  };
  // While the socket is up nothing polls: a page coming back into view reads again what a
  // push might have missed (a worker restarted, Redis away for a moment).
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && window.hseLive) {
      ["room", "payment", "message"].forEach(function (type) { fire(type); });
    }
  });
  connect();
})();
