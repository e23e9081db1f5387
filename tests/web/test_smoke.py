"""First checks that the app starts and serves its pages."""


def test_login_page_renders_with_labels(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<label for="email">Email</label>' in html
    assert '<label for="password">Password</label>' in html


def test_home_requires_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_signed_in_agent_lands_on_the_dashboard(as_agent):
    assert as_agent.get("/").headers["Location"] == "/dashboard"
    response = as_agent.get("/dashboard")
    assert response.status_code == 200
    assert as_agent.user.name in response.get_data(as_text=True)
