// Charts: time series with uPlot (installed by npm, served by the app) and a topic x time
// heatmap drawn on a canvas. Series colours are fixed per topic name, so a topic keeps its
// colour across charts and refreshes.
"use strict";

const Charts = (() => {
  const palette = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939", "#8c6d31", "#843c39", "#7b4173",
    "#3182bd", "#e6550d", "#31a354", "#756bb1",
  ];

  function colour(name) {
    let h = 0;
    for (const ch of name) h = (h * 31 + ch.codePointAt(0)) >>> 0;
    return palette[h % palette.length];
  }

  function seconds(isoList) {
    return isoList.map((iso) => Date.parse(iso) / 1000);
  }

  // One uPlot per container, rebuilt when the series change, otherwise fed new data.
  const charts = new WeakMap();

  function line(container, x, series, opts) {
    const o = opts || {};
    const key = series.map((s) => s.label).join("\u0000");
    const data = [x, ...series.map((s) => s.values)];
    const existing = charts.get(container);
    if (existing && existing.key === key) {
      existing.plot.setData(data);
      existing.plot.redraw();
      return existing.plot;
    }
    if (existing) existing.plot.destroy();
    const width = Math.max(300, container.clientWidth || 600);
    const plot = new uPlot(
      {
        width,
        height: o.height || 260,
        scales: { x: { time: true }, y: o.yRange ? { range: o.yRange } : {} },
        axes: [
          {},
          { values: o.percent ? (_u, ticks) => ticks.map((t) => `${Math.round(t * 100)}%`) : undefined, size: 60 },
        ],
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.colour || colour(s.label),
            width: s.width || 1.5,
            fill: s.fill,
            // A bucket where nothing was published has no share: join its neighbours.
            spanGaps: o.spanGaps !== false,
            points: { show: false },
            value: o.percent ? (_u, v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`) : undefined,
          })),
        ],
        legend: { show: o.legend !== false },
        hooks: o.hooks || {},
      },
      data,
      container,
    );
    container.dataset.drawn = String(x.length);
    charts.set(container, { key, plot });
    return plot;
  }

  // Negative share as colour: white (0%) to red (100%); nothing published: background.
  function heatmap(canvas, x, rows) {
    const ctx = canvas.getContext("2d");
    const labelW = 200;
    const rowH = 18;
    const width = Math.max(400, canvas.parentElement.clientWidth - 20);
    canvas.width = width;
    canvas.height = Math.max(40, rows.length * rowH + 24);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = "12px sans-serif";
    ctx.textBaseline = "middle";
    const cellW = (width - labelW) / Math.max(1, x.length);
    let painted = 0;
    rows.forEach((row, r) => {
      ctx.fillStyle = "#222";
      ctx.fillText(row.topic.slice(0, 30), 4, r * rowH + rowH / 2);
      row.share.forEach((v, i) => {
        if (v === null || v === undefined) return;
        const g = Math.round(255 * (1 - v));
        ctx.fillStyle = `rgb(255, ${g}, ${g})`;
        ctx.fillRect(labelW + i * cellW, r * rowH + 1, Math.ceil(cellW), rowH - 2);
        painted += 1;
      });
    });
    ctx.fillStyle = "#555";
    if (x.length) {
      const y = rows.length * rowH + 12;
      ctx.fillText(new Date(x[0] * 1000).toLocaleString(), labelW, y);
      const last = new Date(x[x.length - 1] * 1000).toLocaleString();
      ctx.fillText(last, width - ctx.measureText(last).width - 4, y);
    }
    canvas.dataset.cells = String(painted);
  }

  // Vertical lines at the given times, for the alert chart's start / fire / end.
  function marks(times) {
    return {
      draw: [
        (u) => {
          const { ctx } = u;
          for (const m of times) {
            if (m.at === null) continue;
            const xPos = u.valToPos(m.at, "x", true);
            ctx.save();
            ctx.strokeStyle = m.colour;
            ctx.lineWidth = 2 * devicePixelRatio;
            ctx.setLineDash([6, 4]);
            ctx.beginPath();
            ctx.moveTo(xPos, u.bbox.top);
            ctx.lineTo(xPos, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.restore();
          }
        },
      ],
    };
  }

  return { line, heatmap, marks, seconds, colour };
})();
