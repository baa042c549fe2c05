"""Contacts: profiles, per-channel identities, consent records."""
