// The gateway's dashboard: reads /api/dashboard with the admin key and draws its charts as SVG.
// No libraries and no network beyond the gateway itself.
(() => {
  "use strict";
  const svgNs = "http://www.w3.org/2000/svg";
  const colors = { routed: "var(--routed)", long_context: "var(--lc)", rag: "var(--rag)", hybrid: "var(--hybrid)", none: "#94a3b8", expected: "#94a3b8", measured: "#0f766e" };
  const $ = id => document.getElementById(id);
  const usd = v => v == null ? "—" : "$" + Number(v).toFixed(Math.abs(v) < 0.01 ? 6 : 2);
  const pct = v => v == null ? "—" : (100 * v).toFixed(1) + " %";

  function el(name, attrs, parent, text) {
    const node = document.createElementNS(svgNs, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function clear(svg) { while (svg.firstChild) svg.removeChild(svg.firstChild); return svg; }

  function legend(svg, entries, x, y) {
    const g = el("g", { class: "legend" }, svg);
    entries.forEach(([name, color], i) => {
      el("rect", { x: x + i * 130, y, width: 10, height: 10, fill: color }, g);
      el("text", { x: x + i * 130 + 14, y: y + 9 }, g, name);
    });
  }

  // Grouped bars: groups [{label, values: {series: number}}]; every bar carries its series and value.
  function bars(svg, groups, series, options = {}) {
    clear(svg);
    const [w, h] = [svg.viewBox.baseVal.width, svg.viewBox.baseVal.height];
    const [left, bottom, top] = [48, 28, 22];
    const max = options.max ?? Math.max(1e-12, ...groups.flatMap(g => series.map(s => g.values[s] ?? 0)));
    const width = (w - left - 8) / Math.max(groups.length, 1);
    const barWidth = Math.max(2, (width - 6) / series.length);
    el("line", { x1: left, y1: h - bottom, x2: w, y2: h - bottom, stroke: "#cbd5e1" }, svg);
    el("text", { x: 2, y: top + 4 }, svg, options.format ? options.format(max) : max.toPrecision(2));
    groups.forEach((g, i) => {
      series.forEach((s, j) => {
        const value = g.values[s] ?? 0;
        const height = (h - bottom - top) * value / max;
        el("rect", { x: left + i * width + j * barWidth + 3, y: h - bottom - height, width: barWidth - 1, height, fill: colors[s] ?? "#64748b", "data-series": s, "data-group": g.label, "data-value": value }, svg)
          .appendChild(el("title", {}, null, `${g.label} ${s}: ${options.format ? options.format(value) : value}`));
      });
      el("text", { x: left + i * width + 3, y: h - bottom + 12 }, svg, g.label);
    });
    legend(svg, series.map(s => [options.names?.[s] ?? s, colors[s] ?? "#64748b"]), left, 4);
  }

  // Lines: series [{name, color, points: [[x, y]]}] with x on a log scale when asked.
  function lines(svg, series, options) {
    clear(svg);
    const [w, h] = [svg.viewBox.baseVal.width, svg.viewBox.baseVal.height];
    const [left, bottom, top] = [40, 26, 24];
    const xs = series.flatMap(s => s.points.map(p => p[0]));
    const ys = series.flatMap(s => s.points.map(p => p[1]));
    const fx = options.log ? Math.log10 : v => v;
    const [x0, x1] = [fx(Math.min(...xs)), fx(Math.max(...xs))];
    const y1 = options.maxY ?? Math.max(1e-12, ...ys);
    const X = v => left + (w - left - 8) * (x1 === x0 ? 0.5 : (fx(v) - x0) / (x1 - x0));
    const Y = v => h - bottom - (h - bottom - top) * v / y1;
    el("line", { x1: left, y1: h - bottom, x2: w, y2: h - bottom, stroke: "#cbd5e1" }, svg);
    el("text", { x: 2, y: top + 4 }, svg, options.formatY(y1));
    el("text", { x: left, y: h - 8 }, svg, options.formatX(Math.min(...xs)));
    el("text", { x: w - 60, y: h - 8 }, svg, options.formatX(Math.max(...xs)));
    series.forEach(s => {
      el("polyline", { points: s.points.map(p => `${X(p[0])},${Y(p[1])}`).join(" "), fill: "none", stroke: s.color, "stroke-width": 2, "stroke-dasharray": s.dashed ? "4 3" : "", "data-series": s.name, "data-points": s.points.length }, svg);
      s.points.forEach(p => el("circle", { cx: X(p[0]), cy: Y(p[1]), r: 2, fill: s.color, "data-series": s.name, "data-value": p[1] }, svg));
    });
    legend(svg, series.slice(0, 3).map(s => [s.name, s.color]), left, 4);
  }

  async function api(path) {
    const response = await fetch(path, { headers: { Authorization: "Bearer " + $("key").value } });
    const body = await response.json();
    if (!response.ok) throw new Error(body?.error?.message ?? response.statusText);
    return body;
  }

  function cards(s) {
    const c = $("cards");
    c.innerHTML = "";
    const entries = [
      ["Routed (actual)", usd(s.cost.routed_actual_usd)],
      ["Had all gone long context", usd(s.cost.all_long_context_usd)],
      ["Had all gone RAG", usd(s.cost.all_rag_usd)],
      ["Saved against long context", usd(s.cost.savings_vs_long_context_usd)],
      ["Requests answered", String(s.answered)],
      ["Hybrid escalated", s.hybrid.requests ? `${s.hybrid.escalated} of ${s.hybrid.requests}` : "—"],
    ];
    for (const [label, value] of entries) {
      const card = document.createElement("div");
      card.className = "card";
      card.innerHTML = `<div class="value"></div><div class="label"></div>`;
      card.querySelector(".value").textContent = value;
      card.querySelector(".label").textContent = label;
      c.appendChild(card);
    }
  }

  function budget(s) {
    const b = s.budget;
    $("budget-note").textContent = b.monthly_usd == null
      ? `No monthly budget; spent this month ${usd(b.month_spent_usd)}, projected ${usd(b.projected_month_usd)}.`
      : `Monthly budget ${usd(b.monthly_usd)}: spent ${usd(b.month_spent_usd)}, ${usd(b.month_remaining_usd)} left, month-end projection ${usd(b.projected_month_usd)}.`;
    const end = new Date(s.until);
    const monthStart = Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), 1) / 864e5;
    const monthEnd = Date.UTC(end.getUTCFullYear(), end.getUTCMonth() + 1, 1) / 864e5;
    // Cumulative spend from the first of the month (nothing spent then), one point per day with spend.
    const points = [[monthStart, 0], ...b.burn_down.map(d => [Date.parse(d.date) / 864e5 + 1, Number(d.spent_usd)])];
    const series = [{ name: "spent", color: colors.routed, points }, { name: "projection", color: "#f59e0b", dashed: true, points: [[points[points.length - 1][0], points[points.length - 1][1]], [monthEnd, Number(b.projected_month_usd)]] }];
    if (b.monthly_usd != null) series.push({ name: "budget", color: colors.long_context, points: [[monthStart, Number(b.monthly_usd)], [monthEnd, Number(b.monthly_usd)]] });
    lines($("budget-chart"), series, { formatX: d => new Date(d * 864e5).toISOString().slice(0, 10), formatY: usd, maxY: Math.max(...series.flatMap(x => x.points.map(p => p[1]))) * 1.1 || 1 });
  }

  function decisions(s) {
    const body = $("decisions").querySelector("tbody");
    body.innerHTML = "";
    for (const d of s.latest) {
      const row = document.createElement("tr");
      row.dataset.id = d.id;
      for (const value of [d.created_at.slice(0, 19).replace("T", " "), d.route ?? "—", d.candidate ?? "—", d.status, usd(d.estimated_cost_usd), usd(d.actual_cost_usd), pct(d.expected_recall)]) {
        const cell = document.createElement("td");
        cell.textContent = value;
        row.appendChild(cell);
      }
      row.addEventListener("click", async () => {
        const detail = await api(`/api/dashboard/decisions/${d.id}?tenant=${encodeURIComponent(s.tenant)}`);
        $("detail").hidden = false;
        $("detail-id").textContent = detail.id;
        $("detail-explanation").textContent = detail.explanation;
        $("detail-json").textContent = JSON.stringify(detail.decision, null, 2);
      });
      body.appendChild(row);
    }
  }

  async function show() {
    $("status").textContent = "Loading…";
    try {
      const tenantSelect = $("tenant");
      if (!tenantSelect.options.length) {
        const { tenants } = await api("/api/dashboard/tenants");
        for (const t of tenants) tenantSelect.add(new Option(t, t));
      }
      const s = await api(`/api/dashboard/summary?tenant=${encodeURIComponent(tenantSelect.value)}&days=${$("days").value}`);
      sessionStorage.setItem("lcg-admin-key", $("key").value);
      $("content").hidden = false;
      cards(s);
      bars($("cost-chart"), s.cost.daily.map(d => ({ label: d.date.slice(5), values: { routed: Number(d.routed_estimated_usd), long_context: Number(d.all_long_context_usd), rag: Number(d.all_rag_usd) } })), ["routed", "long_context", "rag"], { format: usd, names: { routed: "routed", long_context: "all long context", rag: "all RAG" } });
      bars($("route-chart"), [{ label: "requests", values: s.routes }], Object.keys(s.routes), { format: v => String(Math.round(v)) });
      bars($("recall-chart"), s.recall.map(r => ({ label: `${r.route} ${r.bucket}`, values: { expected: r.expected_recall ?? 0, measured: r.measured_recall ?? 0 } })), ["expected", "measured"], { format: pct, max: 1 });
      budget(s);
      const palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#f59e0b", "#0891b2"];
      lines($("curves-chart"), s.curves.map((c, i) => ({ name: `${c.model} (${c.curve})`, color: palette[i % palette.length], points: c.points.map(p => [p.tokens, p.recall]) })), { log: true, maxY: 1, formatX: t => t >= 1e6 ? (t / 1e6) + "M" : (t / 1e3) + "K", formatY: pct });
      decisions(s);
      $("status").textContent = `${s.tenant}: ${s.decisions} decisions since ${s.since.slice(0, 10)}.`;
      document.body.dataset.loaded = "true";
    } catch (e) {
      $("status").textContent = "Could not load the dashboard: " + e.message;
    }
  }

  $("controls").addEventListener("submit", e => { e.preventDefault(); show(); });
  $("tenant").addEventListener("change", show);
  const saved = sessionStorage.getItem("lcg-admin-key");
  if (saved) { $("key").value = saved; show(); }
})();
