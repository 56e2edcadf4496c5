"""Training sessions: scheduling, lifecycle, seats, waitlist, joining and attendance."""
