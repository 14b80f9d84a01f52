"""Render examples/tour.ipynb as a user sees it and take a screenshot (docs/tour.png).

It executes the notebook in a kernel of this interpreter, lays its cells and outputs out as
one HTML page (the outputs' own HTML and SVG, as Jupyter shows them) and photographs it with
headless Chromium (Debian: apt-get install chromium). Not part of `make test`.

    .venv/bin/python docs/screenshot.py
"""

from __future__ import annotations

import html
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import nbclient
import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOUR = ROOT / "examples" / "tour.ipynb"
OUT = ROOT / "docs" / "tour.png"


def execute() -> nbformat.NotebookNode:
    with tempfile.TemporaryDirectory() as tmp:
        spec = pathlib.Path(tmp, "kernels", "theus-tour")
        spec.mkdir(parents=True)
        spec.joinpath("kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "theus tour", "language": "python"}))
        os.environ["JUPYTER_PATH"] = tmp
        nb = nbformat.read(TOUR, as_version=4)
        nbclient.NotebookClient(nb, kernel_name="theus-tour", timeout=120).execute()
        return nb


def page(nb: nbformat.NotebookNode) -> str:
    parts = ["<html><head><meta charset='utf-8'><style>body{font-family:sans-serif;max-width:1100px;margin:20px auto}"
             ".src{background:#f5f5f5;border-left:3px solid #1976d2;padding:6px 10px;white-space:pre;font-family:monospace;"
             "font-size:12px}.out{margin:6px 0 18px 12px}.md{margin:14px 0}</style></head><body>"]
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = cell.source.split("\n")
            title = ""
            if lines[0].startswith("# "):
                title, lines = f"<h2>{html.escape(lines[0][2:])}</h2>", lines[1:]
            text = html.escape("\n".join(lines).strip()).replace("\n\n", "<br><br>")
            parts.append(f"<div class='md'>{title}{text}</div>")
            continue
        parts.append(f"<div class='src'>{html.escape(cell.source)}</div><div class='out'>")
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/html" in data:
                parts.append(data["text/html"])
            elif "image/svg+xml" in data:
                parts.append(data["image/svg+xml"])
            elif "text/plain" in data:
                parts.append(f"<pre>{html.escape(data['text/plain'])}</pre>")
            elif out.get("output_type") == "stream":
                parts.append(f"<pre>{html.escape(out.get('text', ''))}</pre>")
        parts.append("</div>")
    parts.append("</body></html>")
    return "".join(parts)


def main() -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("docs/screenshot.py needs Chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory() as tmp:
        doc = pathlib.Path(tmp, "tour.html")
        doc.write_text(page(execute()), encoding="utf-8")
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--hide-scrollbars", "--window-size=1200,4200", f"--screenshot={OUT}", doc.as_uri()],
                       check=True, capture_output=True, timeout=120)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
