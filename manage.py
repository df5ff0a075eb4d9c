#!/usr/bin/env python
"""Django's command line for a checkout; installed, the same is the `gatehouse` command."""

from project.cli import main

if __name__ == "__main__":
    main()
