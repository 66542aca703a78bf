pytest_plugins = ["doudi.testing.fixtures"]
