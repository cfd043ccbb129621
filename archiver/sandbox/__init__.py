"""Simulated platforms served over real HTTP on 127.0.0.1, for the demo and the tests."""
