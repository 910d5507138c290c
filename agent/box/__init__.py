"""The generated tests' run: the test process, its gate, the target's environment, the box."""
