"""Fleet runs: one experiment on many devices from one host, over Ansible (through ansible-runner), gathered into one store.

- ``args``: the ``arbench fleet`` command line; ``commands``: setup, run, status;
- ``engine``: ansible-runner, strict host keys, each host's outcome and fault;
- ``plays``: the plays, as dicts of argv commands; ``bundle``: what setup ships (source, models, wheelhouse);
- ``record``: the fleet's records here, clock offsets, gathering runs into the store;
- ``remote``: what the plays run on a device (probe, one benchmark under the device lock, pack a run).
"""
