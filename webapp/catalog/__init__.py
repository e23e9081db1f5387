"""The catalogue: categories, products (and who may sell them), customers."""
