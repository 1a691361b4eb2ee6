"""Interop tests against a real ATProto network (reference PLC + two PDSes); see README.md here."""
