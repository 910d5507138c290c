"""Builds driven from GitHub: webhook events, issue → pull request, review → commit."""
