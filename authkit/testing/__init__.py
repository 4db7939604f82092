"""A test kit for strategy plugins: build requests, run strategies, check outcomes and conformance.

Depends on authkit and Starlette only; pytest is imported only by `StrategyConformance`'s
test methods, so `import authkit.testing` works anywhere. docs/writing-a-strategy.md
walks through a plugin tested with it.

Example:

    import pytest
    from authkit.strategies.jwt import JWTStrategy
    from authkit.testing import StrategyConformance, assert_fail, make_request, run

    def test_no_token_is_refused() -> None:
        outcome = run(JWTStrategy(issuer), make_request())
        assert_fail(outcome, challenge='Bearer realm="authkit"', message=None)

    class TestJWTConformance(StrategyConformance):
        @pytest.fixture
        def strategy(self) -> JWTStrategy:
            return JWTStrategy(issuer)

        @pytest.fixture
        def valid_request(self) -> Request:  # optional: a request that must succeed
            token = issuer.issue(user_id="6650…", username="alice")
            return make_request(headers={"authorization": f"Bearer {token}"})
"""

from authkit.testing.conformance import (
    ALLOWED_ERROR_STATUSES,
    BlockingCallOnEventLoop,
    StrategyConformance,
    check_authenticate_is_coroutine,
    check_conformance,
    check_fail_has_challenge,
    check_garbage_never_raises,
    check_name,
    check_no_blocking_io,
    check_valid_request,
    hostile_requests,
)
from authkit.testing.fake_requests import assert_fail, assert_success, make_request, run

__all__ = [
    "ALLOWED_ERROR_STATUSES",
    "BlockingCallOnEventLoop",
    "StrategyConformance",
    "assert_fail",
    "assert_success",
    "check_authenticate_is_coroutine",
    "check_conformance",
    "check_fail_has_challenge",
    "check_garbage_never_raises",
    "check_name",
    "check_no_blocking_io",
    "check_valid_request",
    "hostile_requests",
    "make_request",
    "run",
]
