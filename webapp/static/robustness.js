// How sure is each recommendation: the robustness draws from /api/robustness (polled while they run).
// On a town page it fills #robustness; on the map it fills the popups' stability line and offers a
// "shade by stability" mode. Only textContent is used for data (no HTML from the server's values).
(function () {
  "use strict";
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; };
  const pct = (x) => Math.round(100 * x) + " %";
  let cache = null;

  function poll(url, onProgress) {
    return new Promise((resolve, reject) => {
      const step = () => fetch(url, { headers: { Accept: "application/json" } }).then((r) => r.json()).then((s) => {
        if (s.state === "done" && s.result) { cache = s.result; resolve(s.result); }
        else if (s.state === "error") reject(new Error(s.message || "error"));
        else { onProgress(s.progress || 0); setTimeout(step, 500); }
      }).catch(reject);
      step();
    });
  }

  // An outcome label of scoring.robustness ('a + b', 'tie: a/b/c', 'insufficient data') in the page's language.
  function outcome(label, L) {
    const names = (ids, sep) => ids.split(sep).map((s) => L.scenarios[s] || s);
    if (label === "insufficient data") return L.text.insufficient;
    if (label.startsWith("tie: ")) return L.text.tie_short.replace("{}", names(label.slice(5), "/").join(" / "));
    return names(label, " + ").join(" + ");
  }

  function shareBar(shares, L) {
    const bar = el("div", "share-bar");
    Object.entries(shares).forEach(([s, f]) => {
      if (f <= 0) return;
      const seg = el("span", "share-seg");
      seg.style.width = (100 * f) + "%";
      seg.style.background = L.colours[s] || "#999";
      seg.title = L.scenarios[s] + ": " + pct(f);
      bar.appendChild(seg);
    });
    return bar;
  }

  function townSection(box, L) {
    const body = box.querySelector(".robust-body");
    const bar = body.querySelector("progress");
    poll(box.dataset.url, (p) => { if (bar) bar.value = p; }).then((res) => {
      const r = res.towns[box.dataset.town];
      body.textContent = "";
      if (!r) return;
      body.appendChild(el("p", "stability", L.text.stability + ": " + pct(r.stability) + " (" + res.draws + " " + L.text.draws + ")"));
      body.appendChild(shareBar(r.shares, L));
      const ul = el("ul", "shares");
      Object.entries(r.shares).sort((a, b) => b[1] - a[1]).forEach(([s, f]) => ul.appendChild(el("li", null, L.scenarios[s] + ": " + pct(f))));
      body.appendChild(ul);
      body.appendChild(el("p", null, L.text.modal + ": " + outcome(r.modal_outcome, L)));
      body.appendChild(el("h3", null, L.text.drivers));
      const dl = el("ul", "drivers");
      Object.entries(r.drivers).slice(0, 5).forEach(([c, v]) => {
        const li = el("li", null, ((L.choices || {})[c] || c) + ": " + v.toFixed(2));
        if ((L.choice_help || {})[c]) li.title = L.choice_help[c];
        dl.appendChild(li);
      });
      body.appendChild(dl);
      body.appendChild(el("h3", null, L.text.variants));
      const table = el("table", "data variants");
      const head = el("tr");
      head.appendChild(el("th", null, ""));
      L.order.forEach((s) => head.appendChild(el("th", null, L.scenarios[s])));
      table.appendChild(head);
      ["pessimistic", "realistic", "optimistic"].forEach((v) => {
        const tr = el("tr");
        tr.appendChild(el("td", null, L.text[v]));
        L.order.forEach((s) => tr.appendChild(el("td", "num", String(r.variants[v].scores[s]))));
        table.appendChild(tr);
      });
      body.appendChild(table);
      document.body.dataset.robust = "1";
    }).catch(() => { body.textContent = L.text.robust_error; });
  }

  function mapMode(boot, L) {
    const map = window[boot.registry.map];
    if (!map) return;
    map.on("popupopen", (e) => {
      const p = e.popup.getElement && e.popup.getElement();
      const line = p && p.querySelector(".stab");
      if (!line) return;
      const popup = e.popup;
      const fill = (res) => {
        const r = res.towns[line.dataset.town];
        if (!r || !popup.isOpen()) return;
        // the draws are at the default parameters: their share speaks of this answer only if it is theirs
        line.textContent = r.default === line.dataset.answer ? L.text.stability + ": " + pct(r.stability) : L.text.stab_elsewhere;
        // the popup grew by a line after Leaflet placed it: lay it out and pan again so its top stays in view
        // (popup.update() would reset the content, which is a string; Leaflet 1.9.4 is pinned in package.json)
        popup._updateLayout(); popup._updatePosition(); popup._adjustPan();
      };
      if (cache) fill(cache); else poll(boot.urls.robustness, () => {}).then(fill).catch(() => {});
    });
    const btn = document.getElementById("shade-stability");
    if (!btn) return;
    let on = false, saved = {};
    // each marker shaded by its share of the draws, or white and dashed where no share speaks of it
    function shade(res) {
      Object.entries(boot.registry.markers).forEach(([id, name]) => {
        const mk = window[name];
        if (!mk) return;
        saved[id] = Object.assign({}, mk.options);
        const r = res.towns[id], row = document.querySelector("tr[data-id='" + id + "']");
        if (!r || !row || !row.dataset.answer || r.default !== row.dataset.answer) {
          // no share: the data leave the town open, or the draws (at the default parameters) gave another answer
          mk.setStyle({ fillColor: "#ffffff", fillOpacity: 0.95, dashArray: "3 3" });
          return;
        }
        const g = Math.round(235 - 200 * r.stability);  // light (unstable) to dark (stable)
        mk.setStyle({ fillColor: "rgb(" + g + "," + g + "," + (g + 20 > 255 ? 255 : g + 20) + ")", fillOpacity: 0.95, dashArray: null });
      });
    }
    function unshade() {
      Object.entries(boot.registry.markers).forEach(([id, name]) => {
        const mk = window[name];
        if (mk && saved[id]) mk.setStyle({ fillColor: saved[id].fillColor, fillOpacity: saved[id].fillOpacity, dashArray: saved[id].dashArray });
      });
      saved = {};
    }
    // a recompute drew the markers anew (app.js applyDisplay): shaded again with the new answers
    document.addEventListener("atlas:display", () => { saved = {}; if (on && cache) shade(cache); });
    btn.addEventListener("click", () => {
      btn.disabled = true;
      poll(boot.urls.robustness, () => {}).then((res) => {
        on = !on;
        if (on) shade(res); else unshade();
        btn.textContent = on ? L.text.shade_off : L.text.shade_stability;
        document.getElementById("stability-legend").hidden = !on;
        document.body.dataset.shade = on ? "stability" : "scenario";
      }).finally(() => { btn.disabled = false; });
    });
  }

  function start() {
    const box = document.getElementById("robustness");
    if (box) townSection(box, JSON.parse(box.dataset.i18n));
    const bootEl = document.getElementById("boot");
    const ctl = document.getElementById("stability-controls");
    if (bootEl && ctl) mapMode(JSON.parse(bootEl.textContent), JSON.parse(ctl.dataset.i18n));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
