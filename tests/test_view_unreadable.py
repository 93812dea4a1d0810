"""A runs folder the view cannot read is a page that says why, never an HTTP 500."""

from __future__ import annotations

import shutil

from fastapi.testclient import TestClient

from smolopt.view.app import create_app


def test_a_runs_folder_gone_while_the_view_runs_is_a_page_saying_so(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    client = TestClient(create_app(runs))
    assert client.get("/").status_code == 200
    shutil.rmtree(runs)
    gone = client.get("/")
    assert gone.status_code == 503 and "the runs folder is not there any more" in gone.text and str(runs) in gone.text


def test_a_runs_folder_that_cannot_be_listed_is_a_page_with_the_reason(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    runs.mkdir()
    client = TestClient(create_app(runs))

    def refuse(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(runs), "iterdir", refuse)
    denied = client.get("/")
    assert denied.status_code == 503 and "cannot read the runs folder (Permission denied)" in denied.text
