// mango admin: new calls appear in the log without reloading (polls every 2 s).
// Rows are built with textContent: nothing a call sent is ever parsed as HTML.
(function () {
  "use strict";
  var body = document.querySelector("tbody[data-feed]");
  if (!body) { return; }
  var newest = Number(body.getAttribute("data-newest") || "0");
  var feed = body.getAttribute("data-feed");
  function cell(text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text == null ? "" : String(text);
    return td;
  }
  function row(r) {
    var tr = document.createElement("tr");
    tr.className = "fresh outcome-" + r.outcome;
    var id = document.createElement("td");
    var a = document.createElement("a");
    a.href = r.href;
    a.textContent = String(r.id);
    id.appendChild(a);
    tr.appendChild(id);
    tr.appendChild(cell(r.when));
    tr.appendChild(cell(r.caller));
    tr.appendChild(cell(r.transport));
    var target = cell("");
    var kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = r.kind;
    target.appendChild(kind);
    target.appendChild(document.createTextNode(" " + r.name));
    tr.appendChild(target);
    var outcome = cell("");
    var tag = document.createElement("span");
    tag.className = "tag " + r.outcome;
    tag.textContent = r.outcome;
    outcome.appendChild(tag);
    tr.appendChild(outcome);
    tr.appendChild(cell(r.duration));
    tr.appendChild(cell(r.error, "err"));
    return tr;
  }
  function poll() {
    var url = feed + (feed.indexOf("?") < 0 ? "?" : "&") + "after=" + newest;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { rows: [] }; })
      .then(function (data) {
        var rows = data.rows || [];
        for (var i = rows.length - 1; i >= 0; i--) {
          body.insertBefore(row(rows[i]), body.firstChild);
          newest = Math.max(newest, rows[i].id);
        }
        if (rows.length) {
          var empty = document.querySelector(".empty");
          if (empty) { empty.remove(); }
        }
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 2000);
})();

// mango admin: the jobs' and tasks' tables follow their runs without reloading: the page is
// fetched again every 2 s and its table swapped in (the server's own escaped HTML).
(function () {
  "use strict";
  var body = document.querySelector("tbody[data-live]");
  if (!body || typeof DOMParser === "undefined") { return; }
  function poll() {
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("tbody[data-live]");
        if (fresh) {
          var next = document.importNode(fresh, true);
          body.replaceWith(next);
          body = next;
        }
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 2000);
})();
