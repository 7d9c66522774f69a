"""A real headless Chromium opens JupyterLab and a lab notebook, runs it and saves a
screenshot in results/."""

import os
import re
import shutil
import time

import pytest

from labmatrix import matrix
from tests.utils.tracked_workshop import NOTEBOOK_LAB


def chromium_path() -> str | None:
    for candidate in (os.environ.get("LAB_CHROMIUM"), "chromium", "chromium-browser", "google-chrome",
                      "google-chrome-stable"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


@pytest.mark.docker
@pytest.mark.browser
def test_browser_opens_a_lab_notebook(workshop, browser_image, request, results_dir):
    """Headless Chromium: JupyterLab with the token, the lab listing, a lab opened as a
    notebook (Jupytext Notebook viewer), run, and a screenshot in results/. On a
    free-threaded image the kernel's name also says whether the GIL is off."""
    image = browser_image
    exe = chromium_path()
    if exe is None:
        message = "no Chromium: apt-get install chromium (or set LAB_CHROMIUM)"
        if request.config.getoption("--require-docker"):
            pytest.fail(message)
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api")
    lab = NOTEBOOK_LAB
    results = results_dir
    results.mkdir(parents=True, exist_ok=True)
    shot = results / f"workshop-{image.name}.png"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.monotonic()
            # The landing page: Markdown rendered, not an editor.
            page.goto(workshop.url(image.name, f"/lab/tree/labs/README.md?reset&token={workshop.token}"))
            page.wait_for_selector(".jp-RenderedMarkdown h1", timeout=90_000)
            assert "start here" in page.inner_text(".jp-RenderedMarkdown h1")
            workshop.figures.setdefault("browser_first_paint_s", {})[image.name] = round(time.monotonic() - start, 1)
            # The lab listing.
            names = page.locator(".jp-DirListing-itemName")
            names.filter(has_text=re.compile(rf"^{lab}\.py$")).wait_for(timeout=30_000)
            listed = set(names.all_inner_texts())
            assert {f"{name}.py" for name in matrix.lab_names()} <= listed, listed
            # Open the lab: a notebook, with the kernel that names this image.
            names.filter(has_text=re.compile(rf"^{lab}\.py$")).dblclick()
            panel = page.locator(".jp-NotebookPanel:visible")
            panel.locator(".jp-Cell").first.wait_for(timeout=60_000)
            kernel = panel.locator(".jp-KernelName")
            sync_api.expect(kernel).to_contain_text(f"· {image.default_method} ({image.name})", timeout=60_000)
            if image.free_threaded:  # "no GIL", or the module whose import turned it back on
                sync_api.expect(kernel).to_contain_text(re.compile(r"· (no GIL|GIL re-enabled by \S+) ·"))
            sync_api.expect(panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute(
                "data-status", "idle", timeout=60_000)
            assert panel.locator(".jp-MarkdownCell").count() >= 1
            # Run → Run All Cells, then wait for the last cell's report of every method.
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()
            last = panel.locator(".jp-CodeCell").last
            prompt = last.locator(".jp-InputPrompt")
            # The last prompt reads [*]: once queued, then [2]: when it ran, or [ ]: again
            # if an earlier cell failed and the run stopped.
            sync_api.expect(prompt).to_have_text(re.compile(r"\[(\*|\d+)\]:"), timeout=30_000)
            sync_api.expect(prompt).to_have_text(re.compile(r"\[(\d+| )\]:"), timeout=180_000)
            last.scroll_into_view_if_needed()
            page.screenshot(path=str(shot))
            errors = panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            assert re.search(r"\[\d+\]", prompt.inner_text()), (
                "the run stopped before the last cell: " + " | ".join(errors.all_inner_texts()))
            shown = last.locator(".jp-OutputArea").inner_text()
            for method in matrix.METHODS:
                assert f"--start-method {method}" in shown, shown
            assert shown.count("[outcome: ") == len(matrix.METHODS), shown
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
