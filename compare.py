"""Entry point: see `genstyle.cli.compare`."""

from genstyle.cli.compare import main

if __name__ == "__main__":
    main()
