"""Entry point: see `genstyle.cli.rate`."""

from genstyle.cli.rate import main

if __name__ == "__main__":
    main()
