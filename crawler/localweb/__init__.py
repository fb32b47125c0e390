"""A web of made-up hosts served on 127.0.0.1: the demo's, and the tests'."""
