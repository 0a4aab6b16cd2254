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
  document.addEventListener("DOMContentLoaded", showSummary);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.id === "buy-main") showSummary();
  });
})();
