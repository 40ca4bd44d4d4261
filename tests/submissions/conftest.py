"""The notebooks here are submissions for tests/test_grade.py to grade (some loop for ever or
allocate without bound on purpose): nbval must not run them, nor doctest import make.py."""

collect_ignore_glob = ["*.ipynb", "make.py"]
