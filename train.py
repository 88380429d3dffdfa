"""Entry point: see `genstyle.cli.train`."""

from genstyle.cli.train import main

if __name__ == "__main__":
    main()
