"""The AWS layer (placeholder until its branch lands): makes AWS match a Stack."""
