"""Entry point: see `genstyle.cli.stylize`."""

from genstyle.cli.stylize import main

if __name__ == "__main__":
    main()
