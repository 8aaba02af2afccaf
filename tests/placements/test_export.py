"""A trainee's "download all my data" includes what the talent pipeline holds about them."""
from __future__ import annotations

import io
import json
import zipfile

from tests.placements.test_retention import _full_round


def test_my_data_includes_consents_offers_and_placements(client, auth, world):
    _full_round(world)
    auth.login(world.students[0])
    response = client.get("/my/data.json")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    data = json.loads(text)
    assert data["consents"][0]["company"] == "경남정밀" and "거부할 권리" in data["consents"][0]["notice"]
    assert data["offers"][0]["status"] == "accepted"
    assert data["placements"][0]["follow_ups"] == [{"months": 6, "employed": True}]
    assert {c["skill"] for c in data["competencies"]} >= {"predictive_maintenance"}
    assert "훈련생1" not in text  # nothing about the other trainee
    archive = zipfile.ZipFile(io.BytesIO(client.get("/my/data.zip").data))
    assert any("consents" in name for name in archive.namelist())
