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


@pytest.mark.django_db
def test_readyz_is_503_and_names_the_dependency_that_is_down(client, settings):
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:9//"  # nothing listens on port 9
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db
def test_readyz_checks_each_split_out_grpc_service(client, settings):
    settings.GATEHOUSE_GRPC_TARGETS = {**settings.GATEHOUSE_GRPC_TARGETS, "permissions": "127.0.0.1:9"}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["grpc:permissions"]["status"] == "error"
