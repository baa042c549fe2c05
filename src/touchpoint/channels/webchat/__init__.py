"""First-party web chat: widget.js talks to our own endpoints (see webchat/api in the product)."""
