"""The app in headless Chromium (Playwright driving Debian's /usr/bin/chromium).

Uploads a clip and reads the transcript; runs a batch and sees the table and the plot; opens
the page in Korean. Screenshots go to $SCREENSHOT_DIR (else the test's tmp folder) and their
paths are printed (`pytest -s` shows them).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.app_server import EXAMPLES, shared_app

pytestmark = pytest.mark.timeout(600)
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
CLIPS = sorted(EXAMPLES.glob("*.wav"))
TIMEOUT_MS = 30_000  # page elements
# Model work waits for the app's own completion signal (the elapsed-time box, the batch summary),
# bounded generously: on a busy 2-core machine a batch once took longer than 30 s.
RESULT_TIMEOUT_MS = 300_000


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> str:
    return shared_app(tmp_path_factory)[0]


@pytest.fixture(scope="module")
def playwright():
    """One Playwright per module: its sync API allows no second one while it runs."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium fonts-nanum)")
    with sync_api.sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _page(browser, url: str, locale: str):
    page = browser.new_page(locale=locale, viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url, wait_until="load", timeout=RESULT_TIMEOUT_MS)  # a busy machine serves the page slowly
    page.locator("#transcribe-button").wait_for(timeout=RESULT_TIMEOUT_MS)
    return page


def _shoot(page, folder: Path, name: str) -> Path:
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def _upload_and_transcribe(page, clip: Path) -> str:
    page.locator("#transcribe-audio [data-testid=source-select] button").first.click()  # upload, not microphone
    page.locator("#transcribe-audio input[type=file]").set_input_files(str(clip))
    page.locator("#transcribe-audio audio").first.wait_for(state="attached")
    page.locator("#transcribe-button").click()
    transcript = page.locator("#transcript textarea")
    try:
        # The elapsed-time box is filled with the rest of the result: the request has finished.
        page.wait_for_function("el => el.value !== ''", arg=page.locator("#elapsed input").element_handle(),
                               timeout=RESULT_TIMEOUT_MS)
        page.wait_for_function("el => el.value.trim() !== ''", arg=transcript.element_handle())
    except sync_api.TimeoutError:
        pass  # the caller's assertion says what is missing
    return transcript.input_value()


def test_upload_a_clip_and_see_the_transcript(browser, app_url, screenshots):
    page = _page(browser, app_url, "en-US")
    transcript = _upload_and_transcribe(page, CLIPS[0])
    page.locator("#label-gender").get_by_text("female").first.wait_for()
    _shoot(page, screenshots, "transcribe-en.png")
    assert float(page.locator("#duration input").input_value()) > 1
    assert transcript.strip(), "the transcript box is empty"
    page.close()


def test_batch_shows_table_and_plot(browser, app_url, screenshots, tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio" * 4)
    references = tmp_path / "references.csv"
    shutil.copy(EXAMPLES / "references.csv", references)
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(CLIPS[3], folder / "sub" / CLIPS[3].name)
    (folder / "notes.txt").write_text("not audio: left out of a folder upload")
    page = _page(browser, app_url, "en-US")
    page.get_by_role("tab", name="Batch analysis").click()
    page.locator("#batch-files input[type=file]").set_input_files([str(c) for c in CLIPS[:2]] + [str(corrupt)])
    page.locator("#batch-folder input[type=file]").set_input_files(str(folder))
    page.locator("#batch-references input[type=file]").set_input_files(str(references))
    # Uploads finished: each box lists its last file (the name's stem; the suffix is a separate element).
    for box, stem in (("#batch-files", "corrupt"), ("#batch-folder", "notes"), ("#batch-references", "references")):
        page.locator(box).get_by_text(stem).first.wait_for(state="attached")
    page.locator("#batch-button").click()
    expect(page.locator("#batch-summary")).to_contain_text("failed", timeout=RESULT_TIMEOUT_MS)  # the batch is done
    page.locator("#batch-plot img").wait_for()
    # The table's text, not one cell element: the grid keeps hidden copies of cells for sizing.
    expect(page.locator("#batch-table")).to_contain_text("corrupt.wav", timeout=60_000)
    shown = page.locator("#batch-table").inner_text()
    assert all(clip.name in shown for clip in (*CLIPS[:2], CLIPS[3])), shown
    assert "notes.txt" not in shown
    assert "WER" in page.locator("#batch-summary").inner_text()
    page.locator("#batch-plot img").scroll_into_view_if_needed()
    _shoot(page, screenshots, "batch-en.png")
    page.close()


def test_page_speaks_korean(browser, app_url, screenshots):
    page = _page(browser, app_url, "ko-KR")
    page.get_by_role("tab", name="일괄 분석").wait_for()
    _upload_and_transcribe(page, CLIPS[1])
    page.get_by_text("받아쓰기 결과").first.wait_for()
    _shoot(page, screenshots, "transcribe-ko.png")
    page.close()


def test_live_mode_writes_the_transcript_while_the_microphone_streams(playwright, app_url, screenshots, tmp_path):
    """Chromium's fake microphone plays an example clip followed by a pause, in a loop."""
    import jiwer
    import numpy as np
    import pandas as pd
    import soxr

    from data_utils.audio import SAMPLE_RATE, load_audio, write_wav

    clip = load_audio(CLIPS[0])
    names = pd.read_csv(EXAMPLES / "references.csv", dtype=str).set_index("path")["text"]
    reference = names[CLIPS[0].name].replace(" ", "")
    speech = np.concatenate([clip, np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.float32)])
    microphone = tmp_path / "microphone.wav"
    write_wav(microphone, soxr.resample(speech, SAMPLE_RATE, 48000).astype(np.float32), 48000)
    fake = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone}"]
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + fake, headless=True)
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000},
                                  permissions=["microphone"])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url, wait_until="load", timeout=RESULT_TIMEOUT_MS)
    page.locator("#live-audio").scroll_into_view_if_needed(timeout=RESULT_TIMEOUT_MS)
    page.locator("#live-audio").get_by_role("button", name="Record").click()
    transcript = page.locator("#live-transcript textarea")
    try:  # recording starts anywhere in the loop: wait for a whole clip after the first pause
        page.wait_for_function("([el, n]) => el.value.replace(/ /g, '').length >= n",
                               arg=[transcript.element_handle(), 2 * len(reference)], timeout=RESULT_TIMEOUT_MS)
    except sync_api.TimeoutError:
        pass  # the assertion below shows what was heard
    _shoot(page, screenshots, "live-en.png")
    page.locator("#live-audio").get_by_role("button", name="Stop").click()
    heard = transcript.input_value().replace(" ", "")
    browser.close()
    best = min(jiwer.cer(reference, heard[i: i + len(reference)]) for i in range(max(1, len(heard) - len(reference) + 1)))
    assert best < 0.4, (reference, heard)
