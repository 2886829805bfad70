"""One forward pass over each artifact: members to FileEntries, FileEntries to analyzers."""
