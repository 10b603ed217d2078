"""One adapter per outside system, behind a small Protocol; the only code that sees boto3 or HTTP."""
