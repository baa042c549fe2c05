"""Agent assist: what an agent taking over a conversation needs at a glance (summary, what the bot
understood, collected slots, why it was handed over), suggested replies, and optional LLM drafts."""
