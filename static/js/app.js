// Tell the server the browser's time zone, so anonymous visitors see times in their
// own zone, and pre-fill time zone pickers at sign-up.
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone) return;

  var cookie = document.cookie.split("; ").find(function (c) { return c.indexOf("hse_tz=") === 0; });
  var stored = cookie ? cookie.slice(7) : null;
  // IANA names are letters, digits and "/_+-": safe in a cookie as they are.
  if (stored !== zone && /^[A-Za-z0-9\/_+-]+$/.test(zone)) {
    document.cookie = "hse_tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var body = document.body;
    // An anonymous visitor on a page with times: reload once so the server can use the
    // zone it now knows. The session flag stops a loop if the server cannot use it.
    if (body.dataset.zoneSource === "default" && body.dataset.viewerZone !== zone &&
        document.querySelector("[data-zone-sensitive]") && !sessionStorage.getItem("hse_tz_reloaded")) {
      sessionStorage.setItem("hse_tz_reloaded", "1");
      window.location.reload();
      return;
    }
    // The browser's zone first, chosen. Some browsers still say an old name (Asia/Calcutta):
    // the server takes it as the current one.
    document.querySelectorAll("select[data-browser-zone]").forEach(function (select) {
      if (select.dataset.userChosen || select.closest("form").querySelector(".errorlist")) return;
      var group = document.createElement("optgroup");
      group.label = "Your browser's zone";
      var option = document.createElement("option");
      option.value = zone;
      option.textContent = zone.replace(/_/g, " ");
      group.appendChild(option);
      select.insertBefore(group, select.firstChild);
      select.value = zone;
    });
  });

  // Close the pending-actions drawer (its backdrop and its × button).
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-drawer]")) {
      var drawer = document.getElementById("drawer");
      if (drawer) drawer.innerHTML = "";
    }
  });
  document.addEventListener("keydown", function (event) {
    var drawer = document.getElementById("drawer");
    if (event.key === "Escape" && drawer) drawer.innerHTML = "";
  });

  // Close the profile menu when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.profile-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
})();

// The buy page: once a time is picked, bring the summary with the Pay buttons into view
// (on a phone it follows the week of times); a page loaded with a time chosen does too.
(function () {
  "use strict";
  function showSummary() {
    var summary = document.getElementById("summary");
    var chosen = document.querySelector("#buy-main .slot-link[aria-current='true']");
    if (!summary || !chosen) return;
    var box = summary.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) {
      summary.scrollIntoView({ block: box.height > window.innerHeight ? "start" : "center" });
    }
  }
  // The swap took the focused link away: keep the keyboard where the person is, on the
  // summary once a time is chosen, else on the choice just made, so Tab goes on from there.
  function keepFocus() {
    if (document.activeElement && document.activeElement !== document.body) return;
    var summary = document.querySelector("#summary h2");
    var chosen = document.querySelectorAll("#buy-main [aria-current='true']");
    var target = document.querySelector("#buy-main .slot-link[aria-current='true']") && summary
      ? summary : chosen[chosen.length - 1];
    if (!target) return;
    if (target === summary) summary.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  }
  document.addEventListener("DOMContentLoaded", showSummary);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.id === "buy-main") { showSummary(); keepFocus(); }
  });
})();

// Ask before an action that cannot be undone, in HSE's own dialog
// (templates/includes/confirm_dialog.html) rather than the browser's confirm(), so that each
// reader gets words written for them. htmx elements carry the text in hx-confirm, plain forms
// in data-confirm; either may add data-confirm-title, data-confirm-yes (what happens) and
// data-confirm-no. Without JavaScript the forms post as they are, or reach a confirmation page.
(function () {
  "use strict";
  var onYes = null; // what the confirm button does, while the dialog is open
  var pushed = false; // the dialog has a history entry, so that Back closes it
  var afterBack = null; // the answer, run once that entry is gone
  var passing = null; // a confirmed form, submitted again

  function dialogElement() {
    return document.getElementById("confirm-dialog");
  }

  function ask(source, text, yes) {
    var dialog = dialogElement();
    if (!dialog || typeof dialog.showModal !== "function") {
      if (window.confirm(text)) yes(); // a browser without <dialog>
      return;
    }
    if (dialog.open) return;
    var data = source.dataset;
    dialog.querySelector("#confirm-dialog-title").textContent = data.confirmTitle || "Are you sure?";
    dialog.querySelector("#confirm-dialog-text").textContent = text;
    dialog.querySelector("#confirm-dialog-yes").textContent = data.confirmYes || "Continue";
    dialog.querySelector("#confirm-dialog-no").textContent = data.confirmNo || "Go back";
    dialog.returnValue = "";
    onYes = yes;
    dialog.showModal();
    dialog.querySelector("#confirm-dialog-no").focus(); // the safe answer first
    history.pushState({ hseConfirm: true }, "");
    pushed = true;
  }

  // Every way out (the buttons, Escape, Back) ends here; only the confirm button acts.
  function closed() {
    var answer = this.returnValue === "yes" ? onYes : null;
    onYes = null;
    if (pushed) {
      // Leave the history as it was before acting: a form's submission or htmx's redirect
      // must not race the step back.
      pushed = false;
      afterBack = answer || function () {};
      history.back();
    } else if (answer) {
      answer();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var dialog = dialogElement();
    if (!dialog) return;
    dialog.addEventListener("close", closed);
    dialog.addEventListener("keydown", function (event) {
      if (event.key === "Escape") event.stopPropagation(); // closes the dialog, not the drawer
    });
  });

  // Capturing, so this runs before htmx's own handler, which must not restore a page that
  // never left.
  window.addEventListener(
    "popstate",
    function (event) {
      var dialog = dialogElement();
      if (dialog && dialog.open && pushed) {
        event.stopImmediatePropagation();
        pushed = false; // Back took the entry away already
        dialog.close();
      } else if (afterBack) {
        event.stopImmediatePropagation();
        var answer = afterBack;
        afterBack = null;
        answer();
      } else if (event.state && event.state.hseConfirm) {
        event.stopImmediatePropagation(); // Forward onto an old dialog's entry: same page
      }
    },
    true
  );

  document.addEventListener("htmx:confirm", function (event) {
    var question = event.detail.question;
    if (!question) return;
    event.preventDefault();
    var elt = event.detail.elt;
    ask(elt.closest("[hx-confirm]") || elt, question, function () {
      event.detail.issueRequest(true);
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !form.hasAttribute("data-confirm") || passing === form) return;
    event.preventDefault();
    var submitter = event.submitter;
    ask(form, form.dataset.confirm, function () {
      passing = form;
      try {
        if (submitter && submitter.isConnected) form.requestSubmit(submitter);
        else form.requestSubmit();
      } finally {
        passing = null;
      }
    });
  });
})();

// A "Copy" button (data-copy="#id") copies the named field's value and says so.
(function () {
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.dataset.copy);
    if (!field) return;
    field.select();
    var done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(field.value).then(done, function () {});
    } else if (document.execCommand("copy")) {
      done();
    }
  });
})();
