// The brief's print button (a script file: the page's CSP allows no inline handlers).
document.querySelectorAll("[data-print]").forEach((b) => b.addEventListener("click", () => window.print()));
// A map inside the closed details has no size until opened: Leaflet measures again on resize.
document.getElementById("details")?.addEventListener("toggle", () => window.dispatchEvent(new Event("resize")));
