"""The player in real Voilà + headless Chromium (demo notebook: player_demo.ipynb, 98 frames)."""

import re
import pytest

NOTEBOOK = "player_demo.ipynb"
ROOT = ".layerviz-player"


@pytest.fixture
def demo(page, voila_server, open_voila, console_errors):
    """The demo notebook opened in Voilà, with websocket frames sent by the page counted."""
    errors = console_errors(page)
    sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    open_voila(page, f"{voila_server}/voila/render/{NOTEBOOK}")
    page.sent_messages = sent
    yield page
    body = page.inner_text("body")
    assert "Traceback" not in body and "Error" not in body, body[:2000]
    assert errors == []


def frame(page) -> int:
    return int(page.get_attribute(ROOT, "data-frame"))


def caption(page) -> str:
    return page.inner_text(f"{ROOT} .lvp-caption")


def wait_frame(page, k: int) -> None:
    page.wait_for_function(f"() => document.querySelector('{ROOT}').dataset.frame === '{k}'", timeout=5000)


def test_canvas_draws_the_scene(demo):
    assert demo.get_attribute(ROOT, "data-n-frames") == "98"
    assert frame(demo) == 0
    assert int(demo.get_attribute(ROOT, "data-drawn")) >= 1
    stats = demo.evaluate(
        """() => {
        const c = document.querySelector('.layerviz-player canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let ink = 0; const colours = new Set();
        for (let i = 0; i < d.length; i += 4) {
          if (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245) ink++;
          colours.add((d[i] >> 3) << 10 | (d[i + 1] >> 3) << 5 | (d[i + 2] >> 3));
        }
        return {w: c.width, h: c.height, ink: ink / (d.length / 4), colours: colours.size};
    }"""
    )
    assert stats["w"] > 300 and stats["h"] > 200
    assert stats["ink"] > 0.1, stats  # a drawn scene, not a blank canvas
    assert stats["colours"] > 20, stats  # colormapped cells, highlights, text
    assert caption(demo).startswith("y[0,0,0] = ")
    assert demo.get_attribute(f"{ROOT} .lvp-caption", "aria-live") == "polite"
    assert demo.inner_text(f"{ROOT} .lvp-counter") == "1 / 98"
    assert "demo: 2×2 window sum" in demo.inner_text(f"{ROOT} .lvp-title")
    for label in ("Play", "Step forward", "Step back", "First frame", "Last frame"):
        assert demo.locator(f"{ROOT} button[aria-label='{label}']").count() == 1


def test_step_buttons_change_frame_caption_and_python(demo):
    first = caption(demo)
    demo.click(f"{ROOT} button[aria-label='Step forward']")
    wait_frame(demo, 1)
    assert caption(demo) != first and caption(demo).startswith("y[0,0,1] = ")
    assert demo.inner_text(f"{ROOT} .lvp-counter") == "2 / 98"
    # The kernel hears about a step at once.
    demo.wait_for_selector(".lv-python-frame:has-text('python frame: 1')", timeout=5000)
    demo.click(f"{ROOT} button[aria-label='Step back']")
    wait_frame(demo, 0)
    assert caption(demo) == first
    demo.click(f"{ROOT} button[aria-label='Last frame']")
    wait_frame(demo, 97)
    assert caption(demo).startswith("y[1,6,6] = ")
    demo.click(f"{ROOT} button[aria-label='First frame']")
    wait_frame(demo, 0)


def test_python_sets_frame(demo):
    demo.click(".lv-python-jump")
    wait_frame(demo, 50)
    assert caption(demo).startswith("y[1,0,1] = ")  # frame 50 = channel 1, row 0, col 1


