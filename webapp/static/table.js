/* The table of all towns: sort by any column (aria-sort says which and how). */
(function () {
  "use strict";
  const table = document.getElementById("all-towns");
  if (!table) return;
  const tbody = table.tBodies[0];
  const lang = document.documentElement.lang || "en";
  const collator = new Intl.Collator(lang, { sensitivity: "base", numeric: true });
  table.querySelectorAll("thead button").forEach((btn) => {
    btn.addEventListener("click", () => {
      const th = btn.parentElement, col = Number(btn.dataset.col), num = btn.dataset.type === "num";
      const asc = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("thead th").forEach((h) => h.setAttribute("aria-sort", "none"));
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      const key = (tr) => { const td = tr.cells[col]; return num ? td.dataset.v : td.textContent.trim(); };
      const rows = Array.from(tbody.rows);
      rows.sort((a, b) => {
        const x = key(a), y = key(b);
        if (num) {  // empty (no data) always last
          if (x === "" || y === "") return (x === "") - (y === "");
          return (asc ? 1 : -1) * (Number(x) - Number(y));
        }
        return (asc ? 1 : -1) * collator.compare(x, y);
      });
      rows.forEach((tr) => tbody.appendChild(tr));
    });
  });
})();
