"""HTTP resources, one noun a module; collaborators come in through `__init__`."""
