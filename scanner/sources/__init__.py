"""Sources: turn a TARGET into artifacts, manifests and integrity findings."""
