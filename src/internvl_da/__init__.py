"""internvl-da: reproducible Mini-InternVL domain adaptation."""

__version__ = "0.1.0"
