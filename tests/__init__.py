from pathlib import Path

# The checkout: tests run commands (manage.py, the Procfile's lines) from here.
ROOT = Path(__file__).resolve().parent.parent
