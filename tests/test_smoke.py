def test_home_page_renders_for_anonymous_visitors(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Training Portal" in response.data


def test_signed_in_member_sees_their_name(client, login_as):
    user = login_as("member", name="Aiko Tanaka")
    assert "Aiko Tanaka" in client.get("/").get_data(as_text=True)
    assert user.role == "member"
