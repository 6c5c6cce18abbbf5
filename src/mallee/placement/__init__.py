"""Placement arithmetic, shared by the controller's scheduler and the EC2 API.

What each node has left (usage), the public address pool (address_pool) and the MAC an
instance is placed with (macs).
"""
