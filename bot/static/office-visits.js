// Visit coverage charts on the office dashboard (visits.html); the page puts the data in #visits-data.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("visits-data").textContent);
  const coverage = echarts.init(document.getElementById("coverage-chart"));
  coverage.setOption({
    title: { text: "按计划走访覆盖率" }, tooltip: {},
    xAxis: { type: "category", data: data.regions, axisLabel: { interval: 0, rotate: data.regions.length > 8 ? 40 : 0 } },
    yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
    series: [{ type: "bar", data: data.rates.map((r) => Math.round(r * 100)) }],
  });
  const problemsBox = document.getElementById("problems-chart");
  if (!data.problems.some(([, value]) => value > 0)) {
    // A pie of zeros would draw equal slices as if there were problems: say there are none instead.
    const title = document.createElement("div");
    title.className = "chart-title";
    title.textContent = "本月发现问题（四查）";
    const empty = document.createElement("p");
    empty.className = "chart-empty";
    empty.textContent = "暂无数据：本月走访未发现问题";
    problemsBox.replaceChildren(title, empty);
    return;
  }
  const problems = echarts.init(problemsBox);
  problems.setOption({
    title: { text: "本月发现问题（四查）" }, tooltip: {},
    series: [{ type: "pie", radius: "60%", data: data.problems.map(([name, value]) => ({ name, value })) }],
  });
})();
