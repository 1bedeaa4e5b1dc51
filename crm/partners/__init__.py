"""Partner companies, their managers, agents and the call log: the admin's side."""
