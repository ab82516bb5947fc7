"""Unknown URLs under /api/: scripts get JSON, not an HTML page."""

import pytest


@pytest.mark.django_db
def test_unknown_api_url_answers_json_404(user_client):
    response = user_client.get("/api/devices/")  # trailing slash: no such endpoint
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not found"
