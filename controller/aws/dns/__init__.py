"""Route 53 alias records for rule hosts, built like external-dns.

`zones` finds the hosted zone for a host, `registry` says which records are ours (the
ownership TXT records), `plan` turns desired and live records into changes (pure), and
`provider` makes the Route 53 calls. `controller.aws.route53.Route53Dns` ties them together.
"""
