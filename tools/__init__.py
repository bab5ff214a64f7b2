"""The tools around the four implementations; compare.py is their command line.

    tables  the default run: side-by-side tables of predictions, gradients, losses, cost, concepts
    check   the cross-check kit: conformance of any implementation, drift ledger, golden trace
    digits  the handwritten-digit one-vs-rest experiment
    bench   the benchmark of every implementation on every workload
    cli     what every mode shares: its argument parser and its one-line errors
"""
