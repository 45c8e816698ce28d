/* The "Sent leads" page: load the totals fragment, draw its chart, and open
 * Airflow links in the Airflow UI around the page. No build step; Chart.js is
 * the vendored chart.umd.min.js beside this file. */
(function () {
  "use strict";

  var GROUP_COLOURS = {
    not_registered: "#9aa5b1",
    processing: "#2f80ed",
    paid: "#27ae60",
    rejected: "#eb5757"
  };

  function drawChart(root) {
    var data = root.querySelector("#sent-leads-chart-data");
    var canvas = root.querySelector("#sent-leads-chart");
    if (!data || !canvas || typeof Chart === "undefined") {
      return;
    }
    var chart = JSON.parse(data.textContent);
    var datasets = Object.keys(chart.groups).map(function (group) {
      return {
        label: group,
        data: chart.groups[group],
        backgroundColor: GROUP_COLOURS[group] || "#cccccc",
        borderWidth: 0
      };
    });
    new Chart(canvas, {
      type: "bar",
      data: { labels: chart.days, datasets: datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { position: "bottom", labels: { boxWidth: 10 } } },
        scales: {
          x: { stacked: true, ticks: { maxTicksLimit: 10 }, grid: { display: false } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }
        }
      }
    });
  }

  function loadSummary() {
    var box = document.getElementById("summary");
    if (!box || !box.dataset.src) {
      return;
    }
    fetch(box.dataset.src, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        // Rendered by the server with autoescaping, like the page itself.
        box.innerHTML = html;
        box.dataset.loaded = "true";
        drawChart(box);
      })
      .catch(function (error) {
        box.textContent = "The totals could not be loaded (" + error.message + "). Reload to try again.";
        box.dataset.loaded = "error";
      });
  }

  // Inside the Airflow UI the page sits in a sandboxed frame that may not
  // navigate the window, so a link to an Airflow page asks the UI's router to
  // go there (same origin); outside a frame the link works as usual.
  function openAirflowLinksInTheUi() {
    if (window.top === window) {
      return;
    }
    document.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-airflow-link]");
      if (!link) {
        return;
      }
      try {
        window.top.history.pushState({}, "", link.getAttribute("href"));
        window.top.dispatchEvent(new PopStateEvent("popstate", { state: {} }));
        event.preventDefault();
      } catch (ignored) {
        // Not allowed here: let the frame follow the link.
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    loadSummary();
    openAirflowLinksInTheUi();
  });
})();
