// Draws the practice dashboard's charts (Chartist) from the figures the page carries in #dashboard-chart-data.
// The same numbers are in the page's tables: without this script, or with it failing, nothing is lost.
"use strict";

(function () {
    const source = document.getElementById("dashboard-chart-data");
    if (!source || typeof Chartist === "undefined") {
        return;
    }
    const data = JSON.parse(source.textContent);

    // Hovering a bar or a point names its series and value, as the tables do.
    function titled(unit) {
        return function (context) {
            if ((context.type === "bar" || context.type === "point") && context.value.y !== null) {
                context.element.elem("title").text(context.series.name + ": " + context.value.y + unit);
            }
        };
    }

    function draw(id, Chart, series, options, unit) {
        const element = document.getElementById(id);
        if (!element) {
            return;
        }
        const chart = new Chart(element, {labels: data.labels, series: series}, options);
        chart.on("draw", titled(unit));
        chart.on("created", function () {
            element.dataset.drawn = "true";
        });
    }

    draw("dashboard-calls-chart", Chartist.BarChart, data.outcomes, {
        stackBars: true,
        height: "220px",
        axisY: {onlyInteger: true},
    }, "");
    draw("dashboard-latency-chart", Chartist.LineChart, data.latency, {
        height: "220px",
        lineSmooth: false,
        axisY: {low: 0, offset: 50},
    }, " ms");
})();
