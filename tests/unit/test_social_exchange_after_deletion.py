"""An exchange code handed out just before its user deleted the account signs no one in:
the user is gone, so is any session or token for them."""

from __future__ import annotations

from unit.test_social import World, _link, _local_user, _password_sign_in, exchange


def test_a_code_issued_before_the_account_was_deleted_gives_no_tokens() -> None:
    world = World()
    _local_user(world, "alice")
    browser = world.browser()
    access = _password_sign_in(world, browser, "alice")
    _link(world, browser, access)
    code = world.sign_in(browser)["code"][0]
    gone = browser.request(
        "DELETE",
        "/auth/account",
        json={"password": "Passw0rd!x"},
        headers={"Authorization": f"Bearer {access}"},
    )
    assert gone.status_code == 204
    answer = exchange(browser, code)
    assert answer.status_code == 401, answer.text
    assert "accessToken" not in answer.json()
    assert world.db["auth_sessions"].count_documents({}) == 0
    # ... and the answer is one the OpenAPI document lists for the route.
    documented = world.browser().get("/openapi.json").json()
    assert "401" in documented["paths"]["/auth/oauth/exchange"]["post"]["responses"]
