"""Analysis suite: exponents, critical points, scaling, universality classes."""
