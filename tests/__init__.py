"""People API test suite."""
