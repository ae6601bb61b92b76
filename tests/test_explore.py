"""The latent explorer: where it places the codes, what a page carries, and (in Chromium, offline)
that the decoder under the pointer follows the pointer and that the page asks no host."""

import base64
import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

from autoencoders import explore, models
from tests.browser import Chromium


def clustered_codes(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    centres = rng.normal(size=(10, d)) * 4
    return (centres[labels] + rng.normal(size=(n, d))).astype(np.float32), labels


def test_codes_above_three_dimensions_are_placed_by_tsne_the_same_way_every_time():
    codes, labels = clustered_codes(300, 12)
    view = explore.latent_view(codes, on_sphere=False, seed=0)
    assert view.mode == "map" and view.points.shape == (300, 2) and view.axes == ("t-SNE 1", "t-SNE 2")
    assert np.array_equal(view.points, explore.latent_view(codes, on_sphere=False, seed=0).points)
    # neighbour-preserving: a code's nearest neighbour on the map is mostly of its own digit
    xy = view.points
    nearest = np.argsort(((xy[:, None] - xy[None]) ** 2).sum(-1), axis=1)[:, 1]
    assert (labels[nearest] == labels).mean() > 0.9


def test_the_map_drawn_in_a_process_of_its_own_is_the_same_bits_as_in_this_one():
    codes, _ = clustered_codes(300, 12)
    ahead = explore.neighbour_map_ahead(codes, seed=3)
    assert np.array_equal(ahead(), explore.neighbour_map(codes, seed=3))


def test_a_failed_map_process_is_one_clear_error():
    ahead = explore.neighbour_map_ahead(np.zeros((5, 12), np.float32), seed=0)  # fewer codes than t-SNE's perplexity
    with pytest.raises(RuntimeError, match="t-SNE of the latent map failed: .*perplexity"):
        ahead()


def test_two_dimensional_and_spherical_codes_are_drawn_as_they_are():
    codes, _ = clustered_codes(50, 2)
    plane = explore.latent_view(codes, on_sphere=False, seed=0)
    assert plane.mode == "plane" and np.array_equal(plane.points, codes[plane.index])
    unit = codes[:, :1].repeat(3, 1) + np.random.default_rng(1).normal(size=(50, 3)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    sphere = explore.latent_view(unit, on_sphere=True, seed=0)
    assert sphere.mode == "sphere" and sphere.points.shape == (50, 3) and sphere.flat.shape == (50, 2)
    grid, spec = explore.grid_points(sphere)
    assert grid.shape == (spec["rows"] * spec["cols"], 3) and np.allclose(np.linalg.norm(grid, axis=1), 1, atol=1e-6)
    assert min(spec["rows"], spec["cols"]) >= 40


def test_at_most_the_limit_of_codes_is_drawn():
    codes, _ = clustered_codes(120, 2)
    view = explore.latent_view(codes, on_sphere=False, seed=0, limit=40)
    assert len(view.index) == 40 and len(set(view.index.tolist())) == 40


def test_a_sprite_holds_every_image_pixel_for_pixel():
    images = np.random.default_rng(0).integers(0, 256, size=(7, 28, 28)) / 255.0
    uri = explore.sprite(images, cols=3)
    sheet = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    assert sheet.shape == (3 * 28, 3 * 28)
    assert np.array_equal(sheet[28:56, 28:56], np.rint(images[4] * 255).astype(np.uint8))  # row 1, column 1


def two_d_page(tmp_path):
    """The explorer of a small 2-d MLP autoencoder on random images, written to a file."""
    torch.manual_seed(0)
    model = models.build("mlp", {"latent_dim": 2, "hidden": [16]})
    x = torch.rand(300, 1, 28, 28)
    with torch.no_grad():
        codes = model.encode(x).numpy()
    view = explore.latent_view(codes, on_sphere=False, seed=0)
    page = explore.explorer("tiny2d", model, x, codes, np.arange(300) % 10, view)
    path = tmp_path / "explorer.html"
    path.write_text(page)
    return path, page


def test_a_page_names_no_host(tmp_path):
    _, page = two_d_page(tmp_path)
    assert not re.findall(r"(?:src|href)=\"(?!data:|#|\.\./)", page)  # images inline, links relative
    assert "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page  # and the page's own policy refuses any request


def plot_box(browser) -> tuple[float, float, float, float]:
    return browser.evaluate(
        "(r => [r.left, r.top, r.width, r.height])(document.getElementById('plot').getBoundingClientRect())"
    )


def decoded_at(browser, box, fx: float, fy: float) -> tuple[str, str]:
    """Move the pointer to a fraction of the plot; (the grid cell shown, the decoded canvas's pixels)."""
    x, y, w, h = box
    browser.mouse("mouseMoved", x + fx * w, y + fy * h)
    return browser.evaluate("document.body.dataset.cell"), browser.evaluate(
        "document.getElementById('decoded').toDataURL()"
    )


def assert_pointer_decodes(browser, url: str) -> None:
    browser.open(url)
    assert browser.evaluate("document.body.dataset.ready") == "true"
    box = plot_box(browser)
    first, second = decoded_at(browser, box, 0.2, 0.3), decoded_at(browser, box, 0.75, 0.7)
    assert first[0] != second[0] and first[1] != second[1], (first[0], second[0])
    # a click pins the point: the pointer then moves on and the decoded digit stays
    x, y, w, h = box
    browser.mouse("mousePressed", x + 0.75 * w, y + 0.7 * h, "left")
    browser.mouse("mouseReleased", x + 0.75 * w, y + 0.7 * h, "left")
    assert decoded_at(browser, box, 0.2, 0.3)[1] == second[1]
    schemes = {u.split(":", 1)[0] for u in browser.requests}
    assert schemes <= {"file", "data"}, sorted(u[:80] for u in browser.requests)


@pytest.mark.slow
@pytest.mark.browser
def test_the_decoder_follows_the_pointer_offline(tmp_path, chromium):
    path, _ = two_d_page(tmp_path)
    with Chromium(chromium, offline=True) as browser:
        assert_pointer_decodes(browser, path.as_uri())


@pytest.mark.slow
@pytest.mark.browser
def test_the_pipelines_sphere_explorer_turns_and_decodes_offline(finished_project, chromium):
    page = finished_project / "reports" / "variants" / "sphere" / "explorer.html"
    with Chromium(chromium, offline=True) as browser:
        assert_pointer_decodes(browser, page.as_uri())
        box = plot_box(browser)
        before = browser.evaluate("document.getElementById('plot').toDataURL()")
        x, y, w, h = box
        browser.mouse("mousePressed", x + w / 2, y + h / 2, "left")
        for step in range(1, 6):  # a drag turns the sphere
            browser.mouse("mouseMoved", x + w / 2 + 20 * step, y + h / 2)
        browser.mouse("mouseReleased", x + w / 2 + 100, y + h / 2, "left")
        assert browser.evaluate("document.getElementById('plot').toDataURL()") != before
