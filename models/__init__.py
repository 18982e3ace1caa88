"""Reference processes: the directed-percolation family and random deep networks.

Importing this package registers every built-in model (``absorbphys models`` lists them).
"""

# One import line per model module (each module registers its classes with @register).
from absorbphys.models import cnn, meanfield, mlp  # noqa: E402,F401  (networks)
from absorbphys.models.cnn import CNN  # noqa: E402
from absorbphys.models.contact import ContactProcess, MeanFieldContactProcess  # noqa: E402
from absorbphys.models.dk import DirectedPercolation, DomanyKinzel  # noqa: E402
from absorbphys.models.layerstack import LayerStack  # noqa: E402  (user-defined networks)
from absorbphys.models.meanfield import MeanFieldNetwork  # noqa: E402
from absorbphys.models.mlp import MLP  # noqa: E402
from absorbphys.models.resmlp import ResMLP  # noqa: E402

__all__ = ["CNN", "ContactProcess", "DirectedPercolation", "DomanyKinzel", "LayerStack", "MLP",
           "MeanFieldContactProcess", "MeanFieldNetwork", "ResMLP"]
