from proving_ground import create_app


def test_health_ok(client, backend):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_health_503_when_sqlite_unreachable(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/db.sqlite",
        }
    )
    response = app.test_client().get("/api/v1/health")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"
    assert response.json["error"]["code"] == "service_unavailable"


def test_health_503_when_postgresql_unreachable(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "INSTANCE_PATH": str(tmp_path),
            # Port 1 on loopback: nothing listens, the connection is refused at once.
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        }
    )
    response = app.test_client().get("/api/v1/health")
    assert response.status_code == 503
    assert response.json["status"] == "error"
