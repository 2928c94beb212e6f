"""Predictions: JSON rows, batch files, reasons, and the samples kept for monitoring."""
