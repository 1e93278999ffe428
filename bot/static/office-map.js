// The service map as a picture (map.html): an ECharts treemap of city → towns → villages, each box
// sized by the people served and coloured by its worst gap. The page puts the tree in #map-data; the
// colours are read from the legend's stylesheet (office.css), so the picture and its legend agree.
(function () {
  "use strict";
  const box = document.getElementById("map-chart");
  const source = document.getElementById("map-data");
  if (!box || !source) return;
  const { tree, gaps } = JSON.parse(source.textContent);
  if (!tree.value) {
    // Nobody to draw: an empty frame would look broken, so say so instead.
    const empty = document.createElement("p");
    empty.className = "chart-empty";
    empty.textContent = "暂无服务对象";
    box.replaceChildren(empty);
    box.classList.add("empty");
    return;
  }
  const styles = getComputedStyle(box);
  const colour = (gap) => styles.getPropertyValue(`--gap-${gap}`).trim();
  const ink = (gap) => styles.getPropertyValue(`--gap-${gap}-ink`).trim();
  // Shown rounded down, so that a place just under the target never reads as on it.
  const percent = (share) => (share === null ? "—" : `${Math.floor(share * 100)}%`);
  // Narrower than this, villages are too small to tap: show towns first, villages on a tap.
  const DRILL_BELOW = 600;
  const LINE = 17; // label line height, px
  // A4 landscape inside the print margins (office.css sets the same box for print).
  const PRINT = { width: 1060, height: 580 };

  // What the label says about a gap, short enough to sit in a box.
  function note(d) {
    if (d.gap === "unassigned") return `缺协理员 ${d.unassigned}人`;
    if (d.gap === "overloaded") return `超负荷 ${d.overloaded}名`;
    if (d.children) return d.gap === "coverage" ? `${d.behind}个村走访偏少` : "";
    return d.coverage === null ? "" : `走访 ${percent(d.coverage)}`;
  }

  // An ECharts data item coloured by its gap; a town's title bar takes its colour too.
  function dress(d) {
    const fill = colour(d.gap);
    const text = ink(d.gap);
    const item = { ...d, itemStyle: { color: fill }, label: { color: text } };
    if (d.children) {
      item.children = d.children.map(dress);
      item.upperLabel = { color: text, backgroundColor: fill };
    }
    return item;
  }

  // The box a place was given, once the treemap is laid out (null if unknown).
  function boxOf(p) {
    try {
      const node = chart.getModel().getSeriesByIndex(0).getData().tree.getNodeByDataIndex(p.dataIndex);
      return (node && node.getLayout()) || null;
    } catch (e) {
      return null;
    }
  }

  // As many lines as the box holds, larger in a large box; nothing in a box too small to read
  // (the tooltip says it all).
  function label(p) {
    const area = boxOf(p);
    const name = p.name.replace(/[{}|]/g, "");
    if (!area) return `{name|${name}}`;
    if (area.width < 42 || area.height < LINE + 8) return "";
    const big = area.width >= 160 && area.height >= 100;
    const lines = [`{${big ? "bigName" : "name"}|${name}}`, ...[`${p.value}人`, note(p.data)].filter(Boolean)
      .map((line) => (big ? `{big|${line}}` : line))];
    const room = Math.floor((area.height - 10) / (big ? 22 : LINE));
    return lines.slice(0, Math.max(1, room)).join("\n");
  }

  function tooltip(p) {
    const d = p.data;
    if (!d || !d.id) return "";
    const rows = [
      `${p.marker}<strong>${echarts.format.encodeHTML(d.name)}</strong>`,
      `服务对象：${d.value} 人`,
      `没有在岗协理员：${d.unassigned} 人`,
      `负担过重的协理员：${d.overloaded} 名`,
      `按计划走访覆盖率：${percent(d.coverage)}`,
    ];
    if (d.children) rows.push(`走访覆盖率低于目标的村（社区）：${d.behind} 个`);
    rows.push(`<em>${echarts.format.encodeHTML(gaps[d.gap])}</em>`);
    rows.push(d.url ? "点击查看名单" : "点击放大");
    return rows.join("<br>");
  }

  const drilling = () => box.clientWidth < DRILL_BELOW;
  const chart = echarts.init(box, null, { renderer: "svg" });
  let drill = drilling();

  chart.setOption({
    tooltip: { confine: true, formatter: tooltip },
    series: [{
      type: "treemap",
      name: tree.name,
      data: (tree.children || []).map(dress),
      top: 2, left: 0, right: 0, bottom: 34,
      roam: false,
      nodeClick: false,
      // Towns and their villages at once; on a phone, towns first.
      leafDepth: drill ? 1 : 2,
      drillDownIcon: "▶",
      animationDurationUpdate: 450,
      breadcrumb: {
        bottom: 4, height: 24, emptyItemWidth: 30,
        itemStyle: { color: "#1d4e89", borderColor: "#fff", textStyle: { color: "#fff", fontSize: 13 } },
        emphasis: { itemStyle: { color: "#2f6db3" } },
      },
      itemStyle: { borderColor: "#fff", borderWidth: 0, gapWidth: 1 },
      label: {
        show: true, position: "insideTopLeft", padding: [4, 5], fontSize: 13, lineHeight: LINE,
        overflow: "truncate", formatter: label,
        rich: {
          name: { fontSize: 14, fontWeight: "bold", lineHeight: LINE },
          bigName: { fontSize: 18, fontWeight: "bold", lineHeight: 24 },
          big: { fontSize: 15, lineHeight: 21 },
        },
      },
      upperLabel: {
        show: true, height: 24, padding: [0, 6], fontSize: 13, fontWeight: "bold", overflow: "truncate",
        formatter: (p) => [p.name, `${p.value}人`, note(p.data)].filter(Boolean).join("  "),
      },
      levels: [
        { itemStyle: { gapWidth: 3 }, upperLabel: { show: false } }, // the root: the page's heading names it
        { itemStyle: { borderColor: "#fff", borderWidth: 2, gapWidth: 1 } }, // towns
      ],
      emphasis: { itemStyle: { borderColor: "#1f2328" } },
    }],
  });

  // A village opens its page; a town zooms in (its own boxes, with the path to go back below).
  chart.on("click", (p) => {
    const d = p.data;
    if (p.selfType === "breadcrumb" || !d || !d.id) return;
    chart.dispatchAction({ type: "hideTip" }); // the box under the pointer is about to change
    if (d.url) {
      window.location.assign(d.url);
    } else if (d.children && d.children.length) {
      chart.dispatchAction({ type: "treemapRootToNode", seriesIndex: 0, targetNodeId: d.id });
    }
  });

  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      const wanted = drilling();
      if (wanted !== drill) {
        drill = wanted;
        chart.setOption({ series: [{ leafDepth: drill ? 1 : 2 }] });
      }
      chart.resize();
    });
  });

  // Print at A4 landscape's size, every village shown; then back to the screen's.
  let printing = false;
  function beforePrint() {
    if (printing) return;
    printing = true;
    chart.dispatchAction({ type: "hideTip" });
    if (drill) chart.setOption({ series: [{ leafDepth: 2 }] });
    chart.resize({ ...PRINT, animation: { duration: 0 } });
  }
  function afterPrint() {
    if (!printing) return;
    printing = false;
    if (drill) chart.setOption({ series: [{ leafDepth: 1 }] });
    chart.resize({ animation: { duration: 0 } });
  }
  window.addEventListener("beforeprint", beforePrint);
  window.addEventListener("afterprint", afterPrint);
  window.matchMedia("print").addEventListener("change", (e) => (e.matches ? beforePrint() : afterPrint()));
})();
