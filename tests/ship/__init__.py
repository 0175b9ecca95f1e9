"""Tests of the shipping artefacts: the image, the manifests, the IAM policy and role."""
