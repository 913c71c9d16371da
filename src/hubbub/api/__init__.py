"""The REST API (base path /v1): thin handlers over the services."""
