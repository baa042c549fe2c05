"""The send gate: every outbound message passes `gate.decide`. This package decides; it never sends."""