def test_keyboard(demo):
    demo.focus(ROOT)
    for _ in range(3):
        demo.keyboard.press("ArrowRight")
    wait_frame(demo, 3)
    demo.keyboard.press("ArrowLeft")
    wait_frame(demo, 2)
    demo.keyboard.press("End")
    wait_frame(demo, 97)
    demo.keyboard.press("Home")
    wait_frame(demo, 0)
    demo.keyboard.press(" ")
    demo.wait_for_selector(f"{ROOT}[data-playing='true']", timeout=2000)
    demo.wait_for_function(f"() => Number(document.querySelector('{ROOT}').dataset.frame) >= 2", timeout=5000)
    demo.keyboard.press(" ")
    demo.wait_for_selector(f"{ROOT}[data-playing='false']", timeout=2000)
    k = frame(demo)
    demo.wait_for_timeout(400)
    assert frame(demo) == k  # paused
    # The kernel got the frame at once on pause.
    demo.wait_for_selector(f".lv-python-frame:has-text('python frame: {k}')", timeout=5000)
    # Space on a focused step button plays too (and does not also step).
    demo.focus(f"{ROOT} button[aria-label='Step forward']")
    demo.keyboard.press(" ")
    demo.wait_for_selector(f"{ROOT}[data-playing='true']", timeout=2000)
    demo.keyboard.press(" ")
    demo.wait_for_selector(f"{ROOT}[data-playing='false']", timeout=2000)


def test_scrub_slider(demo):
    demo.fill(f"{ROOT} input[type=range]", "40")
    wait_frame(demo, 40)
    assert demo.inner_text(f"{ROOT} .lvp-counter") == "41 / 98"
    demo.wait_for_selector(".lv-python-frame:has-text('python frame: 40')", timeout=5000)


def test_play_tells_the_kernel_nothing_until_pause(demo):
    demo.select_option(f"{ROOT} select", "30")
    demo.wait_for_timeout(300)
    sent = demo.sent_messages
    before_draws = int(demo.get_attribute(ROOT, "data-drawn"))
    demo.click(f"{ROOT} button[aria-label='Play']")
    demo.wait_for_timeout(300)  # the press of Play itself (playing = True) is sent at once
    before_msgs = len(sent)
    demo.wait_for_timeout(2000)
    draws = int(demo.get_attribute(ROOT, "data-drawn")) - before_draws
    assert demo.get_attribute(ROOT, "data-playing") == "true"
    assert frame(demo) >= 40, frame(demo)  # ~30 fps for 2.3 s
    assert draws >= 40
    assert len(sent) == before_msgs, sent[before_msgs:]  # not a message while playing
    # Pause sends the frame shown: the kernel's player.frame is that frame.
    demo.click(f"{ROOT} button[aria-label='Pause']")
    demo.wait_for_selector(f"{ROOT}[data-playing='false']", timeout=2000)
    k = frame(demo)
    demo.wait_for_selector(f".lv-python-frame:has-text('python frame: {k}')", timeout=5000)
    assert len(sent) > before_msgs
    # Playing to the end stops there, and the kernel hears the last frame.
    demo.click(f"{ROOT} button[aria-label='Play']")
    demo.wait_for_selector(f"{ROOT}[data-playing='false']", timeout=10000)
    assert frame(demo) == 97
    assert re.match(r"y\[1,6,6\]", caption(demo))
    demo.wait_for_selector(".lv-python-frame:has-text('python frame: 97')", timeout=5000)


def test_dragging_the_slider_tells_the_kernel_only_on_release(demo):
    sent = demo.sent_messages
    demo.wait_for_timeout(300)
    before = len(sent)
    for value in (10, 20, 30):  # "input" events, as while dragging
        demo.evaluate(f"""() => {{ const s = document.querySelector('{ROOT} input[type=range]');
                                  s.value = '{value}'; s.dispatchEvent(new Event('input', {{bubbles: true}})); }}""")
        wait_frame(demo, value)
    demo.wait_for_timeout(500)
    assert len(sent) == before
    demo.evaluate(f"() => document.querySelector('{ROOT} input[type=range]').dispatchEvent(new Event('change'))")
    demo.wait_for_selector(".lv-python-frame:has-text('python frame: 30')", timeout=5000)
