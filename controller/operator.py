"""The kube layer (placeholder until its branch lands): kopf handlers."""
