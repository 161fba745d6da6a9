"""Errors mapped to HTTP once (web/errors.py): every error body has a title and a description."""


def test_falcon_routing_errors_carry_a_description_like_every_other_error(client):
    not_found = client.simulate_get("/inference/a%2Fb")
    assert not_found.status_code == 404
    assert not_found.json["description"]
    not_allowed = client.simulate_delete("/inference")
    assert not_allowed.status_code == 405
    assert "POST" in not_allowed.json["description"] and not_allowed.headers["allow"]
