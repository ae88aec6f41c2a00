"""The ``networkfed`` command line (Typer + Rich); the only layer that writes to the terminal."""
