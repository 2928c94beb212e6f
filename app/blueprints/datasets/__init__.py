"""Datasets: upload, explore, profile, clean."""
