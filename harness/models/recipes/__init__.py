"""Recipes that build model variants (quantized, converted) from the models the packages ship."""
