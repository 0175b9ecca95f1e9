"""The local sandbox (placeholder until its branch lands): Kubernetes API emulator and moto."""
