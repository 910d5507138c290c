"""The build pipeline's parts (the loop moves here in the restructuring)."""
