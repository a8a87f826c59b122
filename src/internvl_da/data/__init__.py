"""Training data: InternVL formats, tiling, templates, dataset and packing."""
