"""Agent inbox: login, conversation list, conversation page, realtime updates."""
