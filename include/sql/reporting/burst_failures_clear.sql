DELETE FROM burst_failures
