"""ganzoo's conformance kit as the ``ganzoo_kit`` fixture."""

pytest_plugins = ["ganzoo.pytest_plugin"]
