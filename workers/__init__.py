"""Long-running worker processes other than the web and the scheduler: the inbox worker."""
