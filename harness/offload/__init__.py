"""Offloading stages to a server: the HTTP service, its client, placements and what leaves the device."""
