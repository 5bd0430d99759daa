"""GET views that may write (a results refresh, a cache, an overdue attempt, a view
count) take SQLite's write lock when their transaction begins, like unsafe
requests; a deferred read snapshot that later writes fails with "database is
locked" once anyone else has committed in between (here: the token's last-used
time, written in its own short transaction by read-only requests)."""

from proving_ground.db import request_writes


def test_a_fresh_token_can_read_results_that_refresh(
    app, make_experiment, make_user, make_token
):
    experiment = make_experiment()
    reader = make_user("manager")
    auth = {"Authorization": f"Bearer {make_token(reader)}"}
    client = app.test_client()
    for path in ("results", "results.csv", "attribution"):
        response = client.get(
            f"/api/v1/experiments/{experiment['key']}/{path}", headers=auth
        )
        assert response.status_code == 200, (path, response.get_data(as_text=True))


def test_marked_views_write_and_plain_reads_do_not(app):
    with app.test_request_context("/api/v1/experiments/x/results"):
        assert request_writes()
    with app.test_request_context("/api/v1/experiments/x/attribution"):
        assert request_writes()
    with app.test_request_context("/experiments/x/results"):
        assert request_writes()
    with app.test_request_context("/api/v1/experiments"):
        assert not request_writes()
    with app.test_request_context("/api/v1/experiments", method="POST"):
        assert request_writes()
