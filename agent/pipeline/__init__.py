"""The build: the loop and its stages, the bundle, checks, code scan, wiring, result, report."""
