/* doudi page behaviour, kept out of the HTML so that no inline script is needed.
   Charts: an element [data-chart] names a <script type="application/json"> holding rows of
   {region_name, households, registered_poor}; ECharts (vendored) draws them as bars. */
(function () {
  "use strict";

  function drawCharts(root) {
    if (typeof window.echarts === "undefined") { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-chart"));
      if (!source) { return; }
      var rows = JSON.parse(source.textContent);
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      chart.setOption({
        color: ["#1a4f8b", "#b8202f"],
        tooltip: { trigger: "axis" },
        legend: { top: 0 },
        grid: { left: 8, right: 8, bottom: 8, top: 36, containLabel: true },
        xAxis: { type: "category", data: rows.map(function (r) { return r.region_name; }),
                 axisLabel: { interval: 0, rotate: rows.length > 6 ? 35 : 0 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: el.getAttribute("data-label-households"), type: "bar",
            data: rows.map(function (r) { return r.households; }) },
          { name: el.getAttribute("data-label-poor"), type: "bar",
            data: rows.map(function (r) { return r.registered_poor; }) }
        ]
      });
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  function confirmButtons(root) {
    root.querySelectorAll("[data-confirm]").forEach(function (el) {
      el.addEventListener("click", function (event) {
        if (!window.confirm(el.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    confirmButtons(document);
  });
})();
