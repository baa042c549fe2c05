"""Touchpoint: customer messaging across every channel, with one send gate and a bot that hands over."""

__version__ = "0.1.0"
