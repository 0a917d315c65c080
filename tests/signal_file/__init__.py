"""A test app for task worker processes: it appends every order signal to a file, so the test that started the
workers can count what they sent."""
