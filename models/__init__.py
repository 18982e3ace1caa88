"""Reference processes: directed-percolation family and random deep networks."""
