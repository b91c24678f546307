"""Export and import: NIR (``axonal.export.to_nir`` / ``from_nir``) and the small layers NIR
needs that the rest of axonal does not have (``axonal.export.layers``)."""
from .layers import Delay, Scale, SumPool2d, Threshold
from .nir import NIRExportError, NIRImportError, from_nir, to_nir
from . import pynn  # noqa: F401  (PyNN: NEST, SpiNNaker; axonal.export.pynn, imported on use of pyNN only)

__all__ = ["to_nir", "from_nir", "NIRExportError", "NIRImportError", "Delay", "Scale", "SumPool2d",
           "Threshold"]
