"""The local runtime: the whole system on one machine (moto + functions + HTTP gateway).

`python -m devtools.local up|demo|bench|publish|invoke|logs|dlq|trace|status|faults`;
see README.md in this folder.
"""
