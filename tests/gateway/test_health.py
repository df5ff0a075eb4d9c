import pytest


@pytest.mark.django_db
def test_healthz_answers_ok_while_the_process_serves(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_every_dependency(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert set(response.json()["checks"]) >= {"database", "cache", "broker"}
