"""Reference processes: the directed-percolation family and random deep networks.

Importing this package registers every built-in model (``absorbphys models`` lists them).
"""

# One import line per model module (each module registers its classes with @register).
