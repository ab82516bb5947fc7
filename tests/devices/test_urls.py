"""Unknown URLs under /api/: scripts get JSON, not an HTML page."""

import pytest


@pytest.mark.django_db
def test_unknown_api_url_answers_json_404(user_client):
    # ("/api/devices/" is the device list now: iot-api-ui asks for it with the slash.)
    response = user_client.get("/api/no-such-endpoint/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not found"
