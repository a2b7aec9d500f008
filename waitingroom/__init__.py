"""The virtual waiting room: tickets, passes, the Redis store and the admission controller.

No HTTP lives here; the gateway package builds on it. See ../shared/DESIGN.md for the mechanism.
"""
