"""The AWS layer: makes AWS hold what a `Stack` describes (ELBv2, EC2, Route 53, ...).

Only this package (and the sandbox) imports boto3/botocore; it never reads Kubernetes.
"""
