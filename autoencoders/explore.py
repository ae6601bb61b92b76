"""The latent explorer: one self-contained HTML page per variant that opens from file:// and asks no host.

The page draws a subsample of the test codes coloured by digit. Hovering a code shows that test
image beside its reconstruction; on a 2-d latent, and on the sphere (rotatable by dragging), the
point under the pointer is decoded too, from a grid of decoded points computed here; a click pins
both. Codes above 3 dimensions are placed by t-SNE, which keeps neighbours together where PCA's two
axes overlap the digits. Images travel inside the page as PNG sprite sheets (data: URIs), and the
script is plain JavaScript: no library, no request.
"""

from __future__ import annotations

import base64
import html
import io
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .images import to_bytes

EXPLORED = 2000  # test codes drawn (and mapped by t-SNE): about 3 s of t-SNE on 2 cores
GRID = (40, 40)  # decoded points of a 2-d latent: rows x columns
SPHERE_GRID = (40, 60)  # of the sphere: theta (pole to pole) x phi (once around)


@dataclass
class LatentView:
    """Where each drawn test code sits, and how: mode is 'plane' (2-d codes as they are), 'sphere'
    (codes on S2, drawn in 3-d; flat: their unwrapped (phi, theta)) or 'map' (t-SNE of the codes)."""

    index: np.ndarray  # into the test split
    points: np.ndarray  # (n, 2), or (n, 3) on the sphere
    flat: np.ndarray  # (n, 2): what a flat picture plots
    axes: tuple[str, str]  # the flat picture's axis names
    mode: str


