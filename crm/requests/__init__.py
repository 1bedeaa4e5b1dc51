"""Requests filed by agents for partner companies, and their call history."""
