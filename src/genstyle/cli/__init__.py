"""Command-line entry points; each module has a `main` used by the scripts at the repo top."""
