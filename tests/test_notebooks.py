"""Every teaching notebook runs top to bottom, headless, against the test head, with no error."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
FINAL_WORD = {"03_pipelines.ipynb": "COMPLETED"}  # what a notebook's outputs show when it worked


def problems(nb: nbformat.NotebookNode) -> list[str]:
    found = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html", "")
            if out.output_type == "error" or "raynb-error" in html:
                found.append(f"cell {index}: {out.get('ename') or out.get('data', {}).get('text/plain')}")
            elif out.output_type == "stream" and out.name == "stderr" and "Traceback" in out.text:
                found.append(f"cell {index}: traceback on stderr")
    return found


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_clean(path: Path, dashboard_url: str, monkeypatch) -> None:
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", dashboard_url)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    assert problems(nb) == []
    texts = "\n".join(str(o.get("data", {}).get("text/plain", o.get("text", "")))
                      for c in nb.cells for o in c.get("outputs", []))
    assert FINAL_WORD.get(path.name, "SUCCEEDED") in texts
