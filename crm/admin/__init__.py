"""Admin pages that span domains: the call log, the audit log, API keys."""
