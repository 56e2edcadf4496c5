"""Operations: health of the database, Redis, workers and the cron process."""
