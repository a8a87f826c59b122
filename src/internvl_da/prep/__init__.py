"""Data preparation: sample data, DriveLM stitching/conversion, remote sensing, medical, meta."""
