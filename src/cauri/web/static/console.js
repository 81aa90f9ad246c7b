/* Cauri console: the little JavaScript the pages use, hand-written, no library.
 * - forms marked data-once disable their buttons once sent (no double payment list, no double approval);
 * - forms marked data-confirm ask before sending;
 * - an element marked data-progress follows a batch live: Server-Sent Events first, polling every 2 s if the
 *   browser or the network cannot keep the stream open; the page reloads when the batch is finished;
 * - an element marked data-payee-check follows a running payee check (polling …/payee-check every 2 s) and
 *   reloads the page when it is done, so the flagged lines show;
 * - the bell (data-bell) keeps the unread count live: each event of the notification stream asks the count
 *   again (marks made in another tab count too); the browser's EventSource reconnects when the stream ends;
 * - an element marked data-reload-in="N" reloads the page after N seconds (a payment awaiting its provider's
 *   confirmation: the server renders it only while one is pending, so the reloads stop on their own).
 */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-confirm") && !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
      return;
    }
    if (form.hasAttribute("data-once")) {
      if (form.getAttribute("data-sent") === "1") { event.preventDefault(); return; }
      form.setAttribute("data-sent", "1");
      var buttons = form.querySelectorAll("button[type=submit]");
      for (var i = 0; i < buttons.length; i++) {
        buttons[i].setAttribute("aria-disabled", "true");
        buttons[i].disabled = true;
        if (buttons[i].getAttribute("data-busy")) { buttons[i].textContent = buttons[i].getAttribute("data-busy"); }
      }
    }
  });

  function follow(box) {
    var streamUrl = box.getAttribute("data-stream-url");
    var statusUrl = box.getAttribute("data-status-url");
    var terminal = (box.getAttribute("data-terminal") || "").split(" ");
    var bar = box.querySelector("[data-bar]");
    var percentText = box.querySelector("[data-percent]");
    var doneText = box.querySelector("[data-completed]");
    var failedText = box.querySelector("[data-failed]");
    var stateText = box.querySelector("[data-state]");
    var source = null;
    var timer = null;
    var finished = false;

    function show(data) {
      var percent = Math.max(0, Math.min(100, Math.floor(Number(data.progress_percent) || 0)));
      if (bar) { bar.value = percent; }
      if (percentText) { percentText.textContent = percent + " %"; }
      if (doneText) { doneText.textContent = String(data.completed); }
      if (failedText) { failedText.textContent = String(data.failed); }
      if (stateText && data.state) {
        stateText.textContent = box.getAttribute("data-label-" + String(data.state).toLowerCase()) || data.state;
        stateText.className = "state state-" + data.state;
      }
      if (!finished && terminal.indexOf(data.state) >= 0) {
        finished = true;
        if (source) { source.close(); }
        if (timer) { window.clearInterval(timer); }
        box.setAttribute("data-finished", data.state);
        // Show the final page (results, retry button); the "approved" notice of the URL is stale by now.
        var query = window.location.search.replace(/([?&])done=[^&]*&?/, "$1").replace(/[?&]$/, "");
        window.setTimeout(function () { window.location.replace(window.location.pathname + query); }, 800);
      }
    }

    function poll() {
      if (timer || finished) { return; }
      box.setAttribute("data-mode", "polling");
      var tick = function () {
        var request = new XMLHttpRequest();
        request.open("GET", statusUrl);
        request.setRequestHeader("Accept", "application/json");
        request.onload = function () {
          if (request.status === 200) { show(JSON.parse(request.responseText)); }
          else if (request.status === 401) { window.location.reload(); }
        };
        request.send();
      };
      tick();
      timer = window.setInterval(tick, 2000);
    }

    if (!window.EventSource || !streamUrl) { poll(); return; }
    box.setAttribute("data-mode", "stream");
    source = new window.EventSource(streamUrl);
    source.onmessage = function (event) { show(JSON.parse(event.data)); };
    source.addEventListener("progress", function (event) { show(JSON.parse(event.data)); });
    source.onerror = function () {
      // The stream ends when the batch does; anything else (proxy cut it, offline) falls back to polling.
      source.close();
      if (!finished) { poll(); }
    };
  }

  function followPayees(box) {
    var statusUrl = box.getAttribute("data-status-url");
    var checkedText = box.querySelector("[data-payees-checked]");
    var flaggedText = box.querySelector("[data-payees-flagged]");
    var bar = box.querySelector("[data-payees-bar]");
    var timer = null;
    var tick = function () {
      var request = new XMLHttpRequest();
      request.open("GET", statusUrl);
      request.setRequestHeader("Accept", "application/json");
      request.onload = function () {
        if (request.status === 401) { window.location.reload(); return; }
        if (request.status !== 200) { return; }
        var data = JSON.parse(request.responseText);
        if (checkedText) { checkedText.textContent = String(data.payees_checked); }
        if (flaggedText) { flaggedText.textContent = String(data.payees_flagged); }
        if (bar) { bar.value = Number(data.payees_checked) || 0; }
        if (data.payee_check !== "running") {
          window.clearInterval(timer);
          box.setAttribute("data-finished", String(data.payee_check));
          var query = window.location.search.replace(/([?&])done=[^&]*&?/, "$1").replace(/[?&]$/, "");
          window.setTimeout(function () { window.location.replace(window.location.pathname + query); }, 800);
        }
      };
      request.send();
    };
    timer = window.setInterval(tick, 2000);
  }

  function bell(link) {
    var badge = link.querySelector("[data-unread]");
    var label = link.getAttribute("data-label") || "";
    var newNotice = document.querySelector("[data-new-notice]");
    function show(count) {
      badge.textContent = String(count);
      badge.hidden = count <= 0;
      link.setAttribute("aria-label", label.replace("__N__", String(count)));
    }
    function refresh() {
      var request = new XMLHttpRequest();
      request.open("GET", link.getAttribute("data-count-url"));
      request.setRequestHeader("Accept", "application/json");
      request.onload = function () {
        if (request.status === 200) { show(Number(JSON.parse(request.responseText).unread) || 0); }
      };
      request.send();
    }
    if (!window.EventSource) { return; }
    var source = new window.EventSource(link.getAttribute("data-stream-url"));
    var opened = 0;
    source.addEventListener("open", function () {
      opened += 1;
      link.setAttribute("data-live", "1");
      if (opened > 1) { refresh(); }  // what arrived while reconnecting
    });
    source.addEventListener("notification", function (event) {
      refresh();
      // The stream also replays the last seconds before it opened: what the list already shows is not new.
      var id = "";
      try { id = String(JSON.parse(event.data).id); } catch (ignored) { id = ""; }
      if (newNotice && !document.querySelector('[data-id="' + id + '"]')) { newNotice.hidden = false; }
    });
  }

  var bells = document.querySelectorAll("[data-bell]");
  for (var b = 0; b < bells.length; b++) { bell(bells[b]); }
  var boxes = document.querySelectorAll("[data-progress]");
  for (var i = 0; i < boxes.length; i++) { follow(boxes[i]); }
  var checks = document.querySelectorAll("[data-payee-check]");
  for (var j = 0; j < checks.length; j++) { followPayees(checks[j]); }
  var reloader = document.querySelector("[data-reload-in]");
  if (reloader) {
    var seconds = parseInt(reloader.getAttribute("data-reload-in"), 10) || 3;
    window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }
})();
