"""Log formats: one module per family, each parsing a block of whole lines into an Arrow table."""
