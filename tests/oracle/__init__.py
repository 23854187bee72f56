"""The plain verify path as it was before it was made fast: the test oracle.

Copies of verify/domain's claims, names, name_text, name_airline, dates, cards, verdict and
qr modules as they stood before the per-item CPU work of issue #10 (memoised normalisation,
shared frozen results, one-construction ``evaluate``), imports pointing at each other.
tests/unit/domain/test_fast_path.py checks over generated inputs that the optimised
modules give exactly their answers and errors. Never imported by the service.
"""
