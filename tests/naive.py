"""Slow, obvious reference implementations that the fast kernels are compared with.

Sections are owned by different parts of the code base; keep each self-contained.
"""

import numpy as np

# ============================================================ lattice models (DK, DP, CP)

# ============================================================ networks (MLP, CNN)
