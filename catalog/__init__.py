"""The catalog: which models exist, their tasks and parameter rules, and prepared models' manifests.

Light (standard library only, `tokenizers` lazily for token counts): the API and the workers share it.
"""

from catalog.manifest import MANIFEST, prepared, read_manifest
from catalog.spec import DEFAULT_CATALOG, EMBEDDING_TASKS, TASKS, Catalog, CatalogError, ModelSpec

__all__ = [
    "DEFAULT_CATALOG",
    "EMBEDDING_TASKS",
    "MANIFEST",
    "TASKS",
    "Catalog",
    "CatalogError",
    "ModelSpec",
    "prepared",
    "read_manifest",
]
