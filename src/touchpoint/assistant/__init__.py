"""The assistant: what the bot says, and when it hands over to a person."""
