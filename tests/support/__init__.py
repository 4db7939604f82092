"""Helpers shared by every test folder: import them from here, never from a conftest.

- `support.jwt`: base64url, hand-forged HS256 tokens (standard library only), `bearer`.
- `support.clock`: `Clock`, the one fake clock (callable for the time, `.now`, `.advance`).
- `support.processes`: `AppProcess` and `Launcher` (servers in their own process group),
  `run_python` (commands that exit), `clean_environ`, `wait_until`, `eventually`,
  `with_database`, `free_port`.
- `support.settings`: `make_settings`, the one `Settings` builder for apps under test.
- `support.plugins`: what tests/plugins' fixtures hand to its tests.

tests/ itself is not a package: pytest puts it on sys.path for tests/conftest.py (rootdir
conftest, "prepend" import mode), so `from support.jwt import bearer` resolves from every
folder, also when one is run alone (`pytest tests/fuzz`). Nothing here is a fixture.
"""
