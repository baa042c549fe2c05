"""Conversations: the inbound processor, routing, assignment, status, handoff.

This is the only package that changes who owns a conversation.
"""
