"""Screenshots of the MLflow UI, TensorBoard, report.html and the docs site, by headless Chromium.

Chromium's own `--screenshot` shoots once the page's first load ends, before the MLflow UI and
TensorBoard have fetched their data; this drives it through the DevTools protocol instead: open
the page, wait, optionally click (a button by its label, a text), zoom out and scroll to an
element, wait again, then save the viewport as a PNG. Only 127.0.0.1 addresses and local files
are opened.

    apt-get install -y chromium     # Debian's package; run as root: --no-sandbox
    .venv/bin/python scripts/screenshot.py 'http://127.0.0.1:5000/#/...' docs/x.png --wait 20

Needs `websocket-client` (in .venv with the Ray or notebook extras) and Pillow (Matplotlib's).
"""

import argparse
import base64
import io
import json
import subprocess
import tempfile
import time
import urllib.request

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="http://127.0.0.1:... or file:///...")
    parser.add_argument("out", help="the PNG to write")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--wait", type=float, default=15.0, help="seconds before the shot")
    parser.add_argument(
        "--press", action="append", default=[], help="click the buttons whose label has this"
    )
    parser.add_argument(
        "--click", action="append", default=[], help="click the texts that start with this"
    )
    parser.add_argument("--zoom", type=float, default=1.0, help="the page's zoom, e.g. 0.8")
    parser.add_argument(
        "--scroll-to", default=None, help="scroll the first element this CSS selector matches"
    )
    parser.add_argument(
        "--margin", type=int, default=0, help="with --scroll-to: pixels left above the element"
    )
    parser.add_argument("--port", type=int, default=9333, help="Chromium's DevTools port")
    parser.add_argument("--colors", type=int, default=128, help="a palette this small (0: RGB)")
    return parser.parse_args()


class DevTools:
    """One page of a Chromium started with --remote-debugging-port."""

    def __init__(self, port):
        import websocket

        for _ in range(60):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as response:
                    pages = [p for p in json.load(response) if p["type"] == "page"]
                if pages:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        self.socket = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=120)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})


def _interactions(args):
    """JavaScript for `--press`, `--click`, `--zoom` and `--scroll-to`, in that order."""
    lines = [
        "[...document.querySelectorAll('button')].filter(b => (b.getAttribute('aria-label')"
        f" || '').toLowerCase().includes({json.dumps(label.lower())})).forEach(b => b.click());"
        for label in args.press
    ]
    lines += [
        "[...document.querySelectorAll('*')].filter(e => !e.children.length && "
        f"e.textContent.trim().startsWith({json.dumps(text)})).forEach(e => e.click());"
        for text in args.click
    ]
    if args.zoom != 1.0:
        lines.append(f"document.body.style.zoom = '{args.zoom}';")
    if args.scroll_to:
        lines.append(
            f"window.scrollTo(0, document.querySelector({json.dumps(args.scroll_to)})"
            f".getBoundingClientRect().top + window.scrollY - {args.margin});"
        )
    return "\n".join(lines)


def _save(png, out, colors):
    """Writes the PNG, with a palette of `colors` colours: a UI shot stays small and sharp."""
    if not colors:
        with open(out, "wb") as file:
            file.write(png)
        return
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=colors, dither=Image.Dither.NONE).save(out, optimize=True)


def main():
    args = _arguments()
    if not args.url.startswith(("http://127.0.0.1:", "file:///")):
        raise SystemExit(f"Only 127.0.0.1 and local files: {args.url}")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        chromium = subprocess.Popen(
            [
                "chromium",
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--remote-debugging-port={args.port}",
                f"--window-size={args.width},{args.height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            page = DevTools(args.port)
            page.call("Page.navigate", url=args.url)
            time.sleep(args.wait)
            script = _interactions(args)
            if script:
                page.call("Runtime.evaluate", expression=script)
                time.sleep(args.wait / 2)
            shot = page.call("Page.captureScreenshot", format="png")
            _save(base64.b64decode(shot["data"]), args.out, args.colors)
        finally:
            chromium.terminate()
            chromium.wait(timeout=30)


if __name__ == "__main__":
    main()
