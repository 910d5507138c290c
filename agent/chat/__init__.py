"""Chat: conversation state, the rule-based and tool-calling assistants, the terminal."""
