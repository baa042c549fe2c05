"""Channel adapters: one package per provider behind the protocol in base.py.

This package knows nothing of conversations or policy: it verifies, parses and sends.
"""
