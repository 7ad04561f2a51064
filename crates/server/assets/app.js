// floorline dashboard: helpers shared by the provider and admin pages.
// Plain JS, no dependencies, nothing loaded from elsewhere. Every value from
// the API is inserted as text (never as HTML). The API key lives only in this
// tab's sessionStorage and is sent as `Authorization: Bearer`.
"use strict";

(function () {
  const SVG_NS = "http://www.w3.org/2000/svg";

  // ---- DOM -------------------------------------------------------------
  /** el("p", {class: "x"}, "text", child) — attributes and text only. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
  }

  function append(node, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function $(id) {
    return document.getElementById(id);
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  // ---- Formatting (display only; amounts stay integers) ----------------
  const group = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

  /** µUSD → "$1,234.57" (half up to the cent). */
  function usd(micro) {
    if (micro === null || micro === undefined) return "—";
    const neg = micro < 0;
    const cents = Math.floor((Math.abs(micro) + 5000) / 10000);
    const text = "$" + group(Math.floor(cents / 100)) + "." + String(cents % 100).padStart(2, "0");
    return neg ? "−" + text : text;
  }

  /** µUSD exactly: "18,000,000 µUSD". */
  function micro(m) {
    return m === null || m === undefined ? "—" : group(m) + " µUSD";
  }

  /** An amount as "$18.00" with the exact µUSD on hover. */
  function money(m) {
    return el("span", { title: micro(m) }, usd(m));
  }

  /** ppm → "99.99 %", truncated so it never overstates (89.9999 % is 89.99 %). */
  function pct(ppm) {
    if (ppm === null || ppm === undefined) return "—";
    const p = Math.max(0, Math.floor(ppm));
    return Math.floor(p / 10000) + "." + String(Math.floor((p % 10000) / 100)).padStart(2, "0") + " %";
  }

  /** A decimal fraction ("0.9") → "90 %". */
  function fracPct(text) {
    const v = Number(text);
    return Number.isFinite(v) ? String(Math.round(v * 10000) / 100) + " %" : String(text);
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return "—";
    const days = Math.floor(ms / 86400000);
    const hours = Math.floor((ms % 86400000) / 3600000);
    const mins = Math.floor((ms % 3600000) / 60000);
    return (days ? days + " d " : "") + hours + " h " + mins + " min";
  }

  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

  /**
   * "2026-10" → "October 2026" (or "Oct 2026" when short); a period id
   * (SPEC §10) → "3 October 2026", "3 October 2026, 04:00 UTC" or
   * "3 October 2026, 04:05 UTC".
   */
  function month(epoch, short) {
    const m = /^(\d{4})-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2}))?)?)?$/.exec(String(epoch));
    if (!m) return String(epoch);
    const name = MONTHS[Number(m[2]) - 1] || m[2];
    const label = (short ? name.slice(0, 3) : name) + " " + m[1];
    if (!m[3]) return label;
    const day = Number(m[3]) + " " + label;
    if (!m[4]) return day;
    return day + ", " + m[4] + ":" + (m[5] || "00") + " UTC";
  }

  function when(ts) {
    if (!ts) return "—";
    const d = new Date(typeof ts === "number" ? ts : String(ts));
    if (Number.isNaN(d.getTime())) return String(ts);
    return d.toISOString().replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
  }

  // ---- Alerts ------------------------------------------------------------
  function showError(err) {
    const box = $("alert");
    clear(box);
    if (!err) return;
    const title = err.status ? "Error " + err.status + (err.code ? " (" + err.code + ")" : "") + ":" : "Error:";
    box.append(el("strong", {}, title), " ", err.message || String(err));
  }

  function showStatus(text) {
    const box = $("status");
    clear(box);
    if (text) box.append(text);
  }

  function clearAlerts() {
    showError(null);
    showStatus("");
  }

  // ---- API ---------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, code, message, body) {
      super(message);
      this.status = status;
      this.code = code;
      this.body = body;
    }
  }

  const page = document.body.dataset.page || "dashboard";
  const storageKey = "floorline." + page + ".key";

  function key() {
    try {
      return sessionStorage.getItem(storageKey) || "";
    } catch (_) {
      return "";
    }
  }

  function setKey(k) {
    try {
      if (k) sessionStorage.setItem(storageKey, k);
      else sessionStorage.removeItem(storageKey);
    } catch (_) {
      /* storage may be disabled; the key then lasts until reload */
    }
  }

  /** fetch with the bearer key; JSON by default, `{as: "text"}` for CSV.
      Errors become ApiError with the API's code and message. */
  async function api(path, opts) {
    const o = opts || {};
    const headers = { Accept: o.as === "text" ? "text/csv, text/plain" : "application/json" };
    const k = key();
    if (k) headers.Authorization = "Bearer " + k;
    if (o.body !== undefined) headers["Content-Type"] = "application/json";
    let resp;
    try {
      resp = await fetch(path, {
        method: o.method || "GET",
        headers,
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (e) {
      throw new ApiError(0, "network", "The server could not be reached (" + e.message + ").");
    }
    const text = await resp.text();
    if (!resp.ok) {
      let code = "http_" + resp.status;
      let message = resp.statusText || "request failed";
      try {
        const body = JSON.parse(text);
        if (body && body.error) {
          code = body.error.code || code;
          message = body.error.message || message;
          if (body.error.field) message += " (field " + body.error.field + ")";
        }
      } catch (_) {
        /* not JSON: keep the status text */
      }
      throw new ApiError(resp.status, code, message);
    }
    if (o.as === "text") return text;
    try {
      return JSON.parse(text);
    } catch (_) {
      throw new ApiError(resp.status, "bad_response", "The server answered with something that is not JSON.");
    }
  }

  // ---- Sign-in -------------------------------------------------------------
  /** Wires the sign-in form and the sign-out button. `load()` renders the
      signed-in page; it throws ApiError, and a 401 signs the user out. */
  function session(load) {
    const form = $("signin-form");
    const input = $("key");
    const signin = $("signin");
    const content = $("content");
    const out = $("sign-out");

    function showSignedIn(yes) {
      signin.hidden = yes;
      content.hidden = !yes;
      out.hidden = !yes;
      document.body.classList.toggle("signed-in", yes);
    }

    async function run() {
      clearAlerts();
      document.body.setAttribute("aria-busy", "true");
      try {
        await load();
        showSignedIn(true);
        document.body.dataset.state = "ready";
      } catch (e) {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
          setKey("");
          showSignedIn(false);
          document.body.dataset.state = "signed-out";
          input.focus();
        } else {
          document.body.dataset.state = "error";
        }
        showError(e);
      } finally {
        document.body.removeAttribute("aria-busy");
      }
    }

    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const k = input.value.trim();
      if (!k) {
        showError({ message: "Enter your API key." });
        input.focus();
        return;
      }
      setKey(k);
      input.value = "";
      run();
    });

    out.addEventListener("click", () => {
      setKey("");
      clearAlerts();
      showSignedIn(false);
      document.body.dataset.state = "signed-out";
      showStatus("Signed out. The key was removed from this tab.");
      input.focus();
    });

    if (key()) run();
    else {
      showSignedIn(false);
      document.body.dataset.state = "signed-out";
    }
    return { reload: run };
  }

  // ---- Tables --------------------------------------------------------------
  /** A table in a horizontally scrolling box.
      columns: [{key, label, num, rowHeader, render(row) → text|Node, sortValue(row)}]
      With `sort` = {key, dir, onSort(key)} the headers become sort buttons. */
  function table(opts) {
    const cols = opts.columns;
    const rows = opts.rows || [];
    if (!rows.length && opts.empty) return el("p", { class: "empty", id: opts.id || null }, opts.empty);
    const wrap = el("div", { class: "table-wrap", role: "region", "aria-label": opts.label || opts.caption, tabindex: "0" });
    if (opts.id) wrap.id = opts.id;
    const t = el("table", {});
    if (opts.caption) t.append(el("caption", {}, opts.caption));
    const headRow = el("tr", {});
    for (const c of cols) {
      const th = el("th", { scope: "col", class: c.num ? "num" : null });
      if (opts.sort && c.sortable !== false) {
        const active = opts.sort.key === c.key;
        if (active) th.setAttribute("aria-sort", opts.sort.dir === "desc" ? "descending" : "ascending");
        const arrow = active ? (opts.sort.dir === "desc" ? "▼" : "▲") : "↕";
        th.append(
          el(
            "button",
            { type: "button", class: "sort", "data-key": c.key, onclick: () => opts.sort.onSort(c.key) },
            c.label,
            el("span", { class: "arrow", "aria-hidden": "true" }, arrow),
          ),
        );
      } else {
        th.append(c.label);
      }
      headRow.append(th);
    }
    t.append(el("thead", {}, headRow));
    const body = el("tbody", {});
    for (const r of rows) {
      const tr = el("tr", {});
      for (const c of cols) {
        const v = c.render ? c.render(r) : r[c.key];
        const cell = c.rowHeader ? el("th", { scope: "row" }) : el("td", {});
        if (c.num || c.cls) cell.className = (c.num ? "num " : "") + (c.cls || "");
        append(cell, [v === null || v === undefined ? "—" : v]);
        tr.append(cell);
      }
      body.append(tr);
    }
    t.append(body);
    wrap.append(t);
    if (!rows.length) wrap.append(el("p", { class: "empty" }, "Nothing to show."));
    return wrap;
  }

  /** Sorts rows by a column's sortValue (or raw value); numbers numerically. */
  function sortRows(rows, col, dir) {
    const val = col.sortValue || ((r) => r[col.key]);
    const sign = dir === "desc" ? -1 : 1;
    return rows.slice().sort((a, b) => {
      const x = val(a);
      const y = val(b);
      if (typeof x === "number" && typeof y === "number") return sign * (x - y);
      return sign * String(x).localeCompare(String(y), "en", { numeric: true });
    });
  }

  function stats(items) {
    return el(
      "dl",
      { class: "stats" },
      items.map(([label, value, sub]) => el("div", { class: "stat" }, el("dt", {}, label), el("dd", {}, value, sub ? el("span", { class: "sub" }, sub) : null))),
    );
  }

  /** A horizontal bar: `value` of `max`, with an optional marked line. */
  function bar(opts) {
    const frac = (v) => Math.max(0, Math.min(100, opts.max > 0 ? (v / opts.max) * 100 : 0));
    const box = el("div", { class: "bar", role: "img", "aria-label": opts.label });
    const fill = el("div", { class: "bar-fill " + (opts.cls || "") });
    fill.style.width = frac(opts.value) + "%";
    box.append(fill);
    if (opts.line !== undefined) {
      const pos = frac(opts.line) + "%";
      const line = el("div", { class: "bar-line", "aria-hidden": "true" });
      line.style.left = pos;
      const tag = el("span", { class: "bar-line-label", "aria-hidden": "true" }, opts.lineLabel || "");
      tag.style.left = pos;
      box.append(line, tag);
    }
    return box;
  }

  // ---- Charts: stacked bars as inline SVG ---------------------------------
  /** A round tick step (1, 2 or 5 × 10ⁿ, at least a cent) for about 4 ticks up to `max`. */
  function tickStep(max) {
    const raw = Math.max(10000, max / 4);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }

  /** Draws stacked bars into `host` (a .chart element) and redraws on resize.
      opts: {title, desc, categories: [{label, estimate}], series: [{name, cls, values}], fmt} */
  function stackedBars(host, opts) {
    host.classList.add("chart");
    const draw = () => {
      clear(host);
      const width = Math.max(280, Math.floor(host.clientWidth || 600));
      const height = 240;
      const m = { top: 22, right: 8, bottom: 40, left: width < 420 ? 58 : 72 };
      const pw = width - m.left - m.right;
      const ph = height - m.top - m.bottom;
      const cats = opts.categories;
      const totals = cats.map((_, i) => opts.series.reduce((s, se) => s + Math.max(0, se.values[i] || 0), 0));
      const step = tickStep(Math.max(0, ...totals));
      const top = Math.max(step, Math.ceil(Math.max(0, ...totals) / step) * step);
      const y = (v) => m.top + ph - (v / top) * ph;
      const id = host.id || "chart";
      const root = svg("svg", {
        viewBox: "0 0 " + width + " " + height,
        width,
        height,
        role: "img",
        "aria-labelledby": id + "-title " + id + "-desc",
      });
      root.append(svg("title", { id: id + "-title" }, opts.title), svg("desc", { id: id + "-desc" }, opts.desc || ""));
      const axis = svg("g", { class: "axis" });
      for (let v = 0; v <= top; v += step) {
        const yy = y(v);
        axis.append(svg("line", { class: "grid-line", x1: m.left, x2: width - m.right, y1: yy, y2: yy }));
        axis.append(svg("text", { x: m.left - 8, y: yy + 4, "text-anchor": "end" }, opts.fmt(Math.round(v))));
      }
      axis.append(svg("line", { class: "axis-line", x1: m.left, x2: width - m.right, y1: m.top + ph, y2: m.top + ph }));
      root.append(axis);
      const band = cats.length ? pw / cats.length : pw;
      const bw = Math.max(6, Math.min(64, band * 0.62));
      const every = Math.max(1, Math.ceil(64 / band));
      cats.forEach((c, i) => {
        const x = m.left + band * i + (band - bw) / 2;
        let acc = 0;
        const g = svg("g", {});
        for (const se of opts.series) {
          const v = Math.max(0, se.values[i] || 0);
          if (v > 0) {
            const y0 = y(acc + v);
            const h = Math.max(1, y(acc) - y0);
            g.append(svg("rect", { x, y: y0, width: bw, height: h, class: se.cls + (c.estimate ? " est" : "") }, svg("title", {}, c.label + (c.estimate ? " (estimate)" : "") + " — " + se.name + ": " + opts.fmt(v))));
          }
          acc += v;
        }
        if (band >= 44) g.append(svg("text", { class: "total", x: x + bw / 2, y: y(acc) - 6, "text-anchor": "middle" }, opts.fmt(acc)));
        if (i % every === 0) {
          g.append(svg("text", { class: "axis", x: x + bw / 2, y: m.top + ph + 16, "text-anchor": "middle" }, c.label));
          if (c.estimate) g.append(svg("text", { class: "axis", x: x + bw / 2, y: m.top + ph + 31, "text-anchor": "middle" }, "estimate"));
        }
        root.append(g);
      });
      host.append(root);
      const legend = el("ul", { class: "legend" });
      for (const se of opts.series) legend.append(el("li", {}, el("span", { class: "swatch " + se.cls, "aria-hidden": "true" }), se.name));
      if (cats.some((c) => c.estimate)) legend.append(el("li", {}, el("span", { class: "swatch est", "aria-hidden": "true" }), "open month: estimate (dashed outline)"));
      host.append(legend);
    };
    draw();
    host._redraw = draw;
  }

  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const c of document.querySelectorAll(".chart")) if (c._redraw) c._redraw();
    }, 120);
  });

  // ---- Confirmation dialog ---------------------------------------------------
  /** Shows #confirm (a <dialog>) and resolves to {ok, force}. Cancel is focused first. */
  function confirmDialog(opts) {
    const dlg = $("confirm");
    $("confirm-title").textContent = opts.title;
    $("confirm-msg").textContent = opts.message;
    const ok = $("confirm-ok");
    ok.textContent = opts.confirmLabel || "Confirm";
    ok.className = opts.danger ? "btn-warn" : "";
    const forceRow = $("confirm-force-row");
    const force = $("confirm-force");
    forceRow.hidden = !opts.offerForce;
    force.checked = false;
    dlg.returnValue = "";
    return new Promise((resolve) => {
      dlg.addEventListener("close", () => resolve({ ok: dlg.returnValue === "ok", force: force.checked }), { once: true });
      dlg.showModal();
      $("confirm-cancel").focus();
    });
  }

  /** Offers `text` as a file download through a Blob link (kept on the page). */
  function offerDownload(link, text, filename, type) {
    if (link.href && link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    const url = URL.createObjectURL(new Blob([text], { type }));
    link.href = url;
    link.download = filename;
    link.textContent = "Save " + filename + " again";
    link.hidden = false;
    link.click();
  }

  window.floorline = {
    el,
    svg,
    $,
    clear,
    usd,
    micro,
    money,
    pct,
    fracPct,
    duration,
    month,
    when,
    group,
    api,
    ApiError,
    key,
    setKey,
    session,
    showError,
    showStatus,
    clearAlerts,
    table,
    sortRows,
    stats,
    bar,
    stackedBars,
    confirmDialog,
    offerDownload,
  };
})();
