"""POST /webhooks/{channel}/{account}: verify the raw body, store each event once, answer 2xx at once."""
