"""Web chat widget endpoints: session, messages over WebSocket with an HTTP fallback."""
