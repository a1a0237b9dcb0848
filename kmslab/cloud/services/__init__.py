"""Service modules behind the gateway (each answers one AWS service's protocol)."""
