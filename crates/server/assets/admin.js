// floorline admin page: the pool, an epoch's runs, per-tier totals, draws
// (sortable, paged, CSV), excluded machines, one machine's explanation, and
// Preview / Settle behind a confirmation dialog. Calls /v1/admin/* only.
"use strict";

(function () {
  const F = window.floorline;
  const { el, $ } = F;

  const st = {
    epoch: "",
    closed: "",
    offset: 0,
    limit: 25,
    sort: { key: "machine_id", dir: "asc" },
    rows: [],
    hasNext: false,
    detail: null,
    period: "month",
    month: "",
    monthOffset: 0,
    monthLimit: 100,
    monthData: null,
  };

  const MONTH_ID = /^\d{4}-\d{2}$/;

  const REASONS = {
    not_attested: "not attested (or trust too low)",
    below_min_memory: "under 24 GB: usage-only",
    uptime_below_gate: "uptime not above the gate",
    no_proven_work: "no organic job or passed probe in the work window",
    no_payout_account: "no payout account while available",
  };

  function reasons(list) {
    if (!list || !list.length) return "—";
    return el(
      "ul",
      { class: "reasons" },
      list.map((r) => el("li", {}, el("code", {}, r), REASONS[r] ? " — " + REASONS[r] : "")),
    );
  }

  function tierName(gb) {
    return gb ? gb + " GB tier" : "Under 24 GB";
  }

  // ---- Pool ------------------------------------------------------------
  function renderPool(b) {
    const box = F.clear($("pool"));
    const usedPpm = b.pool_micro_usd > 0 ? Math.floor((b.pool_used_micro_usd * 1000000) / b.pool_micro_usd) : 0;
    box.append(
      el(
        "p",
        { class: "muted" },
        b.period && b.period !== "month" ? "Last closed period: " : "Last closed month: ",
        el("strong", {}, F.month(b.epoch)),
        " — ",
        b.settled ? el("span", { class: "badge badge-ok" }, "settled") : el("span", { class: "badge badge-est" }, "not settled yet"),
        " · settlement mode ",
        el("code", {}, b.mode),
      ),
      F.stats([
        ["Pool budget", F.money(b.pool_micro_usd), b.period && b.period !== "month" ? "this period's portion of the month" : "per month"],
        ["Used", F.money(b.pool_used_micro_usd), b.draw_count + " draw(s)"],
        ["Unallocated", F.money(b.unallocated_micro_usd), "left in the pool"],
        ["Policy", "k = " + b.reduction_k, b.allocation + " allocation · workhorse reserve " + F.fracPct(b.workhorse_reserve)],
      ]),
      F.bar({
        value: b.pool_used_micro_usd,
        max: b.pool_micro_usd,
        label: "Pool used: " + F.usd(b.pool_used_micro_usd) + " of " + F.usd(b.pool_micro_usd),
      }),
      el("p", { class: "bar-caption" }, "Used " + F.usd(b.pool_used_micro_usd) + " of " + F.usd(b.pool_micro_usd) + " (" + F.pct(usedPpm) + ") in " + F.month(b.epoch) + "."),
    );
  }

  // ---- Epoch selector ------------------------------------------------------
  function previousMonths(epoch, n) {
    const m = /^(\d{4})-(\d{2})$/.exec(epoch);
    if (!m) return [];
    let y = Number(m[1]);
    let mo = Number(m[2]);
    const out = [];
    for (let i = 0; i < n; i++) {
      out.push(y + "-" + String(mo).padStart(2, "0"));
      mo -= 1;
      if (mo === 0) {
        mo = 12;
        y -= 1;
      }
    }
    return out;
  }

  function renderEpochs(list) {
    const known = new Map(list.map((e) => [String(e.epoch), e]));
    // Months, plus the last closed unit and the chosen one: a month of
    // periods is listed (and each period opened) in "Month by period".
    const ids = [...known.keys()].filter((e) => MONTH_ID.test(e)).concat([st.closed, st.epoch].filter(Boolean));
    const all = new Set(previousMonths(st.closed.slice(0, 7), 12).concat(ids));
    const sorted = [...all].sort().reverse();
    if (!st.epoch || !all.has(st.epoch)) st.epoch = st.closed || sorted[0] || "";
    const sel = F.clear($("epoch-select"));
    for (const e of sorted) {
      const k = known.get(e);
      const state = k ? (k.n_live_runs > 0 ? "settled" : "previewed") : "no run yet";
      sel.append(el("option", { value: e, selected: e === st.epoch }, F.month(e) + " (" + e + ") · " + state));
    }
    sel.value = st.epoch;
  }

  // ---- Month by period -------------------------------------------------------
  function renderMonthSelect() {
    const sel = F.clear($("month-select"));
    for (const m of previousMonths(st.closed.slice(0, 7), 12)) sel.append(el("option", { value: m, selected: m === st.month }, F.month(m)));
    sel.value = st.month;
  }

  function renderMonth(d) {
    st.monthData = d;
    const t = d.totals;
    const box = F.clear($("month-totals"));
    box.dataset.period = d.period;
    box.append(
      el("p", { class: "muted" }, F.month(d.month) + " in " + t.n_periods + " period(s) of " + (d.period === "5m" ? "5 minutes" : "one " + d.period) + ": " + t.n_closed + " closed, " + t.n_settled + " settled."),
      F.stats([
        ["Pool", F.money(t.pool_micro_usd), "Σ of every period's portion"],
        ["Used", F.money(t.used_micro_usd), "Σ draws of the settled periods"],
        ["Unallocated", F.money(t.unallocated_micro_usd), "Σ left in the settled periods"],
      ]),
    );
    const tableBox = F.clear($("month-periods"));
    tableBox.append(
      F.table({
        id: "month-table",
        caption: "Periods of " + F.month(d.month) + " (" + d.period + ")",
        columns: [
          { key: "epoch", label: "Period", rowHeader: true, cls: "nowrap mono", render: (r) => r.epoch },
          { key: "state", label: "State", render: (r) => (r.settled ? "settled (run #" + r.run_id + ")" : r.closed ? "closed, not settled" : "open or ahead") },
          { key: "pool_micro_usd", label: "Pool", num: true, render: (r) => F.money(r.pool_micro_usd) },
          { key: "used_micro_usd", label: "Used", num: true, render: (r) => F.money(r.used_micro_usd) },
          { key: "unallocated_micro_usd", label: "Unallocated", num: true, render: (r) => (r.unallocated_micro_usd === null ? "—" : F.money(r.unallocated_micro_usd)) },
          {
            key: "open",
            label: "Detail",
            render: (r) =>
              r.epoch === d.month && d.period === "month"
                ? "—"
                : el("button", { type: "button", class: "btn-secondary open-period", "data-epoch": r.epoch, onclick: () => openPeriod(r.epoch) }, "Open"),
          },
        ],
        rows: d.periods,
        empty: "No periods.",
      }),
    );
    const from = d.periods.length ? d.offset + 1 : 0;
    $("month-range").textContent = d.periods.length ? "Periods " + from + "–" + (d.offset + d.periods.length) + " of " + t.n_periods : "No rows";
    $("month-prev").disabled = d.offset === 0;
    $("month-next").disabled = d.offset + d.periods.length >= t.n_periods;
  }

  async function loadMonth() {
    if (!st.month) return;
    const q = "?offset=" + st.monthOffset + "&limit=" + st.monthLimit;
    renderMonth(await F.api("/v1/admin/months/" + encodeURIComponent(st.month) + q));
    document.body.dataset.month = st.month;
  }

  async function openPeriod(epoch) {
    st.epoch = epoch;
    st.offset = 0;
    const sel = $("epoch-select");
    if (![...sel.options].some((o) => o.value === epoch)) sel.append(el("option", { value: epoch }, F.month(epoch) + " (" + epoch + ")"));
    sel.value = epoch;
    await busy(loadEpoch);
    sel.focus();
  }

  async function downloadMonthCsv() {
    await busy(async () => {
      F.clearAlerts();
      const month = st.month;
      const text = await F.api("/v1/admin/months/" + encodeURIComponent(month) + "/draws?format=csv", { as: "text" });
      const link = $("month-csv-link");
      const n = Math.max(0, text.trim().split("\n").length - 1);
      link.dataset.rows = String(n);
      F.offerDownload(link, text, "draws-" + month + ".csv", "text/csv");
      F.showStatus("CSV of " + F.month(month) + " ready: " + n + " machine and account row(s) in draws-" + month + ".csv.");
    });
  }

  // ---- Epoch detail ----------------------------------------------------------
  function renderSummary(d) {
    const box = F.clear($("epoch-summary"));
    if (!d) {
      box.append(el("p", { class: "empty-epoch muted" }, "No run of " + F.month(st.epoch) + " yet. Preview it to see the plan."));
      return;
    }
    const run = d.run;
    box.append(
      el(
        "p",
        {},
        "Latest run ",
        el("strong", {}, "#" + run.id),
        ": ",
        run.mode === "live" ? el("span", { class: "badge badge-ok" }, "live") : el("span", { class: "badge badge-info" }, run.mode),
        " · " + F.when(run.created_at_ms) + " · by ",
        el("code", {}, run.actor),
        run.forced ? " · forced" : "",
      ),
      F.stats([
        ["Pool", F.money(d.pool_micro_usd)],
        ["Settled before this run", F.money(d.already_settled_micro_usd)],
        ["Granted by this run", F.money(d.granted_total_micro_usd)],
        ["Unallocated", F.money(d.unallocated_micro_usd)],
        ["Eligible machines", run.n_eligible + " of " + run.n_machines],
      ]),
      el("p", { class: "small" }, "Manifest SHA-256: ", el("code", { id: "manifest" }, d.manifest_sha256)),
      F.table({
        caption: "Runs of " + F.month(st.epoch) + ", newest first",
        columns: [
          { key: "id", label: "Run", rowHeader: true, render: (r) => "#" + r.id },
          { key: "mode", label: "Mode" },
          { key: "created_at_ms", label: "When", cls: "nowrap", render: (r) => F.when(r.created_at_ms) },
          { key: "actor", label: "By", cls: "nowrap", render: (r) => el("code", {}, r.actor) },
          { key: "granted_total_micro_usd", label: "Granted", num: true, render: (r) => F.money(r.granted_total_micro_usd) },
          { key: "unallocated_micro_usd", label: "Unallocated", num: true, render: (r) => F.money(r.unallocated_micro_usd) },
          { key: "n_draws", label: "Draws", num: true },
        ],
        rows: (d.runs || []).slice().sort((a, b) => b.id - a.id),
      }),
    );
  }

  function renderTiers(d) {
    const chart = $("tier-chart");
    const tableBox = F.clear($("tier-table"));
    if (!d) {
      F.clear(chart);
      chart.append(el("p", { class: "muted" }, "Totals appear once the month has a run."));
      return;
    }
    const tiers = d.tiers || [];
    F.stackedBars(chart, {
      title: "Organic earnings and draws per memory tier, " + F.month(st.epoch),
      desc: tiers.length + " tier(s); the table below lists the same figures.",
      categories: tiers.map((t) => ({ label: t.tier_min_gb ? t.tier_min_gb + " GB" : "<24 GB" })),
      series: [
        { name: "Organic earnings", cls: "s-earned", values: tiers.map((t) => t.earned_micro_usd) },
        { name: "Draws (base)", cls: "s-base", values: tiers.map((t) => t.drawn_micro_usd) },
      ],
      fmt: (v) => F.usd(v).replace(/\.00$/, ""),
    });
    tableBox.append(
      F.table({
        caption: "Per-tier totals of the latest run",
        columns: [
          { key: "tier_min_gb", label: "Tier", rowHeader: true, render: (t) => tierName(t.tier_min_gb) },
          { key: "n_machines", label: "Machines", num: true },
          { key: "n_eligible", label: "Eligible", num: true },
          { key: "earned_micro_usd", label: "Organic earnings", num: true, render: (t) => F.money(t.earned_micro_usd) },
          { key: "drawn_micro_usd", label: "Draws", num: true, render: (t) => F.money(t.drawn_micro_usd) },
        ],
        rows: tiers,
      }),
    );
  }

  function explainButton(machine) {
    return el("button", { type: "button", class: "btn-secondary btn-small", "data-explain": machine, onclick: () => explain(machine) }, "Explain", el("span", { class: "visually-hidden" }, " " + machine));
  }

  function renderExcluded(d) {
    const box = F.clear($("excluded"));
    if (!d) {
      box.append(el("p", { class: "muted" }, "Known once the month has a run."));
      return;
    }
    box.append(
      F.table({
        caption: "Machines without a draw in " + F.month(st.epoch) + " and why",
        columns: [
          { key: "machine_id", label: "Machine", rowHeader: true, cls: "nowrap", render: (r) => el("code", {}, r.machine_id) },
          { key: "reasons", label: "Reasons", cls: "wide", render: (r) => reasons(r.reasons) },
          { key: "verified_memory_gb", label: "Verified memory", num: true, render: (r) => r.verified_memory_gb + " GB" },
          { key: "uptime_ppm", label: "Uptime", num: true, render: (r) => F.pct(r.uptime_ppm) },
          { key: "explain", label: "Details", render: (r) => explainButton(r.machine_id) },
        ],
        rows: d.excluded || [],
        empty: "Every machine was eligible.",
      }),
    );
  }

  function fillMachineList() {
    const ids = new Set();
    for (const r of (st.detail && st.detail.excluded) || []) ids.add(r.machine_id);
    for (const r of st.rows) ids.add(r.machine_id);
    const list = F.clear($("machine-ids"));
    for (const id of [...ids].sort()) list.append(el("option", { value: id }));
  }

  // ---- Verify and drift ------------------------------------------------------------
  async function verify() {
    const epoch = st.epoch;
    await busy(async () => {
      F.clearAlerts();
      const r = await F.api("/v1/admin/epochs/" + encodeURIComponent(epoch) + "/verify?drift=true");
      st.verified = { epoch, report: r };
      renderVerify();
    });
  }

  function renderVerify() {
    const out = F.clear($("verify-out"));
    const box = F.clear($("drift"));
    const v = st.verified;
    if (!v || v.epoch !== st.epoch) return;
    const r = v.report;
    const month = F.month(v.epoch);
    const runs = (r.runs || []).length;
    out.dataset.ok = String(r.ok);
    out.append(
      el(
        "p",
        {},
        el("span", { class: r.ok ? "badge badge-ok" : "badge badge-bad" }, r.ok ? "Verified" : "Failed"),
        " ",
        r.ok
          ? "All " + runs + " live run(s) of " + month + " reproduce from the facts they read, and every balance equals its ledger."
          : (r.differences || []).length + " draw(s) differ and " + (r.balance_mismatches || []).length + " balance(s) do not match their ledger. See the JSON from the verify endpoint.",
      ),
    );
    const changes = (r.drift && r.drift.changes) || [];
    box.append(
      F.table({
        id: "drift-table",
        caption: "What today's facts would change in " + month + " (late facts since the latest run)",
        columns: [
          { key: "machine_id", label: "Machine", rowHeader: true, cls: "nowrap", render: (c) => el("code", {}, c.machine_id) },
          { key: "account_id", label: "Account" },
          { key: "settled_micro_usd", label: "Settled", num: true, render: (c) => F.money(c.settled_micro_usd) },
          { key: "now_micro_usd", label: "From today's facts", num: true, render: (c) => F.money(c.now_micro_usd) },
          { key: "change_micro_usd", label: "Change", num: true, render: (c) => F.money(c.change_micro_usd) },
          { key: "adjust", label: "Action", render: (c) => adjustButton(c) },
        ],
        rows: changes,
        empty: "Nothing: today's facts give the draws that were settled.",
      }),
    );
  }

  function adjustButton(c) {
    return el(
      "button",
      {
        type: "button",
        class: "btn-secondary btn-small adjust-drift",
        "data-account": c.account_id,
        "data-amount": String(c.change_micro_usd),
        onclick: () => adjustFor(c),
      },
      "Adjust…",
      el("span", { class: "visually-hidden" }, " " + c.account_id + " for " + c.machine_id),
    );
  }

  async function adjustFor(c) {
    const epoch = st.verified.epoch;
    const credit = c.change_micro_usd > 0;
    const answer = await F.confirmDialog({
      title: (credit ? "Credit " : "Claw back ") + F.usd(Math.abs(c.change_micro_usd)) + (credit ? " to " : " from ") + c.account_id + "?",
      message:
        "Late facts for " + c.machine_id + " in " + F.month(epoch) + " change its share from " + F.usd(c.settled_micro_usd) + " to " + F.usd(c.now_micro_usd) +
        ". This writes one ledger entry (kind " + (credit ? "adjustment" : "clawback") + ") with that reason; settled draws stay as they are.",
      confirmLabel: credit ? "Credit " + c.account_id : "Claw back from " + c.account_id,
      danger: !credit,
    });
    if (!answer.ok) {
      F.showStatus("Adjustment cancelled; nothing changed.");
      return;
    }
    await busy(async () => {
      F.clearAlerts();
      const entry = await F.api("/v1/admin/adjustments", {
        method: "POST",
        body: {
          account_id: c.account_id,
          amount_micro_usd: c.change_micro_usd,
          kind: credit ? "adjustment" : "clawback",
          reason: "late facts for " + c.machine_id + " in " + epoch + " (verify --drift)",
          reference: "drift:" + epoch + ":" + c.machine_id + ":" + c.account_id,
        },
      });
      F.showStatus("Ledger entry #" + entry.id + ": " + F.usd(entry.amount_micro_usd) + " for " + c.account_id + ".");
    });
  }

  // ---- Draws -------------------------------------------------------------------
  const DRAW_COLUMNS = [
    { key: "machine_id", label: "Machine", rowHeader: true, cls: "nowrap", render: (r) => el("code", {}, r.machine_id) },
    { key: "account_id", label: "Account" },
    { key: "amount_micro_usd", label: "Amount", num: true, render: (r) => F.money(r.amount_micro_usd) },
    { key: "verified_memory_gb", label: "Verified memory", num: true, render: (r) => r.verified_memory_gb + " GB" },
    { key: "run_id", label: "Run", num: true, render: (r) => "#" + r.run_id },
    { key: "explain", label: "Details", sortable: false, render: (r) => explainButton(r.machine_id) },
  ];

  function renderDraws() {
    const col = DRAW_COLUMNS.find((c) => c.key === st.sort.key) || DRAW_COLUMNS[0];
    const rows = F.sortRows(st.rows, { key: col.key }, st.sort.dir);
    const box = F.clear($("draws"));
    box.append(
      F.table({
        id: "draws-table",
        caption: "Draws of " + F.month(st.epoch) + " (money credited by live runs)",
        columns: DRAW_COLUMNS,
        rows,
        sort: {
          key: st.sort.key,
          dir: st.sort.dir,
          onSort: (k) => {
            st.sort = { key: k, dir: st.sort.key === k && st.sort.dir === "asc" ? "desc" : "asc" };
            renderDraws();
            const b = document.querySelector('#draws-table th button[data-key="' + k + '"]');
            if (b) b.focus();
          },
        },
        empty: "No draws in " + F.month(st.epoch) + " yet: previews move no money; settle to credit draws.",
      }),
    );
    const from = st.rows.length ? st.offset + 1 : 0;
    $("draws-range").textContent = st.rows.length ? "Rows " + from + "–" + (st.offset + st.rows.length) : st.offset ? "No more rows" : "No rows";
    $("prev-page").disabled = st.offset === 0;
    $("next-page").disabled = !st.hasNext;
    $("csv-button").disabled = !st.epoch;
  }

  async function loadDraws() {
    // One row more than the page tells whether a next page exists.
    const q = "?offset=" + st.offset + "&limit=" + (st.limit + 1);
    const page = await F.api("/v1/admin/epochs/" + encodeURIComponent(st.epoch) + "/draws" + q);
    const all = page.draws || [];
    st.hasNext = all.length > st.limit;
    st.rows = all.slice(0, st.limit);
    renderDraws();
    fillMachineList();
  }

  // ---- Explanation ----------------------------------------------------------------
  const TERMS = [
    ["T_ms", "Month length T"],
    ["available_ms", "Available time A"],
    ["uptime_ppm", "Uptime A / T"],
    ["min_uptime", "Uptime gate (min_uptime)"],
    ["full_uptime", "Full floor at (full_uptime)"],
    ["hardware_model", "Hardware model"],
    ["reported_memory_gb", "Reported memory"],
    ["model_cap_gb", "Model cap"],
    ["proven_gb", "Proven by probe"],
    ["verified_memory_gb", "Verified memory"],
    ["verified_because", "Verified because"],
    ["tier_floor_micro_usd", "Tier floor"],
    ["floor_untapered_micro_usd", "Floor scaled by uptime (untapered)"],
    ["taper", "Taper τ"],
    ["floor_micro_usd", "Floor"],
    ["earned_micro_usd", "Organic earnings"],
    ["reduction_k", "Reduction k"],
    ["desired_untapered_micro_usd", "Desired draw (untapered)"],
    ["previous_total_micro_usd", "Previous month total P"],
    ["cliff_max_drop", "Cliff guard max drop"],
    ["desired_micro_usd", "Desired draw"],
    ["workhorse", "Workhorse"],
    ["budget_micro_usd", "Run budget B"],
    ["reserve_micro_usd", "Workhorse reserve W"],
    ["payout_micro_usd", "Payout (earned + draws)"],
  ];

  function value(key, v) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v)) return el("span", { class: "nowrap", title: v }, F.when(v));
    if (/_micro_usd$/.test(key) && typeof v === "number") return el("span", {}, F.usd(v), el("span", { class: "muted small" }, " (" + F.micro(v) + ")"));
    if (/_ppm$/.test(key) && typeof v === "number") return F.pct(v) + " (" + F.group(v) + " ppm)";
    if (/_ms$/.test(key) && typeof v === "number") return F.duration(v) + " (" + F.group(v) + " ms)";
    if (/_gb$/.test(key) && typeof v === "number") return v + " GB";
    if (/^(min_uptime|full_uptime|cliff_max_drop)$/.test(key)) return F.fracPct(v);
    if (Array.isArray(v)) return v.length ? v.join(", ") : "none";
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  function renderExplanation(x) {
    const box = F.clear($("explain-out"));
    const pm = x.plan_machine || {};
    box.append(
      el(
        "h3",
        { id: "explain-title" },
        el("code", {}, x.machine_id),
        " in " + F.month(x.epoch) + " ",
        pm.eligible ? el("span", { class: "badge badge-ok" }, "eligible") : el("span", { class: "badge badge-bad" }, "not eligible"),
      ),
    );
    if (pm.reasons && pm.reasons.length) box.append(el("div", {}, el("p", {}, "Reasons:"), reasons(pm.reasons)));
    const f = x.formula || {};
    const seen = new Set();
    const rows = [];
    for (const [k, label] of TERMS) {
      if (k in f) {
        rows.push({ term: label, key: k, value: f[k] });
        seen.add(k);
      }
    }
    for (const k of Object.keys(f)) if (!seen.has(k)) rows.push({ term: k, key: k, value: f[k] });
    box.append(
      el("h4", {}, "Formula terms"),
      F.table({
        id: "explain-terms",
        caption: "payout = earned + draw; draw = max(0, floor − k · earned), scaled and capped by the pool",
        columns: [
          { key: "term", label: "Term", rowHeader: true, render: (r) => [r.term, el("code", { class: "term-field" }, r.key)] },
          { key: "value", label: "Value", render: (r) => value(r.key, r.value) },
        ],
        rows,
      }),
    );
    if (pm.shares && pm.shares.length) {
      box.append(
        el("h4", {}, "Shares"),
        F.table({
          caption: "Draw per account",
          columns: [
            { key: "account_id", label: "Account", rowHeader: true },
            { key: "desired_micro_usd", label: "Desired", num: true, render: (r) => F.money(r.desired_micro_usd) },
            { key: "granted_micro_usd", label: "Granted", num: true, render: (r) => F.money(r.granted_micro_usd) },
            { key: "rank", label: "Rank", num: true },
          ],
          rows: pm.shares,
        }),
      );
    }
    const ev = x.evidence || {};
    box.append(el("h4", {}, "Evidence"));
    for (const [name, items] of Object.entries(ev)) {
      const list = Array.isArray(items) ? items : [items];
      const keys = [...new Set(list.flatMap((i) => (i && typeof i === "object" ? Object.keys(i) : [])))];
      const title = name.charAt(0).toUpperCase() + name.slice(1);
      box.append(
        F.table({
          caption: title + " (" + list.length + ")",
          columns: keys.map((k) => ({ key: k, label: k.replace(/_/g, " "), render: (r) => value(k, r[k]) })),
          label: title,
          rows: list,
          empty: "No " + name + ".",
        }),
      );
    }
  }

  async function explain(machine) {
    const id = String(machine || "").trim();
    if (!id) {
      F.showError({ message: "Enter a machine id to explain." });
      $("explain-machine").focus();
      return;
    }
    $("explain-machine").value = id;
    F.clearAlerts();
    try {
      const x = await F.api("/v1/admin/epochs/" + encodeURIComponent(st.epoch) + "/machines/" + encodeURIComponent(id) + "/explain");
      renderExplanation(x);
      const t = $("explain-title");
      t.setAttribute("tabindex", "-1");
      t.focus();
    } catch (e) {
      F.clear($("explain-out"));
      F.showError(e);
    }
  }

  // ---- Loading ---------------------------------------------------------------------
  async function loadEpoch() {
    try {
      st.detail = await F.api("/v1/admin/epochs/" + encodeURIComponent(st.epoch));
    } catch (e) {
      if (!(e instanceof F.ApiError) || e.status !== 404) throw e;
      st.detail = null;
    }
    renderSummary(st.detail);
    renderTiers(st.detail);
    renderExcluded(st.detail);
    await loadDraws();
    document.body.dataset.epoch = st.epoch;
  }

  async function load() {
    const [base, epochs] = await Promise.all([F.api("/v1/admin/base-rewards"), F.api("/v1/admin/epochs")]);
    st.closed = String(base.epoch);
    st.period = String(base.period || "month");
    if (!st.month) st.month = st.closed.slice(0, 7);
    $("content").hidden = false;
    renderPool(base);
    renderEpochs(epochs.epochs || []);
    renderMonthSelect();
    await loadMonth();
    await loadEpoch();
  }

  /** Runs `fn` with the page marked busy; errors go to the alert region. */
  async function busy(fn) {
    document.body.dataset.state = "busy";
    document.body.setAttribute("aria-busy", "true");
    try {
      await fn();
    } catch (e) {
      F.showError(e);
    } finally {
      document.body.removeAttribute("aria-busy");
      document.body.dataset.state = "ready";
    }
  }

  async function runAction(kind) {
    const epoch = st.epoch;
    const name = F.month(epoch);
    const settle = kind === "settle";
    const answer = await F.confirmDialog({
      title: settle ? "Settle " + name + "?" : "Preview " + name + "?",
      message: settle
        ? "This credits the draws of " + name + " to provider accounts. It is idempotent: machines already paid this month are not paid again."
        : "This computes the plan for " + name + " and stores it as a preview. No money moves.",
      confirmLabel: settle ? "Settle " + epoch : "Preview " + epoch,
      danger: settle,
      offerForce: settle,
    });
    if (!answer.ok) {
      F.showStatus((settle ? "Settlement" : "Preview") + " cancelled; nothing changed.");
      return;
    }
    await busy(async () => {
      F.clearAlerts();
      const path = "/v1/admin/epochs/" + encodeURIComponent(epoch) + "/" + kind;
      const run = await F.api(path, { method: "POST", body: settle ? { force: answer.force } : {} });
      st.offset = 0;
      await load();
      F.showStatus(
        (settle ? "Settled " : "Previewed ") +
          name +
          " (run #" +
          run.run_id +
          "): granted " +
          F.usd(run.granted_total_micro_usd) +
          " to " +
          run.n_granted_shares +
          " share(s); " +
          run.n_eligible +
          " of " +
          run.n_machines +
          " machines eligible; unallocated " +
          F.usd(run.unallocated_micro_usd) +
          ".",
      );
    });
  }

  async function downloadCsv() {
    await busy(async () => {
      F.clearAlerts();
      const epoch = st.epoch;
      const text = await F.api("/v1/admin/epochs/" + encodeURIComponent(epoch) + "/draws?format=csv", { as: "text" });
      const link = $("csv-link");
      const n = Math.max(0, text.trim().split("\n").length - 1);
      link.dataset.rows = String(n);
      F.offerDownload(link, text, "draws-" + epoch + ".csv", "text/csv");
      F.showStatus("CSV of " + F.month(epoch) + " ready: " + n + " draw(s) in draws-" + epoch + ".csv.");
    });
  }

  function wire() {
    $("verify-button").addEventListener("click", () => verify());
    $("epoch-select").addEventListener("change", (e) => {
      st.epoch = e.target.value;
      st.offset = 0;
      F.clear($("explain-out"));
      renderVerify();
      $("csv-link").hidden = true;
      busy(loadEpoch);
    });
    $("page-size").addEventListener("change", (e) => {
      st.limit = Number(e.target.value) || 25;
      st.offset = 0;
      busy(loadDraws);
    });
    $("prev-page").addEventListener("click", () => {
      st.offset = Math.max(0, st.offset - st.limit);
      busy(loadDraws);
    });
    $("next-page").addEventListener("click", () => {
      if (!st.hasNext) return;
      st.offset += st.limit;
      busy(loadDraws);
    });
    $("preview-button").addEventListener("click", () => runAction("preview"));
    $("settle-button").addEventListener("click", () => runAction("settle"));
    $("csv-button").addEventListener("click", downloadCsv);
    $("month-csv-button").addEventListener("click", downloadMonthCsv);
    $("month-select").addEventListener("change", (e) => {
      st.month = e.target.value;
      st.monthOffset = 0;
      $("month-csv-link").hidden = true;
      busy(loadMonth);
    });
    $("month-prev").addEventListener("click", () => {
      st.monthOffset = Math.max(0, st.monthOffset - st.monthLimit);
      busy(loadMonth);
    });
    $("month-next").addEventListener("click", () => {
      st.monthOffset += st.monthLimit;
      busy(loadMonth);
    });
    $("explain-form").addEventListener("submit", (e) => {
      e.preventDefault();
      explain($("explain-machine").value);
    });
    st.limit = Number($("page-size").value) || 25;
  }

  wire();
  F.session(load);
})();
