// floorline provider page: the signed-in account's machines (tier, verified
// memory, uptime against the gate, each gate, the live estimate), settled
// months and the tier table. Calls /v1/provider/* only; the API answers for
// the key's own account, so nothing here can show another account.
"use strict";

(function () {
  const F = window.floorline;
  const { el, $ } = F;

  /** Gate names and what a failure means, in the API's gate order. */
  const GATES = {
    attested: ["Attested", "Needs an attestation before the month ends, at the minimum trust level."],
    memory_tier: ["Memory tier", "Verified memory is under 24 GB: usage-only, no earnings floor."],
    uptime: ["Uptime above the line", "Uptime must be above the line for the month; it is below it."],
    proven_work: ["Proven work", "Needs an organic job or a passed correctness probe in the recent work window."],
    payout_account: ["Payout account", "Needs a payout account bound while the machine is available."],
  };

  const PROMISE_MIN_GB = 64;

  function tierLabel(tiers, minGb) {
    const i = tiers.findIndex((t) => t.min_gb === minGb);
    const next = tiers[i + 1];
    return next ? minGb + "–" + (next.min_gb - 1) + " GB" : minGb + " GB and up";
  }

  function gateList(m, periodic) {
    const list = el("ul", { class: "gates", "aria-label": "Gates for " + m.machine_id });
    for (const g of m.gates) {
      const [name, why] = GATES[g.gate] || [g.gate, ""];
      let text = why;
      if (g.gate === "uptime") text = "Uptime must be above " + F.pct(m.uptime_line_ppm) + " of the " + (periodic ? "period" : "month") + ".";
      list.append(
        el(
          "li",
          { class: g.passed ? "gate-pass" : "gate-fail", "data-gate": g.gate, "data-passed": String(g.passed) },
          el("span", { class: "gate-icon", "aria-hidden": "true" }, g.passed ? "✓" : "✗"),
          el("span", {}, el("span", { class: "gate-name" }, name), " — ", el("span", { class: "gate-status" }, g.passed ? "passed" : "failed")),
          g.passed ? null : el("span", { class: "gate-why" }, text + " ", el("code", {}, g.reason)),
        ),
      );
    }
    return list;
  }

  function machineCard(m, data) {
    const est = m.estimate;
    const headId = "h-" + m.machine_id;
    const card = el("article", { class: "panel machine", id: "machine-" + m.machine_id, "data-machine": m.machine_id, "aria-labelledby": headId });
    card.append(
      el(
        "h3",
        { id: headId },
        el("span", { class: "mono" }, m.machine_id),
        el("span", { class: "model" }, m.hardware_model),
        m.usage_only
          ? el("span", { class: "badge badge-info" }, "Usage-only")
          : m.eligible
            ? el("span", { class: "badge badge-ok" }, "Eligible so far")
            : el("span", { class: "badge badge-bad" }, "Not eligible so far"),
      ),
    );
    const tier = m.usage_only
      ? el("span", { class: "tier" }, "Usage-only (under 24 GB): no earnings floor; it earns from jobs only.")
      : el("span", { class: "tier" }, tierLabel(data.tiers, m.tier_min_gb) + " tier — earnings floor ", F.money(m.tier_floor_micro_usd), " a month");
    card.append(
      el(
        "dl",
        { class: "kv" },
        el("dt", {}, "Status"),
        el(
          "dd",
          { class: "live-status", "data-online": String(!!m.online) },
          m.online
            ? el("span", { class: "badge badge-ok" }, "Online")
            : el("span", { class: "badge badge-info" }, "Offline"),
          " ",
          m.last_seen_at ? (m.online ? "last heartbeat " : "last seen ") + F.when(m.last_seen_at) : "not seen in " + F.month(est.epoch),
        ),
        el("dt", {}, "Tier"),
        el("dd", {}, tier),
        el("dt", {}, "Verified memory"),
        el(
          "dd",
          {},
          el("strong", {}, m.verified_memory_gb + " GB"),
          " (reported " + m.reported_memory_gb + " GB)",
          el("br"),
          el("span", { class: "small muted verified-because" }, "Why: " + m.verified_because),
        ),
      ),
    );
    if (m.tier_min_gb !== null && m.tier_min_gb >= PROMISE_MIN_GB) {
      card.append(el("p", { class: "promise" }, "64 GB+ machine: while eligible, its earnings floor covers a streaming subscription."));
    }

    const periods = data.month && data.month.period !== "month";
    card.append(el("h4", {}, periods ? "Uptime so far this period" : "Uptime so far this month"));
    const ok = m.uptime_so_far_ppm > m.uptime_line_ppm;
    card.append(
      F.bar({
        value: m.uptime_so_far_ppm,
        max: 1000000,
        line: m.uptime_line_ppm,
        lineLabel: F.pct(m.uptime_line_ppm).replace(".00 ", " ") + " line",
        cls: ok ? "ok" : "bad",
        label: "Uptime so far " + F.pct(m.uptime_so_far_ppm) + "; the floor needs more than " + F.pct(m.uptime_line_ppm),
      }),
      el(
        "p",
        { class: "bar-caption uptime" },
        el("strong", {}, F.pct(m.uptime_so_far_ppm)),
        " so far in " + F.month(est.epoch) + " — " + (ok ? "above" : "not above") + " the " + F.pct(m.uptime_line_ppm) + " line.",
      ),
      el(
        "p",
        { class: "bar-caption reachable", "data-reachable": String(m.uptime_reachable_ppm) },
        "If it stays up from now, it can still reach ",
        el("strong", {}, F.pct(m.uptime_reachable_ppm)),
        " this " + (periods ? "period" : "month") + (m.uptime_reachable_ppm > m.uptime_line_ppm ? "." : ", not above the line: it cannot pass the uptime gate this " + (periods ? "period." : "month.")),
      ),
    );

    card.append(el("h4", {}, "Gates"), gateList(m, periods));

    if (periods) {
      const accrued = (data.month.base_accrued_by_machine || {})[m.machine_id] || 0;
      card.append(el("h4", {}, "Base this month"));
      card.append(
        el(
          "p",
          { class: "month-accrued", "data-accrued": String(accrued) },
          el("strong", {}, F.money(accrued)),
          " accrued in the settled periods of " + F.month(data.month.month) + ", plus ",
          F.money(est.estimated_base_micro_usd),
          " estimated for the open period.",
        ),
      );
    }
    card.append(el("h4", {}, "Estimate for " + F.month(est.epoch) + " ", el("span", { class: "badge badge-est" }, "Estimate")));
    card.append(
      F.stats([
        ["Floor at this uptime", F.money(est.floor_micro_usd), m.eligible ? null : "paid only while eligible"],
        ["Organic earnings", F.money(est.earned_micro_usd)],
        ["Base (floor draw)", F.money(est.estimated_base_micro_usd), m.eligible ? null : "0 while not eligible"],
        ["Payout", F.money(est.estimated_payout_micro_usd), "earned + base, estimated"],
      ]),
    );
    if (est.note && est.note !== data.note) card.append(el("p", { class: "small muted" }, est.note));

    card.append(el("h4", {}, "Settled months"));
    card.append(el("div", { class: "machine-history", "data-for": m.machine_id }, el("p", { class: "muted small" }, "Loading…")));
    return card;
  }

  function historyTable(rows, caption, short) {
    return F.table({
      caption,
      columns: [
        { key: "epoch", label: "Month", rowHeader: true, cls: "nowrap", render: (r) => F.month(r.epoch, short) },
        { key: "earned_micro_usd", label: short ? "Earned" : "Organic earnings", num: true, render: (r) => F.money(r.earned_micro_usd) },
        { key: "base_micro_usd", label: short ? "Base" : "Base (floor draw)", num: true, render: (r) => F.money(r.base_micro_usd) },
        { key: "payout_micro_usd", label: "Payout", num: true, render: (r) => F.money(r.payout_micro_usd) },
      ],
      rows,
      empty: "No settled months yet: a month is settled after it closes.",
    });
  }

  function renderHistory(history, data) {
    const settled = history.slice().sort((a, b) => String(a.epoch).localeCompare(String(b.epoch)));
    const machines = data.machines;
    const estEarned = machines.reduce((s, m) => s + m.estimate.earned_micro_usd, 0);
    const estBase = machines.reduce((s, m) => s + m.estimate.estimated_base_micro_usd, 0);
    const cats = settled.map((h) => ({ label: F.month(h.epoch, true) }));
    cats.push({ label: F.month(data.epoch, true), estimate: true });
    const chart = $("history-chart");
    F.stackedBars(chart, {
      title: "Payout by month: organic earnings plus base",
      desc: settled.length + " settled month(s) and the open month " + F.month(data.epoch) + " as an estimate.",
      categories: cats,
      series: [
        { name: "Organic earnings", cls: "s-earned", values: settled.map((h) => h.earned_micro_usd).concat([estEarned]) },
        { name: "Base (floor draw)", cls: "s-base", values: settled.map((h) => h.base_micro_usd).concat([estBase]) },
      ],
      fmt: (v) => F.usd(v).replace(/\.00$/, ""),
    });
    const box = F.clear($("history-table"));
    box.append(historyTable(settled.slice().reverse(), "Settled months, newest first (" + machines.length + " machine(s) on this account)"));
  }

  /** This month so far: base of the settled periods plus the open period's estimate. */
  function renderMonth(mo) {
    const box = F.clear($("month-so-far"));
    if (!mo) return;
    const periods = mo.period !== "month";
    box.dataset.period = mo.period;
    box.append(
      el("h3", {}, "Base in " + F.month(mo.month) + " so far"),
      F.stats([
        ["Settled periods", F.money(mo.base_accrued_micro_usd), periods ? "base already credited this month" : "the month is settled after it closes"],
        [periods ? "Open period (" + F.month(mo.open_period) + ")" : "Open month", F.money(mo.open_period_estimate_micro_usd), "estimate"],
        ["So far", F.money(mo.base_so_far_micro_usd), "settled + open estimate"],
      ]),
    );
  }

  function renderTiers(tiers) {
    const rows = [{ min_gb: null }].concat(tiers);
    const box = F.clear($("tiers"));
    box.append(
      F.table({
        caption: "Monthly earnings floor by verified memory: a baseline while eligible, not a guarantee.",
        columns: [
          { key: "min_gb", label: "Verified memory", rowHeader: true, render: (t) => (t.min_gb === null ? "Under " + (tiers[0] ? tiers[0].min_gb : 24) + " GB" : tierLabel(tiers, t.min_gb)) },
          { key: "floor_micro_usd", label: "Earnings floor / month", num: true, render: (t) => (t.min_gb === null ? "none" : F.money(t.floor_micro_usd)) },
          {
            key: "notes",
            label: "Notes",
            cls: "wide",
            render: (t) => {
              if (t.min_gb === null) return "Usage-only: earns from jobs, no floor.";
              const notes = [];
              if (t.workhorse) notes.push("Workhorse tier: topped up first from a reserved part of the pool.");
              if (t.min_gb >= PROMISE_MIN_GB) notes.push("64 GB+: the floor covers a streaming subscription.");
              return notes.join(" ") || "—";
            },
          },
        ],
        rows,
      }),
    );
  }

  async function loadDetails(machines) {
    const jobs = machines.map(async (m) => {
      const box = document.querySelector('.machine-history[data-for="' + CSS.escape(m.machine_id) + '"]');
      try {
        const d = await F.api("/v1/provider/machines/" + encodeURIComponent(m.machine_id));
        F.clear(box).append(historyTable((d.history || []).slice().reverse(), "Settled months of " + m.machine_id + ": earned + base = payout", true));
      } catch (e) {
        F.clear(box).append(el("p", { class: "muted small" }, "Could not load the settled months."));
        F.showError(e);
      }
    });
    await Promise.all(jobs);
    document.body.dataset.details = "done";
  }

  async function load() {
    document.body.dataset.details = "loading";
    const [data, hist] = await Promise.all([F.api("/v1/provider/machines"), F.api("/v1/provider/history")]);
    $("account-line").textContent =
      "Account " + data.account_id + " · " + data.machines.length + " machine(s) · open " + (data.month && data.month.period !== "month" ? "period " : "month ") + F.month(data.epoch) + ".";
    $("estimate-note").textContent = data.note;
    renderMonth(data.month);
    const list = F.clear($("machines"));
    if (!data.machines.length) list.append(el("p", { class: "muted" }, "No machines are bound to this account yet."));
    for (const m of data.machines) list.append(machineCard(m, data));
    $("content").hidden = false;
    renderHistory(hist.history || [], data);
    renderTiers(data.tiers || []);
    loadDetails(data.machines);
  }

  F.session(load);
})();
