"""Allow `python -m fer_edge`."""

from fer_edge.cli import main

main()
