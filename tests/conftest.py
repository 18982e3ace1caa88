import os

from hypothesis import settings

os.environ.setdefault("ABSORBPHYS_PROGRESS", "0")

# Deterministic property tests: the same examples on every machine and every run (CI must
# not depend on which random examples hypothesis happens to draw, nor on a local database).
settings.register_profile("absorbphys", derandomize=True, database=None, deadline=None,
                          print_blob=True)
settings.load_profile("absorbphys")
