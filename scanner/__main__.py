"""``python -m scanner`` runs the same CLI as ``panorama-gate``."""

from scanner.cli import main

raise SystemExit(main())
