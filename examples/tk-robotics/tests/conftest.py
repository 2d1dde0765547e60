pytest_plugins = ["transferkit.testing.fixtures"]
