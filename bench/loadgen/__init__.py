"""The one load client every Hubbub benchmark drives its servers with.

    frames.py    the wire frames a client receives (msgspec structs) and sends (bytes)
    device.py    `Device`: one picows client socket speaking the protocol, and `Tally`
    net.py       connecting many devices (bounded), loopback source addresses, fd limits
    accounts.py  sign-ups and log-ins over REST, contacts and groups
    measure.py   /proc CPU and RSS, CPU pinning, latency percentiles, CPU-per-work reports
    server.py    starting and stopping a server process, its log, its /metrics
    timeline.py  per-second samples, the progress bar and the PNG plots

The scenarios that use it live in bench/scenarios/; bench/*.py are entry points only.
"""
