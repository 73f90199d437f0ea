"""Allow `python -m fer_edge`."""

from fer_edge.cli import main

if __name__ == "__main__":
    main()
