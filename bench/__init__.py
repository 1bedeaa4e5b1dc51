"""`make bench`: the service's speed against a bare aiohttp ceiling, measured in one run."""