def neighbour_map(codes: np.ndarray, seed: int) -> np.ndarray:
    """t-SNE of codes (n, d) to (n, 2), float32; the same codes and seed give the same map.

    On one thread (the same map as on two, bit for bit): on an idle 2-core machine two threads take
    2.7-3.4 s for 2,000 codes and one 4.1-4.9 s, but beside another process on those cores (a queue of
    two experiments, a sweep) two threads took 14.8 s and one 5.5 s (benchmarks/looking.py). 500
    iterations: 1,000 lowered the KL divergence by 4% and doubled the time, the picture alike."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    tsne = TSNE(n_components=2, perplexity=30, init="pca", learning_rate="auto", max_iter=500, random_state=seed)
    with threadpool_limits(1):
        return tsne.fit_transform(codes.astype(np.float64)).astype(np.float32)


def neighbour_map_ahead(codes: np.ndarray, seed: int) -> Callable[[], np.ndarray]:
    """neighbour_map, started now in a process of its own; call the result for the map.

    t-SNE keeps one core busy for seconds; analyze@V has its own work for the other core meanwhile
    (the densities' fits, judging). A process, not a thread, so that the one-thread limit stays its
    own; the map is the same, bit for bit (tests/test_explore.py)."""
    folder = Path(tempfile.mkdtemp(prefix="neighbour-map-"))
    np.save(folder / "codes.npy", codes)
    worker = "import sys; from autoencoders import explore; explore.neighbour_map_files(*sys.argv[1:])"
    child = subprocess.Popen([sys.executable, "-c", worker, str(folder), str(seed)], stderr=subprocess.PIPE, text=True)

    def result() -> np.ndarray:
        try:
            _, err = child.communicate()
            if child.returncode:
                last = err.strip().splitlines()[-1] if err.strip() else f"exit status {child.returncode}"
                raise RuntimeError(f"t-SNE of the latent map failed: {last}")
            return np.load(folder / "map.npy")
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return result


def neighbour_map_files(folder: str, seed: str) -> None:
    """The worker of neighbour_map_ahead: FOLDER/codes.npy in, FOLDER/map.npy out."""
    np.save(Path(folder) / "map.npy", neighbour_map(np.load(Path(folder) / "codes.npy"), int(seed)))


def latent_view_ahead(codes: np.ndarray, on_sphere: bool, seed: int, limit: int = EXPLORED) -> Callable[[], LatentView]:
    """The drawn subsample of the test codes (n, d) and its 2-d placement, as latent_view: a t-SNE map
    is started now (neighbour_map_ahead) and collected when the result is called."""
    from .plots import subsample, to_sphere_angles

    index = subsample(len(codes), limit, seed)
    z = codes[index]
    if on_sphere and z.shape[1] == 3:
        view = LatentView(index, z, to_sphere_angles(z).astype(np.float32), ("phi", "theta"), "sphere")
        return lambda: view
    if z.shape[1] <= 2:
        flat = z if z.shape[1] == 2 else np.c_[z, np.zeros(len(z), np.float32)]
        view = LatentView(index, flat, flat, ("z0", "z1"), "plane")
        return lambda: view
    mapped = neighbour_map_ahead(z, seed)

    def view() -> LatentView:
        flat = mapped()
        return LatentView(index, flat, flat, ("t-SNE 1", "t-SNE 2"), "map")

    return view


def latent_view(codes: np.ndarray, on_sphere: bool, seed: int, limit: int = EXPLORED) -> LatentView:
    """The drawn subsample of the test codes (n, d) and its 2-d placement."""
    return latent_view_ahead(codes, on_sphere, seed, limit)()


def grid_points(view: LatentView) -> tuple[np.ndarray, dict] | None:
    """The latent points the page decodes ahead, row by row from the top-left, and the grid's
    description for the page; None where the drawn space is not the latent space (t-SNE maps)."""
    from .plots import from_sphere_angles

    if view.mode == "sphere":
        rows, cols = SPHERE_GRID
        theta, phi = np.linspace(0, np.pi, rows), np.linspace(-np.pi, np.pi, cols)
        angles = np.array([[p, t] for t in theta for p in phi])
        return from_sphere_angles(angles).astype(np.float32), {"rows": rows, "cols": cols}
    if view.mode == "plane":
        rows, cols = GRID
        lo, hi = view.points.min(0), view.points.max(0)
        pad = (hi - lo) * 0.05
        lo, hi = lo - pad, hi + pad
        xs, ys = np.linspace(lo[0], hi[0], cols), np.linspace(hi[1], lo[1], rows)  # top row: the largest z1
        grid = np.array([[x, y] for y in ys for x in xs], dtype=np.float32)
        return grid, {
            "rows": rows,
            "cols": cols,
            "lo": [float(lo[0]), float(lo[1])],
            "hi": [float(hi[0]), float(hi[1])],
        }
    return None


def sprite(images: np.ndarray, cols: int) -> str:
    """images (n, 28, 28) in [0, 1] as one grayscale PNG, tiles row by row, as a data: URI."""
    from PIL import Image

    rows = -(-len(images) // cols)
    pixels = np.zeros((rows * cols, 28, 28), np.uint8)
    pixels[: len(images)] = to_bytes(images)
    sheet = pixels.reshape(rows, cols, 28, 28).transpose(0, 2, 1, 3).reshape(rows * 28, cols * 28)
    buf = io.BytesIO()
    Image.fromarray(sheet, mode="L").save(buf, format="PNG")  # zlib's default level: 9 took 9x as long for 4% less
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


SPRITE_COLS = 50


def page(
    name: str,
    caption: str,
    view: LatentView,
    labels: np.ndarray,
    tests: np.ndarray,
    recons: np.ndarray,
    decoded: np.ndarray | None = None,
    grid: dict | None = None,
) -> str:
    """The explorer of one variant: labels, tests and recons follow view.index; decoded: the grid's
    images, row by row, where grid_points gave one."""
    spec = {
        "name": name,
        "mode": view.mode,
        "axes": list(view.axes),
        "cols": SPRITE_COLS,
        "points": np.round(view.points.astype(np.float64), 4).tolist(),
        "labels": labels.astype(int).tolist(),
        "grid": grid,
    }
    sprites = {"tests": sprite(tests, SPRITE_COLS), "recons": sprite(recons, SPRITE_COLS)}
    if decoded is not None:
        sprites["decoded"] = sprite(decoded, grid["cols"])
    imgs = "".join(f'<img id="sprite-{key}" src="{uri}" hidden alt="">' for key, uri in sprites.items())
    script = (Path(__file__).with_name("explore.js")).read_text()
    return TEMPLATE.format(
        name=html.escape(name),
        caption=html.escape(caption),
        sprites=imgs,
        spec=json.dumps(spec, separators=(",", ":")),
        script=script,
    )


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{name}: latent explorer</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; max-width: 1100px; }}
#wrap {{ display: flex; gap: 1.5em; align-items: flex-start; flex-wrap: wrap; }}
#plot {{ border: 1px solid #ccc; cursor: crosshair; touch-action: none; }}
#side {{ flex: 0 0 350px; }} #side figure {{ margin: 0 0 1em 0; }} #side canvas {{ border: 1px solid #ccc; image-rendering: pixelated; }}
#side figcaption {{ font-size: 0.9em; color: #333; }} .legend span {{ margin-right: 0.8em; white-space: nowrap; }}
.hint {{ color: #555; font-size: 0.9em; }}
</style></head><body>
<p><a href="../../index.html">&larr; report</a></p>
<h1>{name}: latent explorer</h1>
<p>{caption}</p>
<p class="hint" id="hint"></p>
<div class="legend" id="legend"></div>
<div id="wrap"><canvas id="plot" width="640" height="640"></canvas>
<div id="side">
<figure id="decoded-panel"><canvas id="decoded" width="168" height="168"></canvas>
<figcaption id="decoded-caption">the decoder at the pointer</figcaption></figure>
<figure><canvas id="nearest" width="344" height="168"></canvas>
<figcaption id="nearest-caption">the nearest test code: its image and its reconstruction</figcaption></figure>
</div></div>
{sprites}
<script type="application/json" id="spec">{spec}</script>
<script>
{script}
</script>
</body></html>
"""


def explorer(name: str, model, test_x, codes: np.ndarray, labels: np.ndarray, view: LatentView) -> str:
    """The explorer page of one variant: test_x (N, 1, 28, 28) tensor, codes (N, d) and labels (N,) of
    the test split; view: where the drawn codes sit (latent_view)."""
    recons = model.decode_codes(codes[view.index]).squeeze(1).numpy()
    ahead = grid_points(view)
    decoded, grid = (None, None) if ahead is None else (model.decode_codes(ahead[0]).squeeze(1).numpy(), ahead[1])
    shape = {
        "plane": "2-d codes as they are",
        "sphere": "3-d codes on the unit sphere S2",
        "map": f"{codes.shape[1]}-d codes placed in 2-d by t-SNE",
    }[view.mode]
    caption = f"{len(view.index):,} of the {len(codes):,} test codes, coloured by digit: {shape}."
    return page(name, caption, view, labels[view.index], test_x[view.index].squeeze(1).numpy(), recons, decoded, grid)
