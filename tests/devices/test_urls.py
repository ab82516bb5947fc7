"""Unknown URLs: scripts under /api/ get JSON, people get the site's 404 page."""

import pytest


@pytest.mark.django_db
def test_unknown_api_url_answers_json_404(user_client):
    response = user_client.get("/api/devices/")  # trailing slash: no such endpoint
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not found"


@pytest.mark.django_db
def test_unknown_page_answers_the_sites_404_page(user_client):
    response = user_client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"IoT Center" in response.content
