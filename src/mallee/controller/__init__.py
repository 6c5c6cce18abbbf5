"""The cloud controller's backends: scheduling, the instance state machine, housekeeping.

One controller is active at a time (a lease in the database); others wait on standby.
"""
