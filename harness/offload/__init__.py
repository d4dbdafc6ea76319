"""Offloading, the device's side: placements and networks, the client that counts wire bytes, what leaves the device.

The server it talks to is ``harness.server`` (``arbench serve``), which runs the same stage code.
"""
