"""Task pipelines of the zoo: data in, trained, evaluated and exported models out.

Each task is a click group run as `python -m pipelines.<task>`; the shared machinery (text,
data, training, export) lives beside them. The tasks arrive with their own issues.
"""
