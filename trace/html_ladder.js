// The ladder page's behaviour: a tooltip with the whole segment under the
// pointer, and stepping through the rows in time order. It fetches nothing.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("ladder-data").textContent);
  var svg = document.querySelector("svg.ladder");
  var items = Array.prototype.slice.call(svg.querySelectorAll("[data-step]"));
  var segs = Array.prototype.slice.call(svg.querySelectorAll("g.seg"));
  var tip = document.getElementById("tip");
  var slider = document.getElementById("slider");
  var status = document.getElementById("status");
  var info = document.getElementById("info");
  var n = data.rows.length;
  var cur = n - 1;
  var playing = null;

  function show(k) {
    cur = Math.max(0, Math.min(n - 1, k));
    slider.value = cur;
    items.forEach(function (el) {
      var s = +el.dataset.step;
      var seg = el.classList.contains("seg");
      var a = seg ? +el.dataset.arrive : s;
      el.classList.toggle("future", s > cur);
      el.classList.toggle("inflight", seg && s <= cur && a > cur);
      el.classList.toggle("current", s === cur || (seg && a === cur));
    });
    status.textContent = "step " + (cur + 1) + " of " + n;
    info.textContent = n ? data.rows[cur].text : "";
  }

  function cell(table, name, value) {
    if (value === undefined || value === "") return;
    var tr = document.createElement("tr");
    var th = document.createElement("th");
    var td = document.createElement("td");
    th.textContent = name;
    td.textContent = value;
    tr.appendChild(th);
    tr.appendChild(td);
    table.appendChild(tr);
  }

  function fill(s) {
    tip.textContent = "";
    var line = document.createElement("div");
    line.className = "line";
    line.textContent = s.line;
    tip.appendChild(line);
    var t = document.createElement("table");
    cell(t, "from", s.from + (s.stack ? " (" + s.stack + ")" : ""));
    cell(t, "to", s.to);
    cell(t, "time", s.at);
    cell(t, "flags", s.flags);
    cell(t, "seq", s.seq + " (absolute " + s.absSeq + ")");
    if (s.hasAck) cell(t, "ack", s.ack + " (absolute " + s.absAck + ")");
    cell(t, "length", String(s.len));
    cell(t, "window", String(s.win));
    cell(t, "options", s.options);
    cell(t, "fate", s.fate);
    tip.appendChild(t);
  }

  segs.forEach(function (g) {
    var s = data.segs[+g.dataset.seg];
    var title = g.querySelector("title");
    if (title) title.remove(); // the page's own tooltip replaces it
    g.addEventListener("mouseenter", function () { fill(s); tip.hidden = false; });
    g.addEventListener("mousemove", function (ev) {
      var x = ev.clientX + 14, y = ev.clientY + 14;
      var w = tip.offsetWidth, h = tip.offsetHeight;
      if (x + w > window.innerWidth) x = Math.max(0, ev.clientX - w - 14);
      if (y + h > window.innerHeight) y = Math.max(0, ev.clientY - h - 14);
      tip.style.left = x + "px";
      tip.style.top = y + "px";
    });
    g.addEventListener("mouseleave", function () { tip.hidden = true; });
    g.addEventListener("click", function () { show(+g.dataset.step); });
    g.dataset.wired = "1";
  });

  function stop() {
    if (playing) clearInterval(playing);
    playing = null;
    document.getElementById("play").textContent = "play";
  }
  function play() {
    if (playing) return stop();
    if (cur >= n - 1) show(0);
    document.getElementById("play").textContent = "pause";
    playing = setInterval(function () {
      if (cur >= n - 1) return stop();
      show(cur + 1);
    }, 450);
  }
  slider.max = Math.max(n - 1, 0);
  slider.addEventListener("input", function () { stop(); show(+slider.value); });
  document.getElementById("first").addEventListener("click", function () { stop(); show(0); });
  document.getElementById("prev").addEventListener("click", function () { stop(); show(cur - 1); });
  document.getElementById("next").addEventListener("click", function () { stop(); show(cur + 1); });
  document.getElementById("last").addEventListener("click", function () { stop(); show(n - 1); });
  document.getElementById("play").addEventListener("click", play);
  document.addEventListener("keydown", function (ev) {
    var keys = { ArrowLeft: -1, ArrowUp: -1, ArrowRight: 1, ArrowDown: 1 };
    if (ev.key in keys) { stop(); show(cur + keys[ev.key]); ev.preventDefault(); }
    else if (ev.key === "Home") { stop(); show(0); }
    else if (ev.key === "End") { stop(); show(n - 1); }
    else if (ev.key === " ") { play(); ev.preventDefault(); }
  });
  show(cur);
  document.body.dataset.arrows = String(segs.length);
  document.body.dataset.ready = "true";
})();
