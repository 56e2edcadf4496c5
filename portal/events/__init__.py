"""Events (seminars, gradings, camps) and their pages; each lists its training sessions."""
