"""The scheduler: a loop that reads the clock and the database, asks the pure core, persists, and
hands task attempts to an executor."""
