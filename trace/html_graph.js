// The graph page's behaviour: draws each connection's time-sequence graph,
// goodput, round-trip times and congestion window / bytes in flight for the
// visible time range, zooms (wheel, buttons) and pans (drag) them together,
// and draws the ladder of the visible range once it is small enough. It
// fetches nothing.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("graph-data").textContent);
  var FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16, S = 8;
  var sel = document.getElementById("conn");
  var graphs = document.getElementById("graphs");
  var ladder = document.getElementById("ladder");
  var note = document.getElementById("ladder-note");
  var rangeText = document.getElementById("range");
  var conn, view, segs;
  var L = 78, R = 16, TSH = 340, SMALL = 120, GAP = 46;

  data.conns.forEach(function (c, i) {
    var o = document.createElement("option");
    o.value = i;
    o.textContent = c.name;
    sel.appendChild(o);
  });

  function fmtBytes(v) {
    var a = Math.abs(v);
    if (a >= 1073741824) return +(v / 1073741824).toPrecision(3) + "G";
    if (a >= 1048576) return +(v / 1048576).toPrecision(3) + "M";
    if (a >= 1024) return +(v / 1024).toPrecision(3) + "K";
    return String(+v.toPrecision(4));
  }
  function fmtRate(v) {
    if (v >= 1e9) return (v / 1e9).toFixed(2) + " Gbit/s";
    if (v >= 1e6) return (v / 1e6).toFixed(1) + " Mbit/s";
    if (v >= 1e3) return (v / 1e3).toFixed(1) + " kbit/s";
    return v.toFixed(0) + " bit/s";
  }
  function ticks(lo, hi, n) {
    if (!(hi > lo)) return [];
    var raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw))), step = mag;
    [1, 2, 5, 10].some(function (m) { if (m * mag >= raw) { step = m * mag; return true; } return false; });
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
    return out;
  }
  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  // Panel: maps [t0,t1] x [v0,v1] onto a rectangle.
  function Panel(y, h, v0, v1, width) {
    this.x = L; this.y = y; this.w = width - L - R; this.h = h;
    this.t0 = view.t0; this.t1 = view.t1; this.v0 = v0; this.v1 = v1 > v0 ? v1 : v0 + 1;
  }
  Panel.prototype.X = function (t) { return this.x + (t - this.t0) / (this.t1 - this.t0) * this.w; };
  Panel.prototype.Y = function (v) {
    v = Math.min(Math.max(v, this.v0), this.v1); // off the scale: along its edge
    return this.y + this.h - (v - this.v0) / (this.v1 - this.v0) * this.h;
  };
  Panel.prototype.col = function (t) {
    if (t < this.t0 || t > this.t1) return -1;
    return Math.min(Math.floor((t - this.t0) / (this.t1 - this.t0) * this.w), this.w - 1);
  };
  Panel.prototype.frame = function (out, title, unit) {
    var p = this;
    out.push('<text x="' + p.x + '" y="' + (p.y - 8) + '" font-size="12" font-weight="bold" fill="#444">' + esc(title) + "</text>");
    out.push('<rect class="frame" x="' + p.x + '" y="' + p.y + '" width="' + p.w + '" height="' + p.h + '" fill="#fff" stroke="#444"/>');
    ticks(p.v0, p.v1, 5).forEach(function (v) {
      var y = p.Y(v).toFixed(1);
      out.push('<line x1="' + p.x + '" y1="' + y + '" x2="' + (p.x + p.w) + '" y2="' + y + '" stroke="#e4e4e4"/>');
      out.push('<text x="' + (p.x - 4) + '" y="' + (+y + 3) + '" font-size="10" text-anchor="end" fill="#444">' + unit(v) + "</text>");
    });
    ticks(p.t0 / 1e6, p.t1 / 1e6, 8).forEach(function (v) {
      var x = p.X(v * 1e6).toFixed(1);
      out.push('<line x1="' + x + '" y1="' + p.y + '" x2="' + x + '" y2="' + (p.y + p.h) + '" stroke="#e4e4e4"/>');
      out.push('<text x="' + x + '" y="' + (p.y + p.h + 13) + '" font-size="10" text-anchor="middle" fill="#444">' + (+v.toPrecision(6)) + " s</text>");
    });
  };
  // Columns: smallest and largest value per pixel column, drawn as bars.
  function Columns(w) { this.lo = new Float64Array(w); this.hi = new Float64Array(w); this.set = new Uint8Array(w); }
  Columns.prototype.add = function (c, lo, hi) {
    if (c < 0) return;
    if (!this.set[c]) { this.lo[c] = lo; this.hi[c] = hi; this.set[c] = 1; return; }
    if (lo < this.lo[c]) this.lo[c] = lo;
    if (hi > this.hi[c]) this.hi[c] = hi;
  };
  Columns.prototype.bars = function (out, p, color, width, cls) {
    var d = [];
    for (var i = 0; i < this.set.length; i++) {
      if (!this.set[i]) continue;
      var y0 = p.Y(this.lo[i]), y1 = p.Y(this.hi[i]);
      if (y0 - y1 < 1) { y0 += 0.5; y1 -= 0.5; }
      d.push("M" + (p.x + i + 0.5).toFixed(1) + "," + y0.toFixed(1) + "V" + y1.toFixed(1));
    }
    if (d.length) out.push('<path class="' + cls + '" d="' + d.join("") + '" stroke="' + color + '" stroke-width="' + width + '" fill="none"/>');
  };
  // A value that holds until its next sample, one point per column.
  function step(out, p, ts, vs, color, width) {
    var d = [], lastY = null, lastCol = -2;
    for (var i = 0; i < ts.length; i++) {
      var t = ts[i];
      if (t > p.t1) break;
      var y = p.Y(vs[i]).toFixed(1);
      if (t < p.t0) { lastY = y; lastCol = -1; continue; }
      var c = p.col(t), x = (p.x + c).toFixed(1);
      if (lastY === null) d.push("M" + x + "," + y);
      else if (lastCol === -1) d.push("M" + p.x + "," + lastY + "H" + x + "V" + y);
      else if (c === lastCol) d.push("V" + y);
      else d.push("H" + x + "V" + y);
      lastY = y; lastCol = c;
    }
    if (lastY !== null) { if (lastCol === -1) d.push("M" + p.x + "," + lastY); d.push("H" + (p.x + p.w)); }
    if (d.length) out.push('<path d="' + d.join("") + '" stroke="' + color + '" stroke-width="' + width + '" fill="none"/>');
  }
  function legend(out, p, items) {
    var x = p.x + p.w;
    for (var i = items.length - 1; i >= 0; i--) {
      x -= 14 + 7 * items[i][0].length;
      out.push('<rect x="' + x + '" y="' + (p.y - 18) + '" width="10" height="10" fill="' + items[i][1] + '"/><text x="' + (x + 13) + '" y="' + (p.y - 9) + '" font-size="11" fill="#444">' + items[i][0] + "</text>");
      x -= 8;
    }
  }

  // Derived series of the connection, computed once per connection.
  function derive(c) {
    var s = c.seg, n = s.length / S, fwd = c.fwd ? 1 : 0;
    var d = { data: [], ackT: [], ack: [], win: [], flT: [], fl: [], sack: [] };
    var maxHi = 0, lastAck = 0;
    for (var i = 0; i < n; i++) {
      var o = i * S, t = s[o], fl = s[o + 2], len = s[o + 5];
      if (s[o + 1] === fwd) {
        var sl = len + ((fl & (SYN | FIN)) ? 1 : 0);
        if (!sl) continue;
        maxHi = Math.max(maxHi, s[o + 3] + sl);
        d.data.push(i);
        d.flT.push(t); d.fl.push(Math.max(maxHi - lastAck, 0));
      } else if (fl & ACK) {
        lastAck = Math.max(lastAck, s[o + 4]);
        d.ackT.push(t); d.ack.push(s[o + 4]); d.win.push(s[o + 4] + s[o + 6]);
        d.flT.push(t); d.fl.push(Math.max(maxHi - lastAck, 0));
      }
    }
    for (var k = 0; k < c.sack.length; k += 3) d.sack.push([s[c.sack[k] * S], c.sack[k + 1], c.sack[k + 2]]);
    return d;
  }

  function render() {
    var width = Math.max(graphs.clientWidth || 960, 700);
    var s = conn.seg, d = conn.d, out = [], pw = width - L - R;
    var t0 = view.t0, t1 = view.t1;
    // Sequence range of what is visible.
    var lo = Infinity, hi = -Infinity, visible = 0;
    d.data.forEach(function (i) {
      var t = s[i * S];
      if (t < t0 || t > t1) return;
      lo = Math.min(lo, s[i * S + 3]); hi = Math.max(hi, s[i * S + 3] + s[i * S + 5] + 1);
    });
    for (var i = 0; i < d.ackT.length; i++) {
      if (d.ackT[i] < t0 || d.ackT[i] > t1) continue;
      lo = Math.min(lo, d.ack[i]); hi = Math.max(hi, d.ack[i]);
    }
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    var height = 24 + TSH + 3 * (SMALL + GAP) + GAP;
    out.push('<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="' + width + '" height="' + height + '" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">');
    var ts = new Panel(24 + GAP - 20, TSH, lo, hi + (hi - lo) * 0.02, width);
    ts.frame(out, "time-sequence graph: sequence number (bytes, relative) over time", fmtBytes);
    step(out, ts, d.ackT, d.win, "#c9a100", 1.2);
    step(out, ts, d.ackT, d.ack, "#1b7f2a", 1.4);
    var sc = new Columns(pw);
    d.sack.forEach(function (b) { sc.add(ts.col(b[0]), b[1], b[2]); });
    sc.bars(out, ts, "#1f5fbf", 2, "sack");
    var cols = [new Columns(pw), new Columns(pw), new Columns(pw)], lost = [];
    d.data.forEach(function (i) {
      var o = i * S, t = s[o];
      if (t < t0 || t > t1) return;
      visible++;
      var sl = s[o + 5] + ((s[o + 2] & (SYN | FIN)) ? 1 : 0);
      cols[s[o + 7]].add(ts.col(t), s[o + 3], s[o + 3] + sl);
      if (s[o + 7] === 2) lost.push(i);
    });
    cols[0].bars(out, ts, "#111", 1.4, "data");
    cols[1].bars(out, ts, "#c62828", 1.4, "retrans");
    cols[2].bars(out, ts, "#ff6f00", 1.4, "lost");
    if (lost.length && lost.length <= 2000) {
      out.push('<path d="' + lost.map(function (i) {
        var o = i * S;
        return "M" + (ts.X(s[o]) - 3).toFixed(1) + "," + (ts.Y(s[o + 3] + s[o + 5]) - 3).toFixed(1) + "l6,6m-6,0l6,-6";
      }).join("") + '" stroke="#ff6f00" stroke-width="1.6" fill="none"/>');
    }
    legend(out, ts, [["data", "#111"], ["retransmitted", "#c62828"], ["lost", "#ff6f00"], ["ACK", "#1b7f2a"], ["window", "#c9a100"], ["SACK", "#1f5fbf"]]);
    out.push('<rect id="tsg-hit" x="' + ts.x + '" y="' + ts.y + '" width="' + ts.w + '" height="' + ts.h + '" fill="transparent"/>');

    // Goodput.
    var bins = Math.max(Math.floor(pw / 6), 1), binDur = (t1 - t0) / bins, rates = new Float64Array(bins), prev = null;
    for (i = 0; i < d.ackT.length; i++) {
      var a = d.ack[i], t = d.ackT[i];
      if (prev !== null && a > prev && t >= t0 && t <= t1) rates[Math.min(Math.floor((t - t0) / binDur), bins - 1)] += a - prev;
      if (prev === null || a > prev) prev = a;
    }
    var maxRate = 1;
    for (i = 0; i < bins; i++) { rates[i] = rates[i] * 8 / (binDur / 1e6); maxRate = Math.max(maxRate, rates[i]); }
    var y = ts.y + ts.h + GAP;
    var gp = new Panel(y, SMALL, 0, maxRate * 1.05, width);
    gp.frame(out, "goodput (bytes acknowledged per " + (binDur / 1000).toPrecision(3) + " ms)", fmtRate);
    var pd = [];
    for (i = 0; i < bins; i++) {
      var x0 = gp.x + i * pw / bins;
      pd.push((i ? "L" : "M") + x0.toFixed(1) + "," + gp.Y(rates[i]).toFixed(1) + "H" + (x0 + pw / bins).toFixed(1));
    }
    out.push('<path d="' + pd.join("") + '" stroke="#1f5fbf" stroke-width="1.4" fill="none"/>');

    // Round-trip times.
    y += SMALL + GAP;
    var r = conn.rtt, maxRTT = 1;
    for (i = 0; i < r.length; i += 2) if (r[i] >= t0 && r[i] <= t1) maxRTT = Math.max(maxRTT, r[i + 1]);
    var rp = new Panel(y, SMALL, 0, maxRTT * 1.05, width);
    rp.frame(out, "round-trip time (segment to the ACK that covered it)", function (v) { return +(v / 1000).toPrecision(4) + " ms"; });
    var rc = new Columns(pw);
    for (i = 0; i < r.length; i += 2) rc.add(rp.col(r[i]), r[i + 1], r[i + 1]);
    rc.bars(out, rp, "#5b2a86", 2, "rtt");

    // Congestion window and bytes in flight.
    y += SMALL + GAP;
    var cw = conn.cwnd, cwT = [], cwV = [], maxW = 1;
    for (i = 0; i < cw.length; i += 2) { cwT.push(cw[i]); cwV.push(cw[i + 1]); if (cw[i] >= t0 && cw[i] <= t1) maxW = Math.max(maxW, cw[i + 1]); }
    for (i = 0; i < d.flT.length; i++) if (d.flT[i] >= t0 && d.flT[i] <= t1) maxW = Math.max(maxW, d.fl[i]);
    var cp = new Panel(y, SMALL, 0, maxW * 1.05, width);
    cp.frame(out, cwT.length ? "congestion window (the sender's own) and bytes in flight" : "bytes in flight (highest sequence sent - highest ACK)", fmtBytes);
    step(out, cp, d.flT, d.fl, "#777", 1);
    if (cwT.length) step(out, cp, cwT, cwV, "#5b2a86", 1.6);
    legend(out, cp, cwT.length ? [["in flight", "#777"], ["cwnd", "#5b2a86"]] : [["in flight", "#777"]]);
    out.push("</svg>");
    graphs.innerHTML = out.join("\n");
    graphs.dataset.from = String(t0);
    graphs.dataset.to = String(t1);
    graphs.dataset.visible = String(visible);
    rangeText.textContent = (t0 / 1e6).toFixed(6) + " s to " + (t1 / 1e6).toFixed(6) + " s";
    drawLadder();
  }

  // The ladder of every segment (both directions) in the visible range.
  function drawLadder() {
    var s = conn.seg, n = s.length / S, rows = [];
    for (var i = 0; i < n; i++) if (s[i * S] >= view.t0 && s[i * S] <= view.t1) rows.push(i);
    ladder.dataset.arrows = "0";
    if (rows.length > data.ladderCap) {
      note.textContent = rows.length + " segments in view: zoom in to " + data.ladderCap + " or fewer to see them as a ladder.";
      ladder.innerHTML = "";
      return;
    }
    note.textContent = rows.length + " segments in view.";
    var W = 840, xl = 170, xr = 670, top = 60, rowH = 22, H = top + (rows.length + 1) * rowH + 20;
    var out = ['<svg xmlns="http://www.w3.org/2000/svg" class="ladder" width="' + W + '" height="' + H + '" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">'];
    out.push('<text x="' + xl + '" y="30" font-size="12" font-weight="bold" text-anchor="middle">' + esc(conn.left) + "</text>");
    out.push('<text x="' + xr + '" y="30" font-size="12" font-weight="bold" text-anchor="middle">' + esc(conn.right) + "</text>");
    out.push('<line x1="' + xl + '" y1="38" x2="' + xl + '" y2="' + (H - 10) + '" stroke="#333" stroke-width="2"/>');
    out.push('<line x1="' + xr + '" y1="38" x2="' + xr + '" y2="' + (H - 10) + '" stroke="#333" stroke-width="2"/>');
    rows.forEach(function (i, k) {
      var o = i * S, fl = s[o + 2], left = s[o + 1] === 1, mark = s[o + 7];
      var color = fl & RST ? "#c62828" : fl & SYN ? "#1b7f2a" : fl & FIN ? "#1f5fbf" : s[o + 5] ? "#111" : "#777";
      var ys = top + k * rowH, ye = ys + rowH, xs = left ? xl : xr, xe = left ? xr : xl;
      if (mark === 2) { xe = xs + (xe - xs) * 0.55; ye = ys + rowH * 0.55; }
      var names = [];
      [[SYN, "SYN"], [FIN, "FIN"], [RST, "RST"], [PSH, "PSH"], [ACK, "ACK"]].forEach(function (f) { if (fl & f[0]) names.push(f[1]); });
      var label = names.join(",") + " seq " + s[o + 3] + (fl & ACK ? " ack " + s[o + 4] : "") + (s[o + 5] ? " len " + s[o + 5] : "") +
        (mark === 1 ? " (retransmission)" : mark === 2 ? " (lost)" : "");
      out.push('<g class="seg" data-time="' + s[o] + '"><title>' + (s[o] / 1e6).toFixed(6) + " s " + esc(label) + " win " + s[o + 6] + "</title>");
      out.push('<line x1="' + xs + '" y1="' + ys + '" x2="' + xe.toFixed(1) + '" y2="' + ye.toFixed(1) + '" stroke="' + color + '" stroke-width="1.6"' + (mark === 1 ? ' stroke-dasharray="6 3"' : "") + "/>");
      if (mark === 2) out.push('<path d="M' + (xe - 5) + "," + (ye - 5) + "l10,10m-10,0l10,-10" + '" stroke="#c62828" stroke-width="2.4"/>');
      else {
        var dx = xe - xs, dy = ye - ys, dl = Math.sqrt(dx * dx + dy * dy), ux = dx / dl, uy = dy / dl, bx = xe - ux * 9, by = ye - uy * 9;
        out.push('<path d="M' + xe + "," + ye + "L" + (bx - uy * 3.5).toFixed(1) + "," + (by + ux * 3.5).toFixed(1) + "L" + (bx + uy * 3.5).toFixed(1) + "," + (by - ux * 3.5).toFixed(1) + 'z" fill="' + color + '"/>');
      }
      out.push('<text x="' + (left ? xs + 12 : xs - 12) + '" y="' + (ys - 5) + '" font-size="11.5" fill="' + color + '" text-anchor="' + (left ? "start" : "end") + '">' + esc(label) + "</text>");
      out.push('<text x="' + (xl - 14) + '" y="' + (ys + 4) + '" font-size="10" fill="#888" text-anchor="end">' + (s[o] / 1e6).toFixed(6) + "</text></g>");
    });
    out.push("</svg>");
    ladder.innerHTML = out.join("\n");
    ladder.dataset.arrows = String(rows.length);
  }

  function clampView() {
    var span = view.t1 - view.t0, whole = conn.to - conn.from;
    if (span < 20) span = 20;
    if (span > whole) { view.t0 = conn.from; view.t1 = conn.to; return; }
    if (view.t0 < conn.from) view.t0 = conn.from;
    if (view.t0 + span > conn.to) view.t0 = conn.to - span;
    view.t1 = view.t0 + span;
  }
  function zoom(factor, at) {
    view.t0 = at - (at - view.t0) * factor;
    view.t1 = at + (view.t1 - at) * factor;
    clampView();
    render();
  }
  function choose(i) {
    conn = data.conns[i];
    if (!conn.d) conn.d = derive(conn);
    if (conn.to <= conn.from) conn.to = conn.from + 1000;
    view = { t0: conn.from, t1: conn.to };
    document.getElementById("summary").textContent = conn.summary;
    render();
  }
  function timeAt(ev) {
    var svg = graphs.querySelector("svg"), r = svg.getBoundingClientRect();
    var pw = r.width - L - R, x = Math.min(Math.max(ev.clientX - r.left - L, 0), pw);
    return view.t0 + x / pw * (view.t1 - view.t0);
  }
  graphs.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    zoom(ev.deltaY < 0 ? 1 / 1.25 : 1.25, timeAt(ev));
  }, { passive: false });
  var drag = null;
  graphs.addEventListener("mousedown", function (ev) { drag = { x: ev.clientX, t0: view.t0, t1: view.t1 }; ev.preventDefault(); });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) return;
    var pw = graphs.querySelector("svg").getBoundingClientRect().width - L - R;
    var dt = (ev.clientX - drag.x) / pw * (drag.t1 - drag.t0);
    view.t0 = drag.t0 - dt; view.t1 = drag.t1 - dt;
    clampView();
    render();
  });
  window.addEventListener("mouseup", function () { drag = null; });
  document.getElementById("zin").addEventListener("click", function () { zoom(1 / 2, (view.t0 + view.t1) / 2); });
  document.getElementById("zout").addEventListener("click", function () { zoom(2, (view.t0 + view.t1) / 2); });
  document.getElementById("reset").addEventListener("click", function () { view = { t0: conn.from, t1: conn.to }; render(); });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "+" || ev.key === "=") zoom(1 / 2, (view.t0 + view.t1) / 2);
    else if (ev.key === "-") zoom(2, (view.t0 + view.t1) / 2);
    else if (ev.key === "0") { view = { t0: conn.from, t1: conn.to }; render(); }
  });
  sel.addEventListener("change", function () { choose(+sel.value); });
  choose(0);

  // #test-zoom: what a test in a headless browser reads back. The wheel
  // events go through the page's own handler, aimed at the middle segment's
  // time (the graph's centre may fall in an idle gap, where no zoom ever
  // shows a segment).
  if (location.hash === "#test-zoom") {
    document.body.dataset.viewBefore = view.t0 + "," + view.t1;
    var hit = document.getElementById("tsg-hit").getBoundingClientRect();
    var aim = conn.seg[Math.floor(conn.seg.length / S / 2) * S];
    for (var k = 0; k < 40 && (k < 5 || +ladder.dataset.arrows === 0); k++) { // five notches at least, then until a ladder shows
      var r = graphs.querySelector("svg").getBoundingClientRect(), pw = r.width - L - R;
      var x = r.left + L + (aim - view.t0) / (view.t1 - view.t0) * pw;
      graphs.dispatchEvent(new WheelEvent("wheel", { deltaY: -100, clientX: x, clientY: hit.top + hit.height / 2, bubbles: true, cancelable: true }));
    }
    document.body.dataset.viewAfter = view.t0 + "," + view.t1;
  }
  document.body.dataset.ready = "true";
})();
