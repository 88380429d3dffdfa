"""Entry point: see `genstyle.cli.generate`."""

from genstyle.cli.generate import main

if __name__ == "__main__":
    main()
