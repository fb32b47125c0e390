"""``python -m crawler`` runs the permitcrawl command line."""

from crawler.cli import main

main()
