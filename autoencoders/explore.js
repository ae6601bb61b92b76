// The latent explorer's script (autoencoders/explore.py inlines it into each page). Plain JavaScript,
// no library: it reads the page's spec and sprites and makes no request.
"use strict";
const spec = JSON.parse(document.getElementById("spec").textContent);
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];  // matplotlib's tab10, as the PNGs
const plot = document.getElementById("plot"), ctx = plot.getContext("2d");
const W = plot.width, H = plot.height, MARGIN = 24, TILE = 28;
const sprite = key => document.getElementById("sprite-" + key);
const grid = spec.grid;
let rotation = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
let pinned = false, state = {latent: null, nearest: -1}, drag = null, screen = [];

// --- geometry: latent point <-> canvas position ---------------------------------------------
function matmul(a, b) {
  return a.map(row => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}
function rotate(axis, angle) {
  const c = Math.cos(angle), s = Math.sin(angle);
  return axis === "x" ? [[1, 0, 0], [0, c, -s], [0, s, c]] : [[c, 0, s], [0, 1, 0], [-s, 0, c]];
}
const apply = (m, v) => m.map(row => row[0] * v[0] + row[1] * v[1] + row[2] * v[2]);
const applyT = (m, v) => [0, 1, 2].map(j => m[0][j] * v[0] + m[1][j] * v[1] + m[2][j] * v[2]);

let lo, hi;
if (grid && grid.lo) {
  [lo, hi] = [grid.lo, grid.hi];
} else {
  const xs = spec.points.map(p => p[0]), ys = spec.points.map(p => p[1]);
  lo = [Math.min(...xs), Math.min(...ys)];
  hi = [Math.max(...xs), Math.max(...ys)];
}
const RADIUS = Math.min(W, H) / 2 - MARGIN;
if (spec.mode === "sphere") rotation = matmul(rotate("x", -1.1), rotate("y", 0.4));  // the pole tilted towards you

function project(p) {  // -> [x, y, depth]: depth > 0 faces the viewer
  if (spec.mode === "sphere") {
    const v = apply(rotation, p);
    return [W / 2 + RADIUS * v[0], H / 2 - RADIUS * v[1], v[2]];
  }
  return [MARGIN + (p[0] - lo[0]) / (hi[0] - lo[0]) * (W - 2 * MARGIN),
          H - MARGIN - (p[1] - lo[1]) / (hi[1] - lo[1]) * (H - 2 * MARGIN), 1];
}
function unproject(x, y) {  // the latent point under a canvas position, or null
  if (spec.mode === "map") return null;
  if (spec.mode === "sphere") {
    const u = (x - W / 2) / RADIUS, v = -(y - H / 2) / RADIUS, r2 = u * u + v * v;
    return r2 > 1 ? null : applyT(rotation, [u, v, Math.sqrt(1 - r2)]);
  }
  return [lo[0] + (x - MARGIN) / (W - 2 * MARGIN) * (hi[0] - lo[0]),
          lo[1] + (H - MARGIN - y) / (H - 2 * MARGIN) * (hi[1] - lo[1])];
}
function gridCell(z) {  // the decoded grid point nearest to a latent point: [row, column]
  const clamp = (v, n) => Math.max(0, Math.min(n - 1, Math.round(v * (n - 1))));
  if (spec.mode === "sphere") {  // the grid's rows run from theta 0 to pi, its columns from phi -pi to pi
    const phi = Math.atan2(z[0], z[1]), theta = Math.acos(Math.max(-1, Math.min(1, z[2])));
    return [clamp(theta / Math.PI, grid.rows), clamp((phi + Math.PI) / (2 * Math.PI), grid.cols)];
  }
  return [clamp((hi[1] - z[1]) / (hi[1] - lo[1]), grid.rows), clamp((z[0] - lo[0]) / (hi[0] - lo[0]), grid.cols)];
}

// --- drawing ----------------------------------------------------------------------------------
function tile(target, key, index, cols, x, y, size) {
  const c = target.getContext("2d");
  c.imageSmoothingEnabled = false;
  c.drawImage(sprite(key), (index % cols) * TILE, Math.floor(index / cols) * TILE, TILE, TILE, x, y, size, size);
}
function render() {
  ctx.clearRect(0, 0, W, H);
  screen = spec.points.map(project);
  if (spec.mode === "sphere") {
    ctx.strokeStyle = "#bbb";
    ctx.beginPath();
    ctx.arc(W / 2, H / 2, RADIUS, 0, 2 * Math.PI);
    ctx.stroke();
  }
  const order = screen.map((_, i) => i).sort((a, b) => screen[a][2] - screen[b][2]);  // far side first
  for (const i of order) {
    const [x, y, depth] = screen[i];
    ctx.globalAlpha = depth > 0 ? 0.75 : 0.12;
    ctx.fillStyle = COLORS[spec.labels[i] % 10];
    ctx.beginPath();
    ctx.arc(x, y, 2.5, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.globalAlpha = 1;
  if (state.nearest >= 0) {
    const [x, y] = screen[state.nearest];
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x, y, 7, 0, 2 * Math.PI);
    ctx.stroke();
  }
  if (state.latent) {
    const [x, y, depth] = project(state.latent);
    if (depth > 0) {
      ctx.strokeStyle = pinned ? "#d00" : "#000";
      ctx.lineWidth = pinned ? 2.5 : 1.5;
      ctx.beginPath();
      ctx.moveTo(x - 10, y); ctx.lineTo(x + 10, y); ctx.moveTo(x, y - 10); ctx.lineTo(x, y + 10);
      ctx.stroke();
    }
  }
  ctx.lineWidth = 1;
  ctx.fillStyle = "#333";
  ctx.font = "12px system-ui, sans-serif";
  if (spec.mode !== "sphere") {
    ctx.fillText(spec.axes[0] + " \u2192", W - MARGIN - 60, H - 6);
    ctx.save(); ctx.translate(12, MARGIN + 60); ctx.rotate(-Math.PI / 2); ctx.fillText(spec.axes[1] + " \u2192", 0, 0);
    ctx.restore();
  }
}
function showPanels() {
  const decoded = document.getElementById("decoded"), nearest = document.getElementById("nearest");
  if (grid && state.latent) {
    const [row, col] = gridCell(state.latent);
    decoded.getContext("2d").clearRect(0, 0, decoded.width, decoded.height);
    tile(decoded, "decoded", row * grid.cols + col, grid.cols, 0, 0, decoded.width);
    document.body.dataset.cell = row + "," + col;
    const where = state.latent.map(v => v.toFixed(2)).join(", ");
    document.getElementById("decoded-caption").textContent =
      `the decoder at (${where})` + (pinned ? ", pinned: click to release" : "");
  }
  if (state.nearest >= 0) {
    const i = state.nearest;
    nearest.getContext("2d").clearRect(0, 0, nearest.width, nearest.height);
    tile(nearest, "tests", i, spec.cols, 0, 0, 168);
    tile(nearest, "recons", i, spec.cols, 176, 0, 168);
    document.getElementById("nearest-caption").textContent =
      `the nearest test code: a ${spec.labels[i]} (left) and its reconstruction (right)`;
  }
}
function nearestPoint(x, y) {  // the drawn test code under the pointer (within 15 px, facing the viewer)
  let best = -1, bestD = 15 * 15;
  screen.forEach(([px, py, depth], i) => {
    const d = (px - x) ** 2 + (py - y) ** 2;
    if (depth > 0 && d < bestD) { best = i; bestD = d; }
  });
  return best;
}
function pointAt(event) {
  const box = plot.getBoundingClientRect();
  return [(event.clientX - box.left) * W / box.width, (event.clientY - box.top) * H / box.height];
}
function follow(x, y) {
  state = {latent: unproject(x, y), nearest: nearestPoint(x, y)};
  render();
  showPanels();
}

// --- events: hover follows, a click pins (and a second releases), a drag turns the sphere ----------
plot.addEventListener("pointerdown", e => { drag = {start: pointAt(e), last: pointAt(e)}; });
plot.addEventListener("pointermove", e => {
  const [x, y] = pointAt(e);
  if (drag && spec.mode === "sphere" && Math.hypot(x - drag.start[0], y - drag.start[1]) > 3) {
    rotation = matmul(matmul(rotate("y", (x - drag.last[0]) * 0.01), rotate("x", (y - drag.last[1]) * 0.01)), rotation);
    drag.last = [x, y];
    render();
    return;
  }
  if (!pinned) follow(x, y);
});
plot.addEventListener("pointerup", e => {
  const [x, y] = pointAt(e), moved = drag && Math.hypot(x - drag.start[0], y - drag.start[1]) > 3;
  drag = null;
  if (moved) return;
  pinned = !pinned;
  if (pinned) follow(x, y); else { render(); showPanels(); }
  document.body.dataset.pinned = pinned;
});
plot.addEventListener("pointerleave", () => { drag = null; });

const HINTS = {
  plane: "Move the pointer over the codes: the decoder's digit at that point shows on the right " +
         `(a ${grid && grid.rows} x ${grid && grid.cols} grid of decoded points), and the nearest test code its image ` +
         "beside its reconstruction. Click to pin, click again to release.",
  sphere: "Drag to turn the sphere. Move the pointer over it: the decoder's digit at that point of S2 shows on " +
          `the right (a ${grid && grid.rows} x ${grid && grid.cols} grid in latitude and longitude), and the nearest ` +
          "test code its image beside its reconstruction. Click to pin, click again to release.",
  map: "Codes above three dimensions, placed by t-SNE: neighbours on the map are neighbours among the codes, but " +
       "the distances between clusters mean little. Hover a point: its test image beside its reconstruction.",
};
document.getElementById("hint").textContent = HINTS[spec.mode];
if (!grid) document.getElementById("decoded-panel").hidden = true;
document.getElementById("legend").innerHTML = [...new Set(spec.labels)].sort((a, b) => a - b)
  .map(d => `<span style="color:${COLORS[d % 10]}">&#9679; ${d}</span>`).join("");
window.addEventListener("load", () => {  // the sprites are decoded by then; the first code shows at once
  render();
  const [x, y] = screen.reduce((best, p) => (p[2] > best[2] ? p : best));  // on the sphere: the nearest to you
  follow(x, y);
  document.body.dataset.ready = "true";
});
