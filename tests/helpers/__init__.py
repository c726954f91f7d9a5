"""Code the test modules share (fixtures stay in tests/conftest.py).

data: where the repository and the real data are, test-only CIFAR-2 tensors; ingest: run an
ingest function and load its outputs, edited copies, the bad-input assertion; cifar10: the
official CIFAR-10 python batches and archive written from tensors; http_server: a local HTTP
server with failure modes; config: config.yaml, alone or with config/quick.yaml merged over it;
workflow: run Snakemake on this checkout.
"""
