"""``python -m facerec`` runs the CLI."""
from facerec.cli.main import main

main()
