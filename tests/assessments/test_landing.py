import pytest


@pytest.mark.parametrize("role", ["admin", "hr", "manager", "member"])
def test_landing_page_for_every_role(login_as, role):
    client = login_as(role)
    response = client.get("/assessments/")
    assert response.status_code == 200
    assert 'aria-current="page"' in response.get_data(as_text=True)


def test_landing_page_needs_sign_in(client):
    assert client.get("/assessments/").location.startswith("/login")
