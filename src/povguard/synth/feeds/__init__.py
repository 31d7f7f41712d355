"""Department feeds of the twin: specs, builders, defects and writers."""
