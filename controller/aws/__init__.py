"""The AWS layer: makes ELBv2, EC2 and ACM match a `Stack` (Route 53 lives in `route53.py`).

`Deployer` is the entry point the kube layer calls; `AwsClients` is the one boto3 session and
client factory (rate limits, retries and the call counter); `AwsError` is the only exception
the layer lets out for AWS failures.
"""
