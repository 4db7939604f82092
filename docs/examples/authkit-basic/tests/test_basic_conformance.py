"""authkit's conformance suite (authkit.testing.StrategyConformance) run on BasicStrategy:
hostile requests never crash it, every Fail carries a challenge, nothing blocks the event
loop (bcrypt and pymongo run in worker threads), and right credentials succeed.
"""

from __future__ import annotations

import asyncio
import base64

import pytest
from authkit.plugin import AuthService, SignupCredentials
from starlette.requests import Request

from authkit_basic import BasicStrategy

pytest.importorskip("authkit.testing", reason="authkit.testing (the conformance kit) is missing")

from authkit.testing import StrategyConformance, make_request


class TestBasicConformance(StrategyConformance):
    @pytest.fixture
    def strategy(self, service: AuthService) -> BasicStrategy:
        return BasicStrategy(service)

    @pytest.fixture
    def valid_request(self, service: AuthService) -> Request:
        asyncio.run(service.sign_up(SignupCredentials("alice", "Passw0rd:x")))
        credentials = base64.b64encode(b"alice:Passw0rd:x").decode()
        request: Request = make_request(headers={"authorization": f"Basic {credentials}"})
        return request
