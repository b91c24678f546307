"""``python -m axonal`` runs the ``axonal`` command (and lets ``torchrun -m axonal train ...`` start it)."""
from .cli import app

app(prog_name="axonal")
