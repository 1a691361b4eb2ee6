"""Fault injection for tests: a loopback reverse proxy that makes a real upstream misbehave on a seeded schedule."""
