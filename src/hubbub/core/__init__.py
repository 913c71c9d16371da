"""The pure core: rules and types with no I/O (no sockets, no disk, no clock reads
except where a caller passes the time in)."""
