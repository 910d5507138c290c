"""The service's routes, one router per resource."""
