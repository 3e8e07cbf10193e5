"""Accepts every record: the benchmark measures the runtime, not the handler."""


def handler(event, context):
    return {"batchItemFailures": []}
