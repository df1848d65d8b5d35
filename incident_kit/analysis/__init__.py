"""Analysis on canonical frames: incident window, what changed, signatures, hypotheses, severity, timeline."""
