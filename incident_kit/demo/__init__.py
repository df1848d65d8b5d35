"""The demo environment: a real local incident to investigate (see :mod:`incident_kit.demo.environment`)."""
