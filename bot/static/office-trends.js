// Weekly trend charts and the workload bars on the trends page (trends.html); the page puts the data
// in #trends-data. One line per town (or village), the total bold and dark, the week in progress
// dashed on a grey band. One legend above all the charts shows or hides a line everywhere.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("trends-data").textContent);
  const weeks = data.weeks;
  const current = weeks.findIndex((w) => w.inProgress);
  const labels = weeks.map((w) => w.label);
  const PALETTE = ["#1c7ed6", "#e8590c", "#2b8a3e", "#ae3ec9", "#f08c00", "#0c8599", "#c2255c", "#5c940d",
                   "#7048e8", "#a61e4d", "#1098ad", "#d9480f"];
  const TOTAL_COLOR = "#1f2328";
  const colour = (index) => (index === 0 ? TOTAL_COLOR : PALETTE[(index - 1) % PALETTE.length]);
  const totalName = data.series[0].name;
  const charts = [];
  const measures = new Map(data.measures.map((m) => [m.key, m]));
  const shown = new Map(data.series.map((s) => [s.name, true]));

  function format(value, measure) {
    if (value === null || value === undefined) return "—";
    return value.toFixed(measure.digits) + (measure.unit === "%" ? "%" : " " + measure.unit);
  }

  function tooltip(measure) {
    return function (items) {
      if (!items.length) return "";
      const week = weeks[items[0].dataIndex];
      const seen = new Set();
      const rows = [];
      for (const item of items) {
        // The week in progress and the one before it appear in both the solid and the dashed line.
        if (seen.has(item.seriesName) || item.value === null || item.value === undefined) continue;
        seen.add(item.seriesName);
        rows.push(item);
      }
      rows.sort((a, b) => (b.seriesName === totalName) - (a.seriesName === totalName) || b.value - a.value);
      const limit = 12;
      const lines = rows.slice(0, limit).map((item) =>
        `${item.marker}${item.seriesName}：<b>${format(item.value, measure)}</b>`);
      if (rows.length > limit) lines.push(`…另有 ${rows.length - limit} 条线`);
      const head = `${week.start} 至 ${week.end}${week.inProgress ? "（本周，进行中）" : ""}`;
      return [head, ...(lines.length ? lines : ["无数据"])].join("<br>");
    };
  }

  // Counts of a whole city dwarf each town's: there the total gets an axis of its own, on the right.
  const split = (measure) => measure.count && data.series.length > 2;
  // With many lines each one is fainter, so that the total and the line pointed at stand out.
  const faint = data.series.length > 8 ? 0.5 : 0.85;

  function lines(measure, key) {
    const out = [];
    data.series.forEach((s, index) => {
      const values = s[key];
      const common = {
        name: s.name, type: "line", color: colour(index), z: s.total ? 5 : 2,
        yAxisIndex: s.total && split(measure) ? 1 : 0,
        symbol: "circle", symbolSize: s.total ? 6 : 4, showSymbol: s.total || data.series.length <= 6,
        emphasis: { focus: "series", lineStyle: { opacity: 1, width: s.total ? 4 : 2.5 } },
        blur: { lineStyle: { opacity: 0.12 }, itemStyle: { opacity: 0.12 } },
      };
      const width = s.total ? 3.5 : 1.5;
      const opacity = s.total ? 1 : faint;
      out.push({ ...common, data: values.map((v, w) => (w === current ? null : v)), lineStyle: { width, opacity } });
      if (current > 0) {
        out.push({ ...common, data: values.map((v, w) => (w >= current - 1 ? v : null)),
                   lineStyle: { width, type: "dashed", opacity } });
      }
    });
    if (current > 0) {
      // The grey band runs from last week's point to this week's, under the dashed part of the lines.
      out[0].markArea = {
        silent: true, itemStyle: { color: "rgba(140, 149, 159, 0.16)" },
        label: { show: true, position: "insideTopRight", color: "#57606a", fontSize: 11, formatter: "本周" },
        data: [[{ xAxis: labels[current - 1] }, { xAxis: labels[current] }]],
      };
    }
    return out;
  }

  function draw(box, measure, key) {
    const chart = echarts.init(box);
    const percent = measure.unit === "%";
    chart.setOption({
      animationDuration: 500,
      grid: { left: 8, right: 14, top: split(measure) ? 36 : 26, bottom: 6, containLabel: true },
      legend: { show: false, data: data.series.map((s) => s.name) },
      tooltip: { trigger: "axis", confine: true, formatter: tooltip(measure) },
      xAxis: { type: "category", data: labels, boundaryGap: false, axisLabel: { color: "#57606a" } },
      yAxis: [{
        type: "value", min: measure.min, max: measure.max, minInterval: measure.digits ? 0 : 1,
        axisLabel: { color: "#57606a", formatter: percent ? "{value}%" : "{value}" },
        splitLine: { lineStyle: { color: "#eef1f4" } },
      }].concat(split(measure) ? [{
        type: "value", minInterval: 1, name: totalName, nameTextStyle: { color: TOTAL_COLOR, fontWeight: "bold" },
        axisLabel: { color: TOTAL_COLOR }, splitLine: { show: false },
      }] : []),
      series: lines(measure, key),
    });
    charts.push(chart);
    return chart;
  }

  document.querySelectorAll(".chart-box[data-measure]").forEach((box) => {
    const measure = measures.get(box.dataset.measure);
    const chart = draw(box, measure, measure.key);
    const buttons = box.parentElement.querySelectorAll("button[data-variant]");
    buttons.forEach((button) => button.addEventListener("click", () => {
      buttons.forEach((b) => b.classList.toggle("on", b === button));
      chart.setOption({ series: lines(measure, button.dataset.variant) }, { replaceMerge: ["series"] });
    }));
  });

  // One legend for every chart: a chip per line; a click shows or hides that line everywhere.
  const legend = document.getElementById("trend-legend");
  function show(name, on) {
    shown.set(name, on);
    charts.forEach((chart) => chart.dispatchAction({ type: on ? "legendSelect" : "legendUnSelect", name }));
    const chip = legend && legend.querySelector(`button[data-name="${CSS.escape(name)}"]`);
    if (chip) chip.setAttribute("aria-pressed", String(on));
  }
  if (legend) {
    data.series.forEach((s, index) => {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.dataset.name = s.name;
      chip.className = s.total ? "chip total" : "chip";
      chip.setAttribute("aria-pressed", "true");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colour(index);
      chip.append(swatch, s.name);
      chip.addEventListener("click", () => show(s.name, !shown.get(s.name)));
      legend.append(chip);
    });
    document.querySelectorAll("button[data-legend]").forEach((button) => button.addEventListener("click", () => {
      data.series.forEach((s) => show(s.name, button.dataset.legend === "all" || s.total));
    }));
  }

  // The most loaded assistants: each of their three loads as a share of its limit, so whichever
  // limit someone passes shows; the names of those over any limit in red.
  const loadBox = document.getElementById("load-chart");
  if (loadBox && data.load.length) {
    loadBox.style.height = `${Math.max(data.load.length * 40 + 70, 170)}px`;
    const loadChart = echarts.init(loadBox);
    const kinds = [
      { key: "people", name: "服务对象", unit: "人", color: "#1d4e89" },
      { key: "open", name: "在办求助", unit: "件", color: "#e8590c" },
      { key: "overdue", name: "超期未走访", unit: "人", color: "#ae3ec9" },
    ];
    const share = (row, kind) => Math.round((row[kind.key] / Math.max(data.limits[kind.key], 1)) * 100);
    loadChart.setOption({
      animationDuration: 500,
      title: { text: "负担最重的协理员（占上限的比例）", textStyle: { fontSize: 14, color: "#1f2328" }, left: 0, top: 0 },
      legend: { top: 24, left: 0, itemWidth: 12, itemHeight: 8, textStyle: { fontSize: 12 } },
      grid: { left: 8, right: 56, top: 52, bottom: 6, containLabel: true },
      tooltip: {
        trigger: "axis", axisPointer: { type: "shadow" }, confine: true,
        formatter: (items) => {
          const row = data.load[items[0].dataIndex];
          const parts = kinds.map((kind) => `${kind.name}：${row[kind.key]} ${kind.unit}（上限 ${data.limits[kind.key]}）`);
          return [`${row.name}${row.overloaded ? "（负担过重）" : ""}`, ...parts].join("<br>");
        },
      },
      xAxis: { type: "value", max: (extent) => Math.ceil((Math.max(extent.max, 100) * 1.1) / 20) * 20,
               axisLabel: { color: "#57606a", formatter: "{value}%" }, splitLine: { lineStyle: { color: "#eef1f4" } } },
      yAxis: {
        type: "category", inverse: true, data: data.load.map((row) => row.name),
        axisLabel: {
          width: 130, overflow: "truncate",
          formatter: (name, index) => (data.load[index].overloaded ? `{over|${name}}` : name),
          rich: { over: { color: "#c92a2a", fontWeight: "bold" } },
        },
      },
      series: kinds.map((kind, index) => ({
        name: kind.name, type: "bar", barMaxWidth: 9, barGap: "20%", color: kind.color,
        data: data.load.map((row) => share(row, kind)),
        label: { show: true, position: "right", fontSize: 10, color: "#57606a",
                 formatter: (item) => {
                   const count = data.load[item.dataIndex][kind.key];
                   return count ? `${count}${kind.unit}` : "";  // no label for nothing
                 } },
        markLine: index ? undefined : {
          silent: true, symbol: "none", lineStyle: { color: "#c92a2a", type: "dashed" },
          label: { formatter: "上限", color: "#c92a2a", position: "start" },
          data: [{ xAxis: 100 }],
        },
      })),
    });
    charts.push(loadChart);
  }

  window.addEventListener("resize", () => charts.forEach((chart) => chart.resize()));
})();
