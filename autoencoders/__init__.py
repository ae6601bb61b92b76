"""Autoencoders on MNIST: the library behind the DVC pipeline (stages/ call it; it never imports them)."""
import torch

# Flush denormal floats to zero. Adam's moments for weights whose gradient is exactly zero (dead
# ReLU units) decay into the denormal range, where x86 arithmetic is many times slower: deep2d's
# epochs slowed from 5 s to 8 s. Set at import, before torch starts its worker threads, because
# each thread keeps its own mode and the workers inherit it when they are created.
torch.set_flush_denormal(True)
