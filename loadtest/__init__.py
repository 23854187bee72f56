"""Load tests: locust scenarios for the users of DESIGN.md, run by `make loadtest`."""
