"""The `pipelines.records` command line; the library is `pipelines.data.records`."""
