#!/usr/bin/env python3
"""Renders the HTML power-efficiency report in headless Chromium and checks the rendered DOM has its four charts,
each an inline SVG with bars of non-zero size; then takes a screenshot and checks it is a PNG.

Usage: check_rendered_report.py WRITE_REPORT_PROGRAM
Exits 77 (Meson's "skipped") when no Chromium is installed (Debian: apt-get install chromium)."""
import html.parser
import os
import shutil
import subprocess
import sys
import tempfile

CHARTS = ["chart-latency", "chart-batch-size", "chart-flush-reasons", "chart-power"]


class ChartCounter(html.parser.HTMLParser):
    """Counts, per chart figure, the <svg> elements and the <rect class="bar"> with a positive width and height."""

    def __init__(self):
        super().__init__()
        self.stack = []  # open elements: (tag, chart id or None)
        self.svgs = {c: 0 for c in CHARTS}
        self.bars = {c: 0 for c in CHARTS}
        self.zero_bars = {c: 0 for c in CHARTS}
        self.scripts = 0

    def current_chart(self):
        for _, chart in reversed(self.stack):
            if chart:
                return chart
        return None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        chart = a.get("id") if tag == "figure" and a.get("id") in CHARTS else None
        inside = chart or self.current_chart()
        if tag == "script":
            self.scripts += 1
        if inside and tag == "svg":
            self.svgs[inside] += 1
        if inside and tag == "rect" and "bar" in a.get("class", "").split():
            if float(a.get("height", "0")) > 0 and float(a.get("width", "0")) > 0:
                self.bars[inside] += 1
            else:
                self.zero_bars[inside] += 1
        if tag not in ("meta", "br", "img", "input", "link", "hr") and not tag.endswith("/"):
            self.stack.append((tag, chart))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium:
        print("SKIP: no chromium on PATH (Debian: apt-get install chromium)")
        return 77
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.argv[1], folder], check=True)
        report = os.path.join(folder, "report.html")
        common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + os.path.join(folder, "profile"),
                  "--no-first-run", "--window-size=1280,1800"]
        dom = subprocess.run(common + ["--dump-dom", "file://" + report], capture_output=True, text=True, timeout=120)
        if dom.returncode != 0 or "<figure" not in dom.stdout:
            print("chromium --dump-dom failed (exit %d):\n%s" % (dom.returncode, dom.stderr[-2000:]))
            return 1
        counter = ChartCounter()
        counter.feed(dom.stdout)
        failed = False
        for chart in CHARTS:
            print("%-20s svg: %d, bars drawn: %d, zero-size bars: %d" %
                  (chart, counter.svgs[chart], counter.bars[chart], counter.zero_bars[chart]))
            if counter.svgs[chart] == 0 or counter.bars[chart] == 0:
                print("FAIL: chart %s is missing or empty in the rendered DOM" % chart)
                failed = True
        if counter.scripts:
            print("FAIL: the report contains <script>")
            failed = True

        shot = os.path.join(folder, "report.png")
        taken = subprocess.run(common + ["--screenshot=" + shot, "file://" + report], capture_output=True, text=True,
                               timeout=120)
        with open(shot, "rb") if os.path.exists(shot) else open(os.devnull, "rb") as f:
            header = f.read(8)
        if taken.returncode != 0 or header != b"\x89PNG\r\n\x1a\n" or os.path.getsize(shot) < 10000:
            print("FAIL: chromium --screenshot did not produce a PNG (exit %d)" % taken.returncode)
            failed = True
        else:
            print("screenshot: %d bytes" % os.path.getsize(shot))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
