"""Autoencoders on MNIST: the library behind the DVC pipeline (stages/ call it; it never imports them)."""
