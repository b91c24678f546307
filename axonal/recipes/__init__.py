"""Built-in training recipes (YAML), listed by ``axonal recipes`` and ``axonal.config.available_recipes()``."""
