"""`make bench`: the throughput ceiling of the API against naive servers, measured with wrk."""
