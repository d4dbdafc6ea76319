"""Fleet runs: one experiment on many devices from one host, over Ansible (through ansible-runner), gathered into one store.

- ``args``: the ``arbench fleet`` command line; ``commands``: setup, status and what the commands share;
  ``running``: ``arbench fleet run`` (start, poll, gather, resume);
- ``engine``: ansible-runner, strict host keys, each host's outcome and fault;
- ``plays``: the plays, as dicts of argv commands; ``bundle``: what setup ships (source, models, wheelhouse);
- ``record``: the fleet's records here, clock offsets, gathering runs into the store;
- ``shard``: splitting an experiment across identical hosts and merging the pieces;
- ``remote``: what the plays run on a device (probe, models, one benchmark under the device lock, pack);
- ``fanout``: the fan-out benchmark (``python -m harness.fleet.fanout``).
"""
