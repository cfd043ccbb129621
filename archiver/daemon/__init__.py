"""The capture daemon: APScheduler wiring over the same Poller the CLI uses."""
