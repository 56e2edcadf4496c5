"""Seats, waitlist, joining and attendance of training sessions (models in portal.training.models)."""
