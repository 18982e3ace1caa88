import os

os.environ.setdefault("ABSORBPHYS_PROGRESS", "0")
