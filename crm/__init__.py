"""The CRM domain: organizations, managers, agents, clients, requests and their calls."""
