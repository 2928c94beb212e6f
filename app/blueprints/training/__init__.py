"""Training: preview a request, run the AutoML search as a job, keep and manage the models."""
