"""Use cases: what a request or a frame means, in terms of the ports. No sockets here."""
