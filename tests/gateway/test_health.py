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


@pytest.mark.django_db
def test_readyz_tells_an_anonymous_caller_names_and_states_but_no_addresses(client, settings, caplog):
    """Issue 15, item 14: the reason a dependency failed ("connecting to 127.0.0.1:9") goes to the
    log and to the metrics-token holder, not to anyone who asks."""
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:9//"
    settings.GATEHOUSE_GRPC_TARGETS = {**settings.GATEHOUSE_GRPC_TARGETS, "permissions": "127.0.0.1:9"}
    settings.GATEHOUSE_METRICS_TOKEN = "scraper-token-0123456789"
    with caplog.at_level("WARNING", logger="gateway.health"):
        anonymous = client.get("/readyz")
    assert anonymous.status_code == 503
    assert anonymous.json()["checks"]["broker"] == {"status": "error"}
    assert anonymous.json()["checks"]["grpc:permissions"] == {"status": "error"}
    assert "127.0.0.1" not in anonymous.content.decode()
    assert any("broker" in r.getMessage() and "Error" in r.getMessage() for r in caplog.records)

    wrong = client.get("/readyz", headers={"Authorization": "Bearer not-the-token"})
    assert "error" not in wrong.json()["checks"]["broker"]
    operator = client.get("/readyz", headers={"Authorization": "Bearer scraper-token-0123456789"})
    assert operator.json()["checks"]["broker"]["status"] == "error"
    assert operator.json()["checks"]["broker"]["error"]
