"""The WebSocket gateway: device connections, the local hub, and the socket glue."""
