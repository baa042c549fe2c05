"""Custom API channel: the brand's own system (an app, a kiosk, another chat tool) as a channel."""
