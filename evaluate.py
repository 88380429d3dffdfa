"""Entry point: see `genstyle.cli.evaluate`."""

from genstyle.cli.evaluate import main

if __name__ == "__main__":
    main()
