"""The unit tests of utils (a package, so that a test can import a helper as tests.test_x even where
another package named tests is on sys.path, as IPython 7 puts its extensions folder)."""
